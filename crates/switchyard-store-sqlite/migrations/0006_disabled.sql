-- An operator may disable an account: it keeps everything, but cannot log in (1) until enabled.
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
