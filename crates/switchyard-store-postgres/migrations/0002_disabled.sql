-- An operator may disable an account: it keeps everything, but cannot log in until enabled.
ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
