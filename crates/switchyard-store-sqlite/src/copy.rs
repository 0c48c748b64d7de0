//! `switchyard store copy` on SQLite: every table read in one read transaction (one snapshot),
//! and written back in one write transaction.

use crate::connections::backend;
use crate::{
    account_from_row, placeholders, profile_from_row, profile_values, secrets_from, stored_message, version,
    write_transaction, PROFILE_COLUMNS, PROFILE_WRITE_COLUMNS, PROFILE_WRITE_VALUES,
};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use switchyard_core::store::codes::{add_policy_code, add_policy_of, privacy_code, privacy_of, prompt_code, prompt_of};
use switchyard_core::store::copy::{
    AccountRow, ContactRow, GroupRow, MemberRow, NextIds, StoreCounts, StoreRows, BATCH,
};
use switchyard_core::store::{ContactGroup, GroupId, ListSettings, StoreError};
use switchyard_core::{AccountId, RelationFlags};
use tokio::sync::mpsc;

/// Reads `sql`'s rows in batches and sends each, made by `batch`; false once nobody listens.
fn send_table<T>(
    db: &Connection,
    sql: &str,
    row: impl Fn(&Row) -> rusqlite::Result<T>,
    batch: impl Fn(Vec<T>) -> StoreRows,
    to: &mpsc::Sender<StoreRows>,
) -> rusqlite::Result<bool> {
    let mut statement = db.prepare(sql)?;
    let mut rows = statement.query([])?;
    let mut pending = Vec::with_capacity(BATCH);
    while let Some(r) = rows.next()? {
        pending.push(row(r)?);
        if pending.len() == BATCH && to.blocking_send(batch(std::mem::take(&mut pending))).is_err() {
            return Ok(false);
        }
    }
    Ok(pending.is_empty() || to.blocking_send(batch(pending)).is_ok())
}

fn account_row(row: &Row) -> rusqlite::Result<AccountRow> {
    let id = AccountId(row.get(0)?);
    Ok(AccountRow {
        account: account_from_row(row)?,
        secrets: secrets_from(id, row.get("salt")?, row.get("md5_response")?, row.get("verifier")?)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        settings: ListSettings {
            version: version(row.get("list_version")?),
            privacy: privacy_of(row.get("privacy")?),
            prompt: prompt_of(row.get("prompt")?),
            add_policy: add_policy_of(row.get("add_policy")?),
        },
        profile: profile_from_row(row)?,
        created_at: row.get("created_at")?,
        broadcasts_seen: row.get("broadcasts_seen")?,
        disabled: row.get("disabled")?,
    })
}

pub(crate) fn export(db: &Connection, to: &mpsc::Sender<StoreRows>) -> rusqlite::Result<()> {
    let snapshot = db.unchecked_transaction()?;
    let accounts = format!(
        "SELECT id, name, nickname, salt, md5_response, verifier, list_version, privacy, prompt, add_policy,
                created_at, broadcasts_seen, disabled, {PROFILE_COLUMNS} FROM accounts ORDER BY id"
    );
    let sent = send_table(&snapshot, &accounts, account_row, StoreRows::Accounts, to)?
        && send_table(
            &snapshot,
            "SELECT owner_id, target_id, flags, display_name FROM contacts ORDER BY owner_id, target_id",
            |r| {
                Ok(ContactRow {
                    owner: AccountId(r.get(0)?),
                    target: AccountId(r.get(1)?),
                    flags: RelationFlags(r.get::<_, i64>(2)? as u32),
                    display_name: r.get(3)?,
                })
            },
            StoreRows::Contacts,
            to,
        )?
        && send_table(
            &snapshot,
            "SELECT id, owner_id, name FROM contact_groups ORDER BY id",
            |r| {
                Ok(GroupRow {
                    owner: AccountId(r.get(1)?),
                    group: ContactGroup { id: GroupId(r.get(0)?), name: r.get(2)? },
                })
            },
            StoreRows::Groups,
            to,
        )?
        && send_table(
            &snapshot,
            "SELECT owner_id, target_id, group_id FROM group_members ORDER BY owner_id, target_id, group_id",
            |r| Ok(MemberRow { owner: AccountId(r.get(0)?), target: AccountId(r.get(1)?), group: GroupId(r.get(2)?) }),
            StoreRows::Members,
            to,
        )?
        && send_table(
            &snapshot,
            "SELECT id, sender_id, kind, text, sent_at, recipient_id FROM offline_messages ORDER BY id",
            |r| stored_message(r, AccountId(r.get("recipient_id")?)),
            StoreRows::Offline,
            to,
        )?
        && send_table(
            &snapshot,
            "SELECT id, sender_id, kind, text, sent_at FROM broadcasts ORDER BY id",
            |r| stored_message(r, AccountId(r.get("sender_id")?)),
            StoreRows::Broadcasts,
            to,
        )?;
    if sent {
        let next = |table: &str| -> rusqlite::Result<i64> {
            let last: Option<i64> = snapshot
                .query_row("SELECT seq FROM sqlite_sequence WHERE name = ?", [table], |r| r.get(0))
                .optional()?;
            Ok(last.unwrap_or(0) + 1)
        };
        let mut ids = [0; 4];
        for (id, table) in ids.iter_mut().zip(NextIds::TABLES) {
            *id = next(table)?;
        }
        let _ = to.blocking_send(StoreRows::NextIds(ids.into()));
    }
    Ok(())
}

