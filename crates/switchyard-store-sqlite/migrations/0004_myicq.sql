-- MyICQ: who may add the user, the rest of its profile, and broadcasts.
ALTER TABLE accounts ADD COLUMN add_policy  INTEGER NOT NULL DEFAULT 0; -- 0 anyone, 1 ask first, 2 nobody
ALTER TABLE accounts ADD COLUMN country     TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN province    TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN city        TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN address     TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN zipcode     TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN email       TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN phone       TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN homepage    TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN about       TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN school      TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN occupation  TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN blood_type  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN face        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN age         INTEGER;
ALTER TABLE accounts ADD COLUMN email_key   TEXT    NOT NULL DEFAULT '';
-- The last broadcast the account has seen.
ALTER TABLE accounts ADD COLUMN broadcasts_seen INTEGER NOT NULL DEFAULT 0;

CREATE TABLE broadcasts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind      INTEGER NOT NULL,
    text      TEXT    NOT NULL,
    sent_at   INTEGER NOT NULL
);
