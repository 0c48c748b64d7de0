-- What users tell about themselves. The *_key columns hold the lower-cased values searches
-- compare with: SQLite folds case for ASCII only, and names are often Cyrillic.
ALTER TABLE accounts ADD COLUMN first_name    TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN last_name     TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN sex           INTEGER NOT NULL DEFAULT 0; -- 0 unknown, 1 male, 2 female
ALTER TABLE accounts ADD COLUMN birthday      TEXT;                       -- YYYY-MM-DD
ALTER TABLE accounts ADD COLUMN city_id       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN country_id    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN location      TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN nickname_key  TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN first_name_key TEXT   NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN last_name_key TEXT    NOT NULL DEFAULT '';
UPDATE accounts SET nickname_key = lower(COALESCE(nickname, ''));
