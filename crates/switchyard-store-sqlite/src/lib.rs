//! SQLite implementation of [`Store`]: one database file in WAL mode, schema migrations
//! embedded in the binary and applied at open.

mod connections;
mod copy;
mod schema;

use async_trait::async_trait;
use connections::{backend, Connections};
use rusqlite::types::Value;
use rusqlite::{ffi, params, params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use switchyard_core::account::{Account, AccountId, AccountName};
use switchyard_core::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use switchyard_core::profile::{Date, Profile, SearchQuery, TextMatch};
use switchyard_core::secrets::Secrets;
use switchyard_core::store::codes::{
    add_policy_code, add_policy_of, privacy_code, privacy_of, prompt_code, prompt_of, sex_code, sex_of,
};
use switchyard_core::store::copy::{StoreCounts, StoreRows};
use switchyard_core::store::{
    like_escaped, ContactGroup, GroupId, ListSettings, MessageKind, OfflineMessage, Relation, Store, StoreError,
    StoredMessage, VersionsAfterChange,
};
use switchyard_core::unix_now;

/// UINs are 10000 + the never-reused account id, so the first account gets 10001.
const UIN_BASE: i64 = 10000;

fn uin_of(id: i64) -> u32 {
    (UIN_BASE + id) as u32
}

/// The database's file name inside a server's data directory.
pub const FILE_NAME: &str = "switchyard.db";

pub struct SqliteStore {
    connections: Arc<Connections>,
}

impl SqliteStore {
    /// Opens the database of the data directory `dir` ([`FILE_NAME`] in it), as [`SqliteStore::open`].
    pub async fn open_in(dir: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(&dir.join(FILE_NAME)).await
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let connections = tokio::task::spawn_blocking(move || {
            Connections::open(&path, |writer| schema::migrate(writer).map_err(backend))
        })
        .await
        .map_err(backend)??;
        let store = SqliteStore { connections: Arc::new(connections) };
        store.replace_stored_passwords().await?;
        Ok(store)
    }

    /// Turns the passwords of accounts created before migration 5 into secrets.
    async fn replace_stored_passwords(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, String)> = self.connections.read(|db| {
            db.prepare("SELECT id, password FROM accounts WHERE password != ''")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })?;
        for (id, password) in &rows {
            self.set_password(AccountId(*id), password).await?;
        }
        if !rows.is_empty() {
            tracing::info!(accounts = rows.len(), "stored passwords replaced by salted digests");
        }
        Ok(())
    }

    /// Runs one change of `owner`'s lists; when it changed anything, bumps their version and
    /// returns it, atomically.
    async fn change_lists(
        &self,
        owner: AccountId,
        change: impl FnOnce(&Connection) -> rusqlite::Result<usize> + Send + 'static,
    ) -> Result<Option<u32>, StoreError> {
        self.connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                if change(&tx)? == 0 {
                    return Ok(None);
                }
                let version = bump_version(&tx, owner)?;
                tx.commit()?;
                Ok(Some(version))
            })
            .await
    }

    /// Like [`SqliteStore::change_lists`], for a change that must find something to change.
    async fn change_settings(
        &self,
        owner: AccountId,
        change: impl FnOnce(&Connection) -> rusqlite::Result<usize> + Send + 'static,
    ) -> Result<u32, StoreError> {
        self.change_lists(owner, change).await?.ok_or_else(|| StoreError::Backend(format!("no account {owner}")))
    }

    /// Copies the database, consistent at one moment, into a new file at `target` with SQLite's
    /// online backup API: safe while the server runs and writes (a write meanwhile restarts the
    /// copy of what changed). The copy is an ordinary database file, with no journal beside it.
    pub async fn backup_to(&self, target: &Path) -> Result<(), StoreError> {
        if target.exists() {
            return Err(StoreError::Backend(format!("{} exists already", target.display())));
        }
        // Readable by its owner only, as the database is.
        std::os::unix::fs::OpenOptionsExt::mode(std::fs::OpenOptions::new().write(true).create_new(true), 0o600)
            .open(target)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", target.display())))?;
        let target = target.to_path_buf();
        self.connections
            .long_read(move |db| {
                let mut copy = Connection::open(&target)?;
                let backup = rusqlite::backup::Backup::new(db, &mut copy)?;
                backup.run_to_completion(1024, std::time::Duration::from_millis(1), None)?;
                drop(backup);
                copy.pragma_update(None, "journal_mode", "DELETE")?;
                Ok(())
            })
            .await
    }
}

/// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A deferred one that
/// reads first and writes later fails with `SQLITE_BUSY_SNAPSHOT` when another process wrote
/// in between, which no busy timeout waits out; an immediate one waits its turn.
pub(crate) fn write_transaction(db: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    db.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// An account from a row whose first three columns are `id, name, nickname` (read by position:
/// looking columns up by name costs more than the read on hot paths).
pub(crate) fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
    let id: i64 = row.get(0)?;
    let name: String = row.get(1)?;
    let name = AccountName::new(&name)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Account { id: AccountId(id), name, uin: uin_of(id), nickname: row.get(2)? })
}

fn bump_version(db: &Connection, owner: AccountId) -> rusqlite::Result<u32> {
    db.prepare_cached("UPDATE accounts SET list_version = list_version + 1 WHERE id = ? RETURNING list_version")?
        .query_row([owner.0], |row| row.get::<_, i64>(0))
        .map(version)
}

pub(crate) fn version(v: i64) -> u32 {
    v as u32
}

/// The profile's columns: a macro, so that [`PROFILE_WRITE_COLUMNS`] can extend it.
macro_rules! profile_columns {
    () => {
        "first_name, last_name, sex, birthday, city_id, country_id, location, country, province,
         city, address, zipcode, email, phone, homepage, about, school, occupation, blood_type, face, age"
    };
}
pub(crate) const PROFILE_COLUMNS: &str = profile_columns!();

/// What a profile write stores: [`PROFILE_COLUMNS`] and the search keys derived from them.
pub(crate) const PROFILE_WRITE_COLUMNS: &str =
    concat!(profile_columns!(), ", first_name_key, last_name_key, email_key");
/// How many [`PROFILE_WRITE_COLUMNS`] there are.
pub(crate) const PROFILE_WRITE_VALUES: usize = 24;

/// A profile's values for [`PROFILE_WRITE_COLUMNS`], in their order.
pub(crate) fn profile_values(p: &Profile) -> Vec<Value> {
    vec![
        p.first_name.clone().into(),
        p.last_name.clone().into(),
        sex_code(p.sex).into(),
        p.birthday.map(|d| d.to_string()).into(),
        i64::from(p.city_id).into(),
        i64::from(p.country_id).into(),
        p.location.clone().into(),
        p.country.clone().into(),
        p.province.clone().into(),
        p.city.clone().into(),
        p.address.clone().into(),
        p.zipcode.clone().into(),
        p.email.clone().into(),
        p.phone.clone().into(),
        p.homepage.clone().into(),
        p.about.clone().into(),
        p.school.clone().into(),
        p.occupation.clone().into(),
        i64::from(p.blood_type).into(),
        i64::from(p.face).into(),
        p.age.map(i64::from).into(),
        p.first_name.to_lowercase().into(),
        p.last_name.to_lowercase().into(),
        p.email.to_lowercase().into(),
    ]
}

/// `?, ?, …`, `n` of them.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub(crate) fn profile_from_row(row: &Row) -> rusqlite::Result<Profile> {
    let sex: i64 = row.get("sex")?;
    let birthday: Option<String> = row.get("birthday")?;
    Ok(Profile {
        first_name: row.get("first_name")?,
        last_name: row.get("last_name")?,
        sex: sex_of(sex),
        birthday: birthday.as_deref().and_then(Date::parse),
        city_id: row.get::<_, i64>("city_id")? as u32,
        country_id: row.get::<_, i64>("country_id")? as u32,
        location: row.get("location")?,
        country: row.get("country")?,
        province: row.get("province")?,
        city: row.get("city")?,
        address: row.get("address")?,
        zipcode: row.get("zipcode")?,
        email: row.get("email")?,
        phone: row.get("phone")?,
        homepage: row.get("homepage")?,
        about: row.get("about")?,
        school: row.get("school")?,
        occupation: row.get("occupation")?,
        blood_type: row.get::<_, i64>("blood_type")? as u8,
        face: row.get::<_, i64>("face")? as u8,
        age: row.get::<_, Option<i64>>("age")?.map(|age| age as u8),
    })
}

