-- Accounts. `id` is AUTOINCREMENT so ids are never reused; the MyICQ UIN is 10000 + id.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    nickname      TEXT,
    password      TEXT    NOT NULL,
    list_version  INTEGER NOT NULL DEFAULT 1, -- 1, so that a first SYN 0 always receives the lists
    privacy       INTEGER NOT NULL DEFAULT 0, -- 0 allow unlisted (BLP AL), 1 block unlisted (BLP BL)
    prompt        INTEGER NOT NULL DEFAULT 0, -- 0 ask (GTC A), 1 allow automatically (GTC N)
    created_at    INTEGER NOT NULL
);

-- Contact relations owner -> target; reverse lists are read through contacts_by_target.
CREATE TABLE contacts (
    owner_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    target_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    flags         INTEGER NOT NULL,
    display_name  TEXT    NOT NULL,
    PRIMARY KEY (owner_id, target_id)
) WITHOUT ROWID;
CREATE INDEX contacts_by_target ON contacts(target_id, owner_id);

CREATE TABLE offline_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sender_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind          INTEGER NOT NULL,
    text          TEXT    NOT NULL,
    sent_at       INTEGER NOT NULL
);
CREATE INDEX offline_by_recipient ON offline_messages(recipient_id, id);
