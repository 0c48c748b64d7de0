//! `switchyard store copy` on PostgreSQL: every table read through a cursor in one snapshot,
//! and written back in one transaction with each batch's inserts sent together.

use crate::db::{backend, database_error, Db};
use crate::{
    account_from_row, profile_from_row, secrets_from_row, stored_message, version, Param, ProfileValues,
    PROFILE_COLUMNS,
};
use futures_util::future::try_join_all;
use switchyard_core::store::codes::{add_policy_code, add_policy_of, privacy_code, privacy_of, prompt_code, prompt_of};
use switchyard_core::store::copy::{
    AccountRow, ContactRow, GroupRow, MemberRow, NextIds, StoreCounts, StoreRows, BATCH,
};
use switchyard_core::store::{ContactGroup, GroupId, ListSettings, StoreError};
use switchyard_core::{AccountId, RelationFlags};
use tokio::sync::mpsc;
use tokio_postgres::{IsolationLevel, Row};

/// Each table's query, in the order rows are sent, and how a batch of its rows is made.
type Batch = fn(&[Row]) -> Result<StoreRows, StoreError>;

fn tables() -> [(String, Batch); 6] {
    [
        (
            format!(
                "SELECT id, name, nickname, salt, md5_response, verifier, list_version, privacy, prompt, add_policy,
                        created_at, broadcasts_seen, {PROFILE_COLUMNS}, disabled FROM accounts ORDER BY id"
            ),
            |rows| rows.iter().map(account_row).collect::<Result<_, _>>().map(StoreRows::Accounts),
        ),
        ("SELECT owner_id, target_id, flags, display_name FROM contacts ORDER BY owner_id, target_id".into(), |rows| {
            Ok(StoreRows::Contacts(
                rows.iter()
                    .map(|r| ContactRow {
                        owner: AccountId(r.get(0)),
                        target: AccountId(r.get(1)),
                        flags: RelationFlags(r.get::<_, i64>(2) as u32),
                        display_name: r.get(3),
                    })
                    .collect(),
            ))
        }),
        ("SELECT id, owner_id, name FROM contact_groups ORDER BY id".into(), |rows| {
            Ok(StoreRows::Groups(
                rows.iter()
                    .map(|r| GroupRow {
                        owner: AccountId(r.get(1)),
                        group: ContactGroup { id: GroupId(r.get(0)), name: r.get(2) },
                    })
                    .collect(),
            ))
        }),
        (
            "SELECT owner_id, target_id, group_id FROM group_members ORDER BY owner_id, target_id, group_id".into(),
            |rows| {
                Ok(StoreRows::Members(
                    rows.iter()
                        .map(|r| MemberRow {
                            owner: AccountId(r.get(0)),
                            target: AccountId(r.get(1)),
                            group: GroupId(r.get(2)),
                        })
                        .collect(),
                ))
            },
        ),
        ("SELECT id, sender_id, kind, text, sent_at, recipient_id FROM offline_messages ORDER BY id".into(), |rows| {
            rows.iter()
                .map(|r| stored_message(r, AccountId(r.get(5))))
                .collect::<Result<_, _>>()
                .map(StoreRows::Offline)
        }),
        ("SELECT id, sender_id, kind, text, sent_at, sender_id FROM broadcasts ORDER BY id".into(), |rows| {
            rows.iter()
                .map(|r| stored_message(r, AccountId(r.get(5))))
                .collect::<Result<_, _>>()
                .map(StoreRows::Broadcasts)
        }),
    ]
}

fn account_row(row: &Row) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        account: account_from_row(row)?,
        secrets: secrets_from_row(row, 3)?,
        settings: ListSettings {
            version: version(row.get(6)),
            privacy: privacy_of(row.get::<_, i16>(7).into()),
            prompt: prompt_of(row.get::<_, i16>(8).into()),
            add_policy: add_policy_of(row.get::<_, i16>(9).into()),
        },
        created_at: row.get(10),
        broadcasts_seen: row.get(11),
        disabled: row.get("disabled"),
        profile: profile_from_row(row, 12),
    })
}

