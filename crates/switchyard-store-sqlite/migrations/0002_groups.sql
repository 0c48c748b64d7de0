-- Contact groups of an owner, in creation order (MRIM shows them by position, MSN by id).
CREATE TABLE contact_groups (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name      TEXT    NOT NULL
);
CREATE INDEX contact_groups_by_owner ON contact_groups(owner_id, id);

-- Which of an owner's groups a contact is in (MSN allows several, MRIM one).
CREATE TABLE group_members (
    owner_id  INTEGER NOT NULL,
    target_id INTEGER NOT NULL,
    group_id  INTEGER NOT NULL REFERENCES contact_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (owner_id, target_id, group_id),
    FOREIGN KEY (owner_id, target_id) REFERENCES contacts(owner_id, target_id) ON DELETE CASCADE
) WITHOUT ROWID;