pub(crate) fn stored_message(row: &Row, recipient: AccountId) -> rusqlite::Result<StoredMessage> {
    let kind: i64 = row.get("kind")?;
    let kind = MessageKind::from_code(kind).ok_or(rusqlite::Error::IntegralValueOutOfRange(2, kind))?;
    Ok(StoredMessage {
        id: row.get("id")?,
        message: OfflineMessage {
            sender: AccountId(row.get("sender_id")?),
            recipient,
            kind,
            text: row.get("text")?,
            sent_at: row.get("sent_at")?,
        },
    })
}

/// `column = ?` or `column LIKE ? ESCAPE '\'` on a lower-cased key column.
fn text_condition(column: &str, matching: &TextMatch, sql: &mut String, values: &mut Vec<Value>) {
    match matching {
        TextMatch::Exact(text) => {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(Value::Text(text.to_lowercase()));
        }
        TextMatch::Prefix(text) => {
            let escaped = like_escaped(&text.to_lowercase());
            sql.push_str(&format!(" AND {column} LIKE ? ESCAPE '\\'"));
            values.push(Value::Text(format!("{escaped}%")));
        }
    }
}

const BIRTH_MONTH: &str = "CAST(substr(birthday, 6, 2) AS INTEGER)";
const BIRTH_DAY: &str = "CAST(substr(birthday, 9, 2) AS INTEGER)";

/// The `WHERE` clause and its values for a search.
fn search_condition(query: &SearchQuery) -> (String, Vec<Value>) {
    // A disabled account is found by nobody.
    let mut sql = String::from("disabled = 0");
    let mut values = Vec::new();
    let mut int = |sql: &mut String, condition: &str, value: i64| {
        sql.push_str(condition);
        values.push(Value::Integer(value));
    };
    if let Some(above) = query.uin_above {
        int(&mut sql, " AND id > ?", i64::from(above) - UIN_BASE);
    }
    if let Some(sex) = query.sex {
        int(&mut sql, " AND sex = ?", sex_code(sex).into());
    }
    if let Some(city) = query.city_id {
        int(&mut sql, " AND city_id = ?", i64::from(city));
    }
    if let Some(country) = query.country_id {
        int(&mut sql, " AND country_id = ?", i64::from(country));
    }
    if let Some(month) = query.birth_month {
        int(&mut sql, &format!(" AND {BIRTH_MONTH} = ?"), i64::from(month));
    }
    if let Some(day) = query.birth_day {
        int(&mut sql, &format!(" AND {BIRTH_DAY} = ?"), i64::from(day));
    }
    if let Some((from, to)) = query.birthday_window {
        let md = format!("({BIRTH_MONTH} * 100 + {BIRTH_DAY})");
        // A window across the year end (from > to) is "after from, or before to".
        let joiner = if from <= to { "AND" } else { "OR" };
        sql.push_str(&format!(" AND birthday IS NOT NULL AND ({md} >= ? {joiner} {md} <= ?)"));
        values.push(Value::Integer(i64::from(from)));
        values.push(Value::Integer(i64::from(to)));
    }
    if let Some(name) = &query.name {
        sql.push_str(" AND name = ?");
        values.push(Value::Text(name.to_string()));
    }
    if let Some(from) = query.born_from {
        sql.push_str(" AND birthday >= ?");
        values.push(Value::Text(from.to_string()));
    }
    if let Some(until) = query.born_until {
        sql.push_str(" AND birthday <= ?");
        values.push(Value::Text(until.to_string()));
    }
    for (column, matching) in [
        ("nickname_key", &query.nickname),
        ("first_name_key", &query.first_name),
        ("last_name_key", &query.last_name),
        ("email_key", &query.email),
    ] {
        if let Some(matching) = matching {
            text_condition(column, matching, &mut sql, &mut values);
        }
    }
    (sql, values)
}

pub(crate) fn secrets_from(
    id: AccountId,
    salt: String,
    md5_response: String,
    verifier: Vec<u8>,
) -> Result<Secrets, StoreError> {
    let verifier = verifier.try_into().map_err(|_| backend(format!("account {id} has a damaged verifier")))?;
    Ok(Secrets { salt, md5_response, verifier })
}