pub(crate) async fn export(db: &Db, to: mpsc::Sender<StoreRows>) -> Result<(), StoreError> {
    let mut connection = db.connection().await?;
    let tx = connection
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(database_error)?;
    for (sql, batch) in tables() {
        let statement = tx.prepare(&sql).await.map_err(database_error)?;
        let portal = tx.bind(&statement, &[]).await.map_err(database_error)?;
        loop {
            let rows = tx.query_portal(&portal, BATCH as i32).await.map_err(database_error)?;
            if rows.is_empty() {
                break;
            }
            let last = rows.len() < BATCH;
            if to.send(batch(&rows)?).await.is_err() {
                return Ok(());
            }
            if last {
                break;
            }
        }
    }
    let mut next = [0i64; 4];
    for (slot, table) in next.iter_mut().zip(NextIds::TABLES) {
        let sequence: String =
            tx.query_one("SELECT pg_get_serial_sequence($1, 'id')", &[&table]).await.map_err(database_error)?.get(0);
        // A sequence set back (`setval(…, false)`) hands out `last_value` itself next.
        let next = format!("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {sequence}");
        *slot = tx.query_one(&next, &[]).await.map_err(database_error)?.get(0);
    }
    let _ = to.send(StoreRows::NextIds(next.into())).await;
    tx.commit().await.map_err(database_error)
}

pub(crate) async fn counts(db: &Db) -> Result<StoreCounts, StoreError> {
    let row = db
        .one(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM contacts),
                    (SELECT COUNT(*) FROM contact_groups), (SELECT COUNT(*) FROM group_members),
                    (SELECT COUNT(*) FROM offline_messages), (SELECT COUNT(*) FROM broadcasts)",
            &[],
        )
        .await?;
    let n = |i| row.get::<_, i64>(i) as u64;
    Ok(StoreCounts { accounts: n(0), contacts: n(1), groups: n(2), members: n(3), offline: n(4), broadcasts: n(5) })
}

const INSERT_ACCOUNT: &str = concat!(
    "INSERT INTO accounts (id, name, nickname, salt, md5_response, verifier, list_version, privacy, prompt,
         add_policy, created_at, broadcasts_seen, disabled, nickname_key, ",
    profile_write_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
               $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38)"
);