pub(crate) fn counts(db: &Connection) -> rusqlite::Result<StoreCounts> {
    db.query_row(
        "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_groups),
                (SELECT COUNT(*) FROM group_members), (SELECT COUNT(*) FROM offline_messages),
                (SELECT COUNT(*) FROM broadcasts)",
        [],
        |r| {
            let n = |i| r.get::<_, i64>(i).map(|n| n as u64);
            Ok(StoreCounts {
                accounts: n(0)?,
                contacts: n(1)?,
                groups: n(2)?,
                members: n(3)?,
                offline: n(4)?,
                broadcasts: n(5)?,
            })
        },
    )
}

/// The outer error is SQLite's; the inner one says why the copy was refused.
pub(crate) fn import(
    db: &mut Connection,
    mut from: mpsc::Receiver<StoreRows>,
) -> rusqlite::Result<Result<(), StoreError>> {
    let tx = write_transaction(db)?;
    let existing: i64 = tx.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
    if existing > 0 {
        return Ok(Err(backend(format!("the target store is not empty ({existing} accounts)"))));
    }
    while let Some(rows) = from.blocking_recv() {
        match rows {
            StoreRows::Accounts(rows) => {
                let mut insert = tx.prepare(&format!(
                    "INSERT INTO accounts (id, name, nickname, password, salt, md5_response, verifier, list_version,
                         privacy, prompt, add_policy, created_at, broadcasts_seen, disabled, nickname_key,
                         {PROFILE_WRITE_COLUMNS})
                     VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {})",
                    placeholders(PROFILE_WRITE_VALUES)
                ))?;
                for r in &rows {
                    let (a, s) = (&r.account, &r.settings);
                    let account: [Value; 14] = [
                        a.id.0.into(),
                        a.name.to_string().into(),
                        a.nickname.clone().into(),
                        r.secrets.salt.clone().into(),
                        r.secrets.md5_response.clone().into(),
                        r.secrets.verifier.to_vec().into(),
                        i64::from(s.version).into(),
                        privacy_code(s.privacy).into(),
                        prompt_code(s.prompt).into(),
                        add_policy_code(s.add_policy).into(),
                        r.created_at.into(),
                        r.broadcasts_seen.into(),
                        i64::from(r.disabled).into(),
                        a.nickname.as_deref().unwrap_or("").to_lowercase().into(),
                    ];
                    insert.execute(params_from_iter(account.into_iter().chain(profile_values(&r.profile))))?;
                }
            }
            StoreRows::Contacts(rows) => {
                let mut insert =
                    tx.prepare("INSERT INTO contacts (owner_id, target_id, flags, display_name) VALUES (?, ?, ?, ?)")?;
                for r in &rows {
                    insert.execute(params![r.owner.0, r.target.0, i64::from(r.flags.0), r.display_name])?;
                }
            }
            StoreRows::Groups(rows) => {
                let mut insert = tx.prepare("INSERT INTO contact_groups (id, owner_id, name) VALUES (?, ?, ?)")?;
                for r in &rows {
                    insert.execute(params![r.group.id.0, r.owner.0, r.group.name])?;
                }
            }
            StoreRows::Members(rows) => {
                let mut insert =
                    tx.prepare("INSERT INTO group_members (owner_id, target_id, group_id) VALUES (?, ?, ?)")?;
                for r in &rows {
                    insert.execute([r.owner.0, r.target.0, r.group.0])?;
                }
            }
            StoreRows::Offline(rows) => {
                let mut insert = tx.prepare(
                    "INSERT INTO offline_messages (id, recipient_id, sender_id, kind, text, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                )?;
                for r in &rows {
                    let m = &r.message;
                    insert.execute(params![r.id, m.recipient.0, m.sender.0, m.kind.code(), m.text, m.sent_at])?;
                }
            }
            StoreRows::Broadcasts(rows) => {
                let mut insert =
                    tx.prepare("INSERT INTO broadcasts (id, sender_id, kind, text, sent_at) VALUES (?, ?, ?, ?, ?)")?;
                for r in &rows {
                    let m = &r.message;
                    insert.execute(params![r.id, m.sender.0, m.kind.code(), m.text, m.sent_at])?;
                }
            }
            StoreRows::NextIds(next) => {
                for (table, id) in next.by_table() {
                    // AUTOINCREMENT hands out one past `seq`, and never less than one past the
                    // largest id copied.
                    let updated = tx.execute(
                        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?",
                        params![id - 1, table],
                    )?;
                    if updated == 0 {
                        tx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", params![table, id - 1])?;
                    }
                }
                tx.commit()?;
                return Ok(Ok(()));
            }
        }
    }
    Ok(Err(backend("the copy ended before all rows were sent; nothing was written")))
}