#[async_trait]
impl Store for SqliteStore {
    /// Checkpoints the WAL into the database file, leaving it empty; the connections close
    /// when the store is dropped.
    async fn close(&self) {
        let checkpoint = self.connections.write(|db| db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")).await;
        if let Err(e) = checkpoint {
            tracing::warn!(error = %e, "could not checkpoint the database at close");
        }
    }

    async fn create_account(
        &self,
        name: &AccountName,
        password: &str,
        nickname: Option<&str>,
    ) -> Result<Account, StoreError> {
        if name.is_numeric() {
            return Err(StoreError::NumericName(name.clone()));
        }
        let secrets = Secrets::new(password);
        let (stored_name, stored_nickname) = (name.to_string(), nickname.map(str::to_owned));
        let inserted = self
            .connections
            .write(move |db| {
                let key = stored_nickname.as_deref().unwrap_or("").to_lowercase();
                let inserted = db
                    .prepare_cached(
                        "INSERT INTO accounts (name, nickname, nickname_key, password, salt, md5_response, verifier,
                                               created_at, broadcasts_seen)
                         VALUES (?, ?, ?, '', ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM broadcasts)) RETURNING id",
                    )?
                    .query_row(
                        params![
                            stored_name,
                            stored_nickname,
                            key,
                            secrets.salt,
                            secrets.md5_response,
                            &secrets.verifier[..],
                            unix_now()
                        ],
                        |row| row.get::<_, i64>(0),
                    );
                match inserted {
                    Ok(id) => Ok(Some(id)),
                    Err(e) if is_unique_violation(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        let id = inserted.ok_or_else(|| StoreError::NameTaken(name.clone()))?;
        Ok(Account { id: AccountId(id), name: name.clone(), uin: uin_of(id), nickname: nickname.map(str::to_owned) })
    }

    async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        self.connections.read(|db| {
            db.prepare_cached("SELECT id, name, nickname FROM accounts WHERE name = ?")?
                .query_row([name.as_str()], account_from_row)
                .optional()
        })
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.connections.read(|db| {
            db.prepare_cached("SELECT id, name, nickname FROM accounts WHERE id = ?")?
                .query_row([id.0], account_from_row)
                .optional()
        })
    }

    async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, StoreError> {
        self.account_by_id(AccountId(i64::from(uin) - UIN_BASE)).await
    }

    async fn create_numbered_account(&self, password: &str) -> Result<Account, StoreError> {
        let secrets = Secrets::new(password);
        let created = self
            .connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                // The name depends on the id, known only once inserted: a placeholder no valid
                // name can equal holds the row until then, inside the one transaction.
                let id: i64 = tx
                    .prepare_cached(
                        "INSERT INTO accounts (name, password, salt, md5_response, verifier, created_at, broadcasts_seen)
                         VALUES ('#registering', '', ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM broadcasts))
                         RETURNING id",
                    )?
                    .query_row(
                        params![secrets.salt, secrets.md5_response, &secrets.verifier[..], unix_now()],
                        |row| row.get(0),
                    )?;
                let uin = uin_of(id);
                for candidate in [uin.to_string(), format!("icq-{uin}")] {
                    match tx.execute("UPDATE accounts SET name = ? WHERE id = ?", params![candidate, id]) {
                        Ok(_) => {
                            tx.commit()?;
                            return Ok(Some((id, candidate)));
                        }
                        Err(e) if is_unique_violation(&e) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Ok(None)
            })
            .await?;
        let (id, name) = created.ok_or_else(|| StoreError::Backend("both names for a new UIN are taken".into()))?;
        let name = AccountName::new(&name).map_err(backend)?;
        Ok(Account { id: AccountId(id), name, uin: uin_of(id), nickname: None })
    }

    async fn set_nickname(&self, id: AccountId, nickname: Option<&str>) -> Result<(), StoreError> {
        let nickname = nickname.map(str::to_owned);
        self.connections
            .write(move |db| {
                let key = nickname.as_deref().unwrap_or("").to_lowercase();
                db.prepare_cached("UPDATE accounts SET nickname = ?, nickname_key = ? WHERE id = ?")?
                    .execute(params![nickname, key, id.0])
                    .map(drop)
            })
            .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.connections
            .long_read(|db| {
                db.prepare("SELECT id, name, nickname FROM accounts ORDER BY name")?
                    .query_map([], account_from_row)?
                    .collect()
            })
            .await
    }

    async fn find_accounts(&self, fragment: &str, limit: usize) -> Result<Vec<Account>, StoreError> {
        let pattern = format!("%{}%", like_escaped(fragment));
        self.connections.read(|db| {
            db.prepare_cached(
                "SELECT id, name, nickname FROM accounts WHERE name LIKE ? ESCAPE '\\' ORDER BY name LIMIT ?",
            )?
            .query_map(params![pattern, limit as i64], account_from_row)?
            .collect()
        })
    }

    async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError> {
        self.connections
            .write(move |db| db.prepare_cached("DELETE FROM accounts WHERE id = ?")?.execute([id.0]).map(|n| n > 0))
            .await
    }

    async fn set_password(&self, id: AccountId, password: &str) -> Result<(), StoreError> {
        let secrets = Secrets::new(password);
        self.connections
            .write(move |db| {
                db.prepare_cached(
                    "UPDATE accounts SET password = '', salt = ?, md5_response = ?, verifier = ? WHERE id = ?",
                )?
                .execute(params![secrets.salt, secrets.md5_response, &secrets.verifier[..], id.0])
                .map(drop)
            })
            .await
    }

    async fn secrets(&self, id: AccountId) -> Result<Option<Secrets>, StoreError> {
        let row: Option<(String, String, Vec<u8>)> = self.connections.read(|db| {
            db.prepare_cached("SELECT salt, md5_response, verifier FROM accounts WHERE id = ? AND disabled = 0")?
                .query_row([id.0], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()
        })?;
        row.map(|(salt, md5_response, verifier)| secrets_from(id, salt, md5_response, verifier)).transpose()
    }

    async fn set_disabled(&self, id: AccountId, disabled: bool) -> Result<bool, StoreError> {
        self.connections
            .write(move |db| {
                db.prepare_cached("UPDATE accounts SET disabled = ? WHERE id = ?")?
                    .execute(params![disabled, id.0])
                    .map(|n| n > 0)
            })
            .await
    }

    async fn is_disabled(&self, id: AccountId) -> Result<bool, StoreError> {
        let disabled: Option<bool> = self.connections.read(|db| {
            db.prepare_cached("SELECT disabled FROM accounts WHERE id = ?")?
                .query_row([id.0], |row| row.get(0))
                .optional()
        })?;
        Ok(disabled.unwrap_or(false))
    }

    async fn account_with_secrets(&self, name: &AccountName) -> Result<Option<(Account, Secrets)>, StoreError> {
        let row: Option<(Account, (String, String, Vec<u8>))> = self.connections.read(|db| {
            db.prepare_cached(
                "SELECT id, name, nickname, salt, md5_response, verifier FROM accounts WHERE name = ? AND disabled = 0",
            )?
            .query_row([name.as_str()], |row| {
                Ok((account_from_row(row)?, (row.get("salt")?, row.get("md5_response")?, row.get("verifier")?)))
            })
            .optional()
        })?;
        row.map(|(account, (salt, md5_response, verifier))| {
            let id = account.id;
            Ok((account, secrets_from(id, salt, md5_response, verifier)?))
        })
        .transpose()
    }

    async fn list_settings(&self, id: AccountId) -> Result<ListSettings, StoreError> {
        let settings = self.connections.read(|db| {
            db.prepare_cached("SELECT list_version, privacy, prompt, add_policy FROM accounts WHERE id = ?")?
                .query_row([id.0], |row| {
                    let prompt: i64 = row.get(2)?;
                    Ok(ListSettings {
                        version: version(row.get(0)?),
                        privacy: privacy_of(row.get(1)?),
                        prompt: prompt_of(prompt),
                        add_policy: add_policy_of(row.get(3)?),
                    })
                })
                .optional()
        })?;
        settings.ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn set_add_policy(&self, id: AccountId, policy: AddPolicy) -> Result<u32, StoreError> {
        self.change_settings(id, move |db| {
            db.prepare_cached("UPDATE accounts SET add_policy = ? WHERE id = ?")?
                .execute(params![add_policy_code(policy), id.0])
        })
        .await
    }

    async fn set_privacy(&self, id: AccountId, privacy: Privacy) -> Result<u32, StoreError> {
        let value = privacy_code(privacy);
        self.change_settings(id, move |db| {
            db.prepare_cached("UPDATE accounts SET privacy = ? WHERE id = ?")?.execute(params![value, id.0])
        })
        .await
    }

    async fn set_prompt(&self, id: AccountId, prompt: ReverseListPrompt) -> Result<u32, StoreError> {
        let value = prompt_code(prompt);
        self.change_settings(id, move |db| {
            db.prepare_cached("UPDATE accounts SET prompt = ? WHERE id = ?")?.execute(params![value, id.0])
        })
        .await
    }

    async fn relations(&self, owner: AccountId) -> Result<Vec<Relation>, StoreError> {
        self.connections.read(|db| {
            // Every status change and login reads this. The accounts on either side are the
            // owner's contacts and, without a row of the owner's, those who have the owner:
            // UNION ALL of two index searches, where a UNION (or an ORDER BY) would build a
            // temporary b-tree per read. Sorted by name below.
            let mut relations: Vec<Relation> = db
                .prepare_cached(
                    "SELECT a.id, a.name, a.nickname, COALESCE(mine.flags, 0), COALESCE(mine.display_name, ''),
                            COALESCE(theirs.flags, 0), a.privacy,
                            (SELECT group_concat(group_id) FROM group_members g
                             WHERE g.owner_id = ?1 AND g.target_id = a.id)
                     FROM (SELECT target_id AS id FROM contacts WHERE owner_id = ?1
                           UNION ALL
                           SELECT owner_id FROM contacts t WHERE t.target_id = ?1 AND NOT EXISTS
                               (SELECT 1 FROM contacts m WHERE m.owner_id = ?1 AND m.target_id = t.owner_id)) others
                     JOIN accounts a ON a.id = others.id
                     LEFT JOIN contacts mine ON mine.owner_id = ?1 AND mine.target_id = a.id
                     LEFT JOIN contacts theirs ON theirs.owner_id = a.id AND theirs.target_id = ?1",
                )?
                .query_map([owner.0], |row| {
                    let account = account_from_row(row)?;
                    // Memberships come as one comma-separated column: one query, not two.
                    let groups: Option<String> = row.get(7)?;
                    let mut groups: Vec<GroupId> = groups
                        .iter()
                        .flat_map(|g| g.split(','))
                        .filter_map(|id| id.parse().ok())
                        .map(GroupId)
                        .collect();
                    groups.sort();
                    Ok(Relation {
                        other: account.into(),
                        display_name: row.get(4)?,
                        flags: RelationFlags(row.get::<_, i64>(3)? as u32),
                        their_flags: RelationFlags(row.get::<_, i64>(5)? as u32),
                        their_privacy: privacy_of(row.get(6)?),
                        groups,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            relations.sort_unstable_by(|a, b| a.other.name.as_str().cmp(b.other.name.as_str()));
            Ok(relations)
        })
    }

    async fn relation_flags(&self, owner: AccountId, target: AccountId) -> Result<RelationFlags, StoreError> {
        let flags: Option<i64> = self.connections.read(|db| {
            db.prepare_cached("SELECT flags FROM contacts WHERE owner_id = ? AND target_id = ?")?
                .query_row([owner.0, target.0], |row| row.get(0))
                .optional()
        })?;
        Ok(RelationFlags(flags.unwrap_or(0) as u32))
    }

    async fn count_with_flag(&self, owner: AccountId, flag: RelationFlags) -> Result<usize, StoreError> {
        let n: i64 = self.connections.read(|db| {
            db.prepare_cached("SELECT COUNT(*) FROM contacts WHERE owner_id = ? AND flags & ? != 0")?
                .query_row([owner.0, i64::from(flag.0)], |row| row.get(0))
        })?;
        Ok(n as usize)
    }

    async fn set_relation(
        &self,
        owner: AccountId,
        target: AccountId,
        flags: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<VersionsAfterChange, StoreError> {
        let display_name = display_name.map(str::to_owned);
        self.connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                let before: Option<i64> = tx
                    .prepare_cached("SELECT flags FROM contacts WHERE owner_id = ? AND target_id = ?")?
                    .query_row([owner.0, target.0], |row| row.get(0))
                    .optional()?;
                let before = RelationFlags(before.unwrap_or(0) as u32);
                if flags.is_empty() {
                    tx.prepare_cached("DELETE FROM contacts WHERE owner_id = ? AND target_id = ?")?
                        .execute([owner.0, target.0])?;
                } else {
                    tx.prepare_cached(
                        "INSERT INTO contacts (owner_id, target_id, flags, display_name)
                         VALUES (?1, ?2, ?3, COALESCE(?4, ''))
                         ON CONFLICT (owner_id, target_id)
                         DO UPDATE SET flags = ?3, display_name = COALESCE(?4, display_name)",
                    )?
                    .execute(params![owner.0, target.0, i64::from(flags.0), display_name])?;
                }
                let owner_version = bump_version(&tx, owner)?;
                let forward_changed = before.contains(RelationFlags::FORWARD) != flags.contains(RelationFlags::FORWARD);
                let target_version = match (forward_changed, owner == target) {
                    (false, _) => None,
                    (true, true) => Some(owner_version),
                    (true, false) => Some(bump_version(&tx, target)?),
                };
                tx.commit()?;
                Ok(VersionsAfterChange { owner: owner_version, target: target_version })
            })
            .await
    }

    async fn profile(&self, id: AccountId) -> Result<Profile, StoreError> {
        let profile = self.connections.read(|db| {
            db.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM accounts WHERE id = ?"))?
                .query_row([id.0], profile_from_row)
                .optional()
        })?;
        profile.ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn set_profile(&self, id: AccountId, profile: &Profile) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE accounts SET ({PROFILE_WRITE_COLUMNS}) = ({}) WHERE id = ?",
            placeholders(PROFILE_WRITE_VALUES)
        );
        let mut values = profile_values(profile);
        values.push(Value::Integer(id.0));
        self.connections.write(move |db| db.prepare_cached(&sql)?.execute(params_from_iter(values)).map(drop)).await
    }

    async fn search(&self, query: &SearchQuery, limit: usize) -> Result<Vec<(Account, Profile)>, StoreError> {
        let (condition, mut values) = search_condition(query);
        let sql =
            format!("SELECT id, name, nickname, {PROFILE_COLUMNS} FROM accounts WHERE {condition} ORDER BY id LIMIT ?");
        values.push(Value::Integer(limit as i64));
        self.connections
            .long_read(move |db| {
                db.prepare(&sql)?
                    .query_map(params_from_iter(values), |row| Ok((account_from_row(row)?, profile_from_row(row)?)))?
                    .collect()
            })
            .await
    }

    async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, StoreError> {
        self.connections.read(|db| {
            db.prepare_cached("SELECT id, name FROM contact_groups WHERE owner_id = ? ORDER BY id")?
                .query_map([owner.0], |row| Ok(ContactGroup { id: GroupId(row.get(0)?), name: row.get(1)? }))?
                .collect()
        })
    }

    async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), StoreError> {
        let name = name.to_owned();
        self.connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                let id: i64 = tx
                    .prepare_cached("INSERT INTO contact_groups (owner_id, name) VALUES (?, ?) RETURNING id")?
                    .query_row(params![owner.0, name], |row| row.get(0))?;
                let version = bump_version(&tx, owner)?;
                tx.commit()?;
                Ok((ContactGroup { id: GroupId(id), name }, version))
            })
            .await
    }

    async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<Option<u32>, StoreError> {
        let name = name.to_owned();
        self.change_lists(owner, move |db| {
            db.prepare_cached("UPDATE contact_groups SET name = ? WHERE id = ? AND owner_id = ?")?
                .execute(params![name, id.0, owner.0])
        })
        .await
    }

    async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<Option<u32>, StoreError> {
        self.change_lists(owner, move |db| {
            db.prepare_cached("DELETE FROM contact_groups WHERE id = ? AND owner_id = ?")?.execute([id.0, owner.0])
        })
        .await
    }

    async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, StoreError> {
        let groups = groups.to_vec();
        self.connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                tx.prepare_cached("DELETE FROM group_members WHERE owner_id = ? AND target_id = ?")?
                    .execute([owner.0, target.0])?;
                for group in groups {
                    // Only the owner's own groups: others are silently not joined.
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO group_members (owner_id, target_id, group_id)
                         SELECT ?1, ?2, id FROM contact_groups WHERE id = ?3 AND owner_id = ?1",
                    )?
                    .execute([owner.0, target.0, group.0])?;
                }
                let version = bump_version(&tx, owner)?;
                tx.commit()?;
                Ok(version)
            })
            .await
    }

    async fn enqueue_offline(&self, message: &OfflineMessage) -> Result<i64, StoreError> {
        let m = message.clone();
        self.connections
            .write(move |db| {
                db.prepare_cached(
                    "INSERT INTO offline_messages (recipient_id, sender_id, kind, text, sent_at)
                     VALUES (?, ?, ?, ?, ?) RETURNING id",
                )?
                .query_row(params![m.recipient.0, m.sender.0, m.kind.code(), m.text, m.sent_at], |row| row.get(0))
            })
            .await
    }

    async fn update_queue(
        &self,
        new: Vec<OfflineMessage>,
        done: Vec<(AccountId, i64)>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        self.connections
            .write(move |db| {
                let tx = write_transaction(db)?;
                let mut ids = Vec::with_capacity(new.len());
                {
                    // Nothing is inserted for an account deleted meanwhile (no row, no id).
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO offline_messages (recipient_id, sender_id, kind, text, sent_at)
                         SELECT ?1, ?2, ?3, ?4, ?5
                         WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1)
                           AND EXISTS (SELECT 1 FROM accounts WHERE id = ?2)
                         RETURNING id",
                    )?;
                    for m in &new {
                        let id = insert
                            .query_row(params![m.recipient.0, m.sender.0, m.kind.code(), m.text, m.sent_at], |row| {
                                row.get(0)
                            })
                            .optional()?;
                        ids.push(id);
                    }
                    let mut delete =
                        tx.prepare_cached("DELETE FROM offline_messages WHERE id = ? AND recipient_id = ?")?;
                    for (recipient, id) in &done {
                        delete.execute([*id, recipient.0])?;
                    }
                }
                tx.commit()?;
                Ok(ids)
            })
            .await
    }

    async fn offline_count(&self, recipient: AccountId) -> Result<usize, StoreError> {
        let n: i64 = self.connections.read(|db| {
            db.prepare_cached("SELECT COUNT(*) FROM offline_messages WHERE recipient_id = ?")?
                .query_row([recipient.0], |row| row.get(0))
        })?;
        Ok(n as usize)
    }

    async fn offline_total(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .connections
            .read(|db| db.prepare_cached("SELECT COUNT(*) FROM offline_messages")?.query_row([], |row| row.get(0)))?;
        Ok(n as u64)
    }

    async fn offline_messages(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, StoreError> {
        self.connections.read(|db| {
            db.prepare_cached(
                "SELECT id, sender_id, kind, text, sent_at FROM offline_messages WHERE recipient_id = ? ORDER BY id",
            )?
            .query_map([recipient.0], |row| stored_message(row, recipient))?
            .collect()
        })
    }

    async fn delete_offline(&self, recipient: AccountId, id: i64) -> Result<bool, StoreError> {
        self.connections
            .write(move |db| {
                db.prepare_cached("DELETE FROM offline_messages WHERE id = ? AND recipient_id = ?")?
                    .execute([id, recipient.0])
                    .map(|n| n > 0)
            })
            .await
    }

    async fn add_broadcast(
        &self,
        sender: AccountId,
        kind: MessageKind,
        text: &str,
        sent_at: i64,
    ) -> Result<i64, StoreError> {
        let text = text.to_owned();
        self.connections
            .write(move |db| {
                db.prepare_cached(
                    "INSERT INTO broadcasts (sender_id, kind, text, sent_at) VALUES (?, ?, ?, ?) RETURNING id",
                )?
                .query_row(params![sender.0, kind.code(), text, sent_at], |row| row.get(0))
            })
            .await
    }

    async fn unseen_broadcasts(&self, recipient: AccountId, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        // Newest first in SQL, turned around here: a subquery with a bound `LIMIT` would be
        // compiled again on every run.
        let mut newest_first: Vec<StoredMessage> = self.connections.read(|db| {
            db.prepare_cached(
                "SELECT id, sender_id, kind, text, sent_at FROM broadcasts
                 WHERE id > (SELECT broadcasts_seen FROM accounts WHERE id = ?) ORDER BY id DESC LIMIT ?",
            )?
            .query_map([recipient.0, limit as i64], |row| stored_message(row, recipient))?
            .collect()
        })?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn export(&self, to: tokio::sync::mpsc::Sender<StoreRows>) -> Result<(), StoreError> {
        self.connections.long_read(move |db| copy::export(db, &to)).await
    }

    async fn import(&self, from: tokio::sync::mpsc::Receiver<StoreRows>) -> Result<(), StoreError> {
        self.connections.write(move |db| copy::import(db, from)).await?
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.connections.long_read(copy::counts).await
    }

    async fn mark_broadcasts_seen(&self, recipient: AccountId, id: i64) -> Result<(), StoreError> {
        self.connections
            .write(move |db| {
                db.prepare_cached("UPDATE accounts SET broadcasts_seen = MAX(broadcasts_seen, ?) WHERE id = ?")?
                    .execute([id, recipient.0])
                    .map(drop)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_write_has_a_value_for_each_of_its_columns() {
        assert_eq!(PROFILE_WRITE_COLUMNS.split(',').count(), PROFILE_WRITE_VALUES);
        assert_eq!(profile_values(&Profile::default()).len(), PROFILE_WRITE_VALUES);
    }
}