pub(crate) async fn import(db: &Db, mut from: mpsc::Receiver<StoreRows>) -> Result<(), StoreError> {
    let mut connection = db.connection().await?;
    let tx = connection.client.transaction().await.map_err(database_error)?;
    let existing: i64 = tx.query_one("SELECT COUNT(*) FROM accounts", &[]).await.map_err(database_error)?.get(0);
    if existing > 0 {
        return Err(StoreError::Backend(format!("the target store is not empty ({existing} accounts)")));
    }
    let mut finished = false;
    while let Some(rows) = from.recv().await {
        match rows {
            StoreRows::Accounts(rows) => {
                let values: Vec<AccountValues> = rows.iter().map(AccountValues::of).collect();
                insert_all(&tx, INSERT_ACCOUNT, values.iter().map(AccountValues::params)).await?;
            }
            StoreRows::Contacts(rows) => {
                let flags: Vec<i64> = rows.iter().map(|r| i64::from(r.flags.0)).collect();
                insert_all(
                    &tx,
                    "INSERT INTO contacts (owner_id, target_id, flags, display_name) VALUES ($1, $2, $3, $4)",
                    rows.iter().zip(&flags).map(|(r, flags)| params([&r.owner.0, &r.target.0, flags, &r.display_name])),
                )
                .await?;
            }
            StoreRows::Groups(rows) => {
                insert_all(
                    &tx,
                    "INSERT INTO contact_groups (id, owner_id, name) VALUES ($1, $2, $3)",
                    rows.iter().map(|r| params([&r.group.id.0, &r.owner.0, &r.group.name])),
                )
                .await?;
            }
            StoreRows::Members(rows) => {
                insert_all(
                    &tx,
                    "INSERT INTO group_members (owner_id, target_id, group_id) VALUES ($1, $2, $3)",
                    rows.iter().map(|r| params([&r.owner.0, &r.target.0, &r.group.0])),
                )
                .await?;
            }
            StoreRows::Offline(rows) => {
                let kinds: Vec<i16> = rows.iter().map(|r| r.message.kind.code() as i16).collect();
                insert_all(
                    &tx,
                    "INSERT INTO offline_messages (id, recipient_id, sender_id, kind, text, sent_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    rows.iter().zip(&kinds).map(|(r, kind)| {
                        let m = &r.message;
                        params([&r.id, &m.recipient.0, &m.sender.0, kind, &m.text, &m.sent_at])
                    }),
                )
                .await?;
            }
            StoreRows::Broadcasts(rows) => {
                let kinds: Vec<i16> = rows.iter().map(|r| r.message.kind.code() as i16).collect();
                insert_all(
                    &tx,
                    "INSERT INTO broadcasts (id, sender_id, kind, text, sent_at) VALUES ($1, $2, $3, $4, $5)",
                    rows.iter().zip(&kinds).map(|(r, kind)| {
                        let m = &r.message;
                        params([&r.id, &m.sender.0, kind, &m.text, &m.sent_at])
                    }),
                )
                .await?;
            }
            StoreRows::NextIds(next) => {
                for (table, id) in next.by_table() {
                    // Past every id copied, whatever the source said.
                    tx.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                           GREATEST($1, (SELECT COALESCE(MAX(id), 0) + 1 FROM {table})), false)"
                        ),
                        &[&id],
                    )
                    .await
                    .map_err(database_error)?;
                }
                finished = true;
            }
        }
    }
    if !finished {
        return Err(backend("the copy ended before all rows were sent; nothing was written"));
    }
    tx.commit().await.map_err(database_error)
}

fn params<'a, const N: usize>(values: [Param<'a>; N]) -> Vec<Param<'a>> {
    values.into()
}

/// Runs `sql` once per row of parameters, all sent at once: one round trip for the batch.
async fn insert_all<'a>(
    tx: &tokio_postgres::Transaction<'_>,
    sql: &str,
    rows: impl Iterator<Item = Vec<Param<'a>>>,
) -> Result<(), StoreError> {
    let statement = tx.prepare(sql).await.map_err(database_error)?;
    try_join_all(rows.map(|row| tx.execute_raw(&statement, row))).await.map_err(database_error)?;
    Ok(())
}

/// One account row's values, typed as the columns are.
struct AccountValues<'a> {
    row: &'a AccountRow,
    name: &'a str,
    verifier: &'a [u8],
    list_version: i64,
    codes: [i16; 3],
    nickname_key: String,
    profile: ProfileValues<'a>,
}

impl<'a> AccountValues<'a> {
    fn of(row: &'a AccountRow) -> Self {
        let s = &row.settings;
        AccountValues {
            row,
            name: row.account.name.as_str(),
            verifier: &row.secrets.verifier,
            list_version: i64::from(s.version),
            codes: [privacy_code(s.privacy), prompt_code(s.prompt), add_policy_code(s.add_policy)],
            nickname_key: row.account.nickname.as_deref().unwrap_or("").to_lowercase(),
            profile: ProfileValues::of(&row.profile),
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        let r = self.row;
        let mut params: Vec<Param<'_>> = vec![
            &r.account.id.0,
            &self.name,
            &r.account.nickname,
            &r.secrets.salt,
            &r.secrets.md5_response,
            &self.verifier,
            &self.list_version,
            &self.codes[0],
            &self.codes[1],
            &self.codes[2],
            &r.created_at,
            &r.broadcasts_seen,
            &r.disabled,
            &self.nickname_key,
        ];
        params.extend(self.profile.params());
        params
    }
}
