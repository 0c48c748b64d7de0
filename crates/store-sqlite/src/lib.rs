//! SQLite implementation of [`Store`]: one database file in WAL mode, schema migrations
//! embedded in the binary and applied at open.

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::Row;
use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard_core::account::{Account, AccountId, AccountName};
use switchyard_core::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use switchyard_core::profile::{Date, Profile, SearchQuery, Sex, TextMatch};
use switchyard_core::secrets::Secrets;
use switchyard_core::store::{
    ContactGroup, GroupId, ListSettings, MessageKind, OfflineMessage, Relation, Store, StoreError, StoredMessage,
    VersionsAfterChange,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (2, "groups", include_str!("../migrations/0002_groups.sql")),
    (3, "profiles", include_str!("../migrations/0003_profiles.sql")),
    (4, "myicq", include_str!("../migrations/0004_myicq.sql")),
    (5, "secrets", include_str!("../migrations/0005_secrets.sql")),
];

/// UINs are 10000 + the never-reused account id, so the first account gets 10001.
const UIN_BASE: i64 = 10000;

fn uin_of(id: i64) -> u32 {
    (UIN_BASE + id) as u32
}

pub struct SqliteStore {
    pool: SqlitePool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // SQLite runs one writer at a time; a few connections let reads proceed beside it.
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(backend)?;
        let migrator = Migrator {
            migrations: Cow::Owned(
                MIGRATIONS
                    .iter()
                    .map(|(version, name, sql)| {
                        Migration::new(*version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false)
                    })
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        migrator.run(&pool).await.map_err(backend)?;
        let store = SqliteStore { pool };
        store.replace_stored_passwords().await?;
        Ok(store)
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A deferred one that
    /// reads first and writes later fails with `SQLITE_BUSY_SNAPSHOT` when another connection
    /// wrote in between, which no busy timeout waits out; an immediate one waits its turn.
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Turns the passwords of accounts created before migration 5 into secrets.
    async fn replace_stored_passwords(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, password FROM accounts WHERE password != ''")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
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
    async fn change_lists<'q>(
        &self,
        owner: AccountId,
        change: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<Option<u32>, StoreError> {
        let mut tx = self.write_transaction().await.map_err(backend)?;
        if change.execute(&mut *tx).await.map_err(backend)?.rows_affected() == 0 {
            return Ok(None);
        }
        let version = bump_version(&mut tx, owner).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(version))
    }

    /// Waits for running queries and closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn account_from_row(row: &SqliteRow) -> Result<Account, StoreError> {
    let name: String = row.try_get("name").map_err(backend)?;
    let id: i64 = row.try_get("id").map_err(backend)?;
    Ok(Account {
        id: AccountId(id),
        name: AccountName::new(&name).map_err(backend)?,
        uin: uin_of(id),
        nickname: row.try_get("nickname").map_err(backend)?,
    })
}

async fn bump_version(tx: &mut sqlx::SqliteConnection, owner: AccountId) -> Result<u32, StoreError> {
    let v: i64 =
        sqlx::query_scalar("UPDATE accounts SET list_version = list_version + 1 WHERE id = ? RETURNING list_version")
            .bind(owner.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    Ok(version(v))
}

fn privacy_of(stored: i64) -> Privacy {
    if stored == 0 {
        Privacy::AllowUnlisted
    } else {
        Privacy::BlockUnlisted
    }
}

fn version(v: i64) -> u32 {
    v as u32
}

const ACCOUNT_COLUMNS: &str = "id, name, nickname";
const PROFILE_COLUMNS: &str = "first_name, last_name, sex, birthday, city_id, country_id, location, country, province,
     city, address, zipcode, email, phone, homepage, about, school, occupation, blood_type, face, age";

fn profile_from_row(row: &SqliteRow) -> Result<Profile, StoreError> {
    let sex: i64 = row.try_get("sex").map_err(backend)?;
    let birthday: Option<String> = row.try_get("birthday").map_err(backend)?;
    Ok(Profile {
        first_name: row.try_get("first_name").map_err(backend)?,
        last_name: row.try_get("last_name").map_err(backend)?,
        sex: match sex {
            1 => Sex::Male,
            2 => Sex::Female,
            _ => Sex::Unknown,
        },
        birthday: birthday.as_deref().and_then(Date::parse),
        city_id: row.try_get::<i64, _>("city_id").map_err(backend)? as u32,
        country_id: row.try_get::<i64, _>("country_id").map_err(backend)? as u32,
        location: row.try_get("location").map_err(backend)?,
        country: row.try_get("country").map_err(backend)?,
        province: row.try_get("province").map_err(backend)?,
        city: row.try_get("city").map_err(backend)?,
        address: row.try_get("address").map_err(backend)?,
        zipcode: row.try_get("zipcode").map_err(backend)?,
        email: row.try_get("email").map_err(backend)?,
        phone: row.try_get("phone").map_err(backend)?,
        homepage: row.try_get("homepage").map_err(backend)?,
        about: row.try_get("about").map_err(backend)?,
        school: row.try_get("school").map_err(backend)?,
        occupation: row.try_get("occupation").map_err(backend)?,
        blood_type: row.try_get::<i64, _>("blood_type").map_err(backend)? as u8,
        face: row.try_get::<i64, _>("face").map_err(backend)? as u8,
        age: row.try_get::<Option<i64>, _>("age").map_err(backend)?.map(|age| age as u8),
    })
}

fn add_policy_of(stored: i64) -> AddPolicy {
    match stored {
        1 => AddPolicy::AskFirst,
        2 => AddPolicy::Nobody,
        _ => AddPolicy::Anyone,
    }
}

fn add_policy_code(policy: AddPolicy) -> i64 {
    match policy {
        AddPolicy::Anyone => 0,
        AddPolicy::AskFirst => 1,
        AddPolicy::Nobody => 2,
    }
}

fn stored_message(row: &SqliteRow, recipient: AccountId) -> Result<StoredMessage, StoreError> {
    let kind: i64 = row.get("kind");
    Ok(StoredMessage {
        id: row.get("id"),
        message: OfflineMessage {
            sender: AccountId(row.get("sender_id")),
            recipient,
            kind: MessageKind::from_code(kind).ok_or_else(|| backend(format!("unknown kind {kind}")))?,
            text: row.get("text"),
            sent_at: row.get("sent_at"),
        },
    })
}

fn sex_code(sex: Sex) -> i64 {
    match sex {
        Sex::Unknown => 0,
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

/// A value bound to a search placeholder.
enum Value {
    Text(String),
    Int(i64),
}

/// `column = ?` or `column LIKE ? ESCAPE '\'` on a lower-cased key column.
fn text_condition(column: &str, matching: &TextMatch, sql: &mut String, values: &mut Vec<Value>) {
    match matching {
        TextMatch::Exact(text) => {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(Value::Text(text.to_lowercase()));
        }
        TextMatch::Prefix(text) => {
            let escaped: String = text
                .to_lowercase()
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            sql.push_str(&format!(" AND {column} LIKE ? ESCAPE '\\'"));
            values.push(Value::Text(format!("{escaped}%")));
        }
    }
}

const BIRTH_MONTH: &str = "CAST(substr(birthday, 6, 2) AS INTEGER)";
const BIRTH_DAY: &str = "CAST(substr(birthday, 9, 2) AS INTEGER)";

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(
        &self,
        name: &AccountName,
        password: &str,
        nickname: Option<&str>,
    ) -> Result<Account, StoreError> {
        let secrets = Secrets::new(password);
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO accounts (name, nickname, nickname_key, password, salt, md5_response, verifier, created_at,
                                   broadcasts_seen)
             VALUES (?, ?, ?, '', ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM broadcasts)) RETURNING id",
        )
        .bind(name.as_str())
        .bind(nickname)
        .bind(nickname.unwrap_or("").to_lowercase())
        .bind(secrets.salt)
        .bind(secrets.md5_response)
        .bind(&secrets.verifier[..])
        .bind(now())
        .fetch_one(&self.pool)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::NameTaken(name.clone()))
            }
            Err(e) => return Err(backend(e)),
        };
        Ok(Account { id: AccountId(id), name: name.clone(), uin: uin_of(id), nickname: nickname.map(str::to_owned) })
    }

    async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?"))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, StoreError> {
        self.account_by_id(AccountId(i64::from(uin) - UIN_BASE)).await
    }

    async fn create_numbered_account(&self, password: &str) -> Result<Account, StoreError> {
        let secrets = Secrets::new(password);
        let mut tx = self.write_transaction().await.map_err(backend)?;
        // The name depends on the id, known only once inserted: a placeholder no valid name can
        // equal holds the row until then, inside the one transaction.
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, password, salt, md5_response, verifier, created_at, broadcasts_seen)
             VALUES ('#registering', '', ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM broadcasts)) RETURNING id",
        )
        .bind(secrets.salt)
        .bind(secrets.md5_response)
        .bind(&secrets.verifier[..])
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let uin = uin_of(id);
        for candidate in [uin.to_string(), format!("icq-{uin}")] {
            let renamed = sqlx::query("UPDATE accounts SET name = ? WHERE id = ?")
                .bind(&candidate)
                .bind(id)
                .execute(&mut *tx)
                .await;
            match renamed {
                Ok(_) => {
                    tx.commit().await.map_err(backend)?;
                    let name = AccountName::new(&candidate).map_err(backend)?;
                    return Ok(Account { id: AccountId(id), name, uin, nickname: None });
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Backend(format!("both names for UIN {uin} are taken")))
    }

    async fn set_nickname(&self, id: AccountId, nickname: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET nickname = ?, nickname_key = ? WHERE id = ?")
            .bind(nickname)
            .bind(nickname.unwrap_or("").to_lowercase())
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(account_from_row).collect()
    }

    async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM accounts WHERE id = ?").bind(id.0).execute(&self.pool).await.map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password(&self, id: AccountId, password: &str) -> Result<(), StoreError> {
        let secrets = Secrets::new(password);
        sqlx::query("UPDATE accounts SET password = '', salt = ?, md5_response = ?, verifier = ? WHERE id = ?")
            .bind(secrets.salt)
            .bind(secrets.md5_response)
            .bind(&secrets.verifier[..])
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn secrets(&self, id: AccountId) -> Result<Option<Secrets>, StoreError> {
        let row: Option<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT salt, md5_response, verifier FROM accounts WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.map(|(salt, md5_response, verifier)| {
            let verifier = verifier.try_into().map_err(|_| backend(format!("account {id} has a damaged verifier")))?;
            Ok(Secrets { salt, md5_response, verifier })
        })
        .transpose()
    }

    async fn list_settings(&self, id: AccountId) -> Result<ListSettings, StoreError> {
        let row = sqlx::query("SELECT list_version, privacy, prompt, add_policy FROM accounts WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::Backend(format!("no account {id}")))?;
        let privacy: i64 = row.get("privacy");
        let prompt: i64 = row.get("prompt");
        Ok(ListSettings {
            version: version(row.get("list_version")),
            privacy: privacy_of(privacy),
            prompt: if prompt == 0 { ReverseListPrompt::Ask } else { ReverseListPrompt::AllowAutomatically },
            add_policy: add_policy_of(row.get("add_policy")),
        })
    }

    async fn set_add_policy(&self, id: AccountId, policy: AddPolicy) -> Result<u32, StoreError> {
        let update =
            sqlx::query("UPDATE accounts SET add_policy = ? WHERE id = ?").bind(add_policy_code(policy)).bind(id.0);
        self.change_lists(id, update).await?.ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn set_privacy(&self, id: AccountId, privacy: Privacy) -> Result<u32, StoreError> {
        let value = i64::from(privacy == Privacy::BlockUnlisted);
        let update = sqlx::query("UPDATE accounts SET privacy = ? WHERE id = ?").bind(value).bind(id.0);
        self.change_lists(id, update).await?.ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn set_prompt(&self, id: AccountId, prompt: ReverseListPrompt) -> Result<u32, StoreError> {
        let value = i64::from(prompt == ReverseListPrompt::AllowAutomatically);
        let update = sqlx::query("UPDATE accounts SET prompt = ? WHERE id = ?").bind(value).bind(id.0);
        self.change_lists(id, update).await?.ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn relations(&self, owner: AccountId) -> Result<Vec<Relation>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.nickname,
                    COALESCE(mine.flags, 0) AS flags, COALESCE(mine.display_name, '') AS display_name,
                    COALESCE(theirs.flags, 0) AS their_flags, a.privacy AS their_privacy,
                    (SELECT group_concat(group_id) FROM group_members g
                     WHERE g.owner_id = ?1 AND g.target_id = a.id) AS groups
             FROM accounts a
             LEFT JOIN contacts mine ON mine.owner_id = ?1 AND mine.target_id = a.id
             LEFT JOIN contacts theirs ON theirs.owner_id = a.id AND theirs.target_id = ?1
             WHERE a.id IN (SELECT target_id FROM contacts WHERE owner_id = ?1
                            UNION SELECT owner_id FROM contacts WHERE target_id = ?1)
             ORDER BY a.name",
        )
        .bind(owner.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let account = account_from_row(row)?;
                // Memberships come as one comma-separated column: one round trip, not two.
                let groups: Option<String> = row.get("groups");
                let mut groups: Vec<GroupId> =
                    groups.iter().flat_map(|g| g.split(',')).filter_map(|id| id.parse().ok()).map(GroupId).collect();
                groups.sort();
                Ok(Relation {
                    other: account.to_ref(),
                    display_name: row.get("display_name"),
                    flags: RelationFlags(row.get::<i64, _>("flags") as u32),
                    their_flags: RelationFlags(row.get::<i64, _>("their_flags") as u32),
                    their_privacy: privacy_of(row.get("their_privacy")),
                    groups,
                })
            })
            .collect()
    }

    async fn relation_flags(&self, owner: AccountId, target: AccountId) -> Result<RelationFlags, StoreError> {
        let flags: Option<i64> = sqlx::query_scalar("SELECT flags FROM contacts WHERE owner_id = ? AND target_id = ?")
            .bind(owner.0)
            .bind(target.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(RelationFlags(flags.unwrap_or(0) as u32))
    }

    async fn count_with_flag(&self, owner: AccountId, flag: RelationFlags) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE owner_id = ? AND flags & ? != 0")
            .bind(owner.0)
            .bind(i64::from(flag.0))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(n as usize)
    }

    async fn set_relation(
        &self,
        owner: AccountId,
        target: AccountId,
        flags: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<VersionsAfterChange, StoreError> {
        let mut tx = self.write_transaction().await.map_err(backend)?;
        let before: Option<i64> = sqlx::query_scalar("SELECT flags FROM contacts WHERE owner_id = ? AND target_id = ?")
            .bind(owner.0)
            .bind(target.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let before = RelationFlags(before.unwrap_or(0) as u32);
        if flags.is_empty() {
            sqlx::query("DELETE FROM contacts WHERE owner_id = ? AND target_id = ?")
                .bind(owner.0)
                .bind(target.0)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        } else {
            sqlx::query(
                "INSERT INTO contacts (owner_id, target_id, flags, display_name) VALUES (?1, ?2, ?3, COALESCE(?4, ''))
                 ON CONFLICT (owner_id, target_id)
                 DO UPDATE SET flags = ?3, display_name = COALESCE(?4, display_name)",
            )
            .bind(owner.0)
            .bind(target.0)
            .bind(i64::from(flags.0))
            .bind(display_name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let owner_version = bump_version(&mut tx, owner).await?;
        let forward_changed = before.contains(RelationFlags::FORWARD) != flags.contains(RelationFlags::FORWARD);
        let target_version = match (forward_changed, owner == target) {
            (false, _) => None,
            (true, true) => Some(owner_version),
            (true, false) => Some(bump_version(&mut tx, target).await?),
        };
        tx.commit().await.map_err(backend)?;
        Ok(VersionsAfterChange { owner: owner_version, target: target_version })
    }

    async fn profile(&self, id: AccountId) -> Result<Profile, StoreError> {
        let row = sqlx::query(&format!("SELECT {PROFILE_COLUMNS} FROM accounts WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::Backend(format!("no account {id}")))?;
        profile_from_row(&row)
    }

    async fn set_profile(&self, id: AccountId, profile: &Profile) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET first_name = ?, last_name = ?, sex = ?, birthday = ?, city_id = ?, country_id = ?,
                 location = ?, first_name_key = ?, last_name_key = ?, country = ?, province = ?, city = ?,
                 address = ?, zipcode = ?, email = ?, email_key = ?, phone = ?, homepage = ?, about = ?,
                 school = ?, occupation = ?, blood_type = ?, face = ?, age = ? WHERE id = ?",
        )
        .bind(&profile.first_name)
        .bind(&profile.last_name)
        .bind(sex_code(profile.sex))
        .bind(profile.birthday.map(|d| d.to_string()))
        .bind(i64::from(profile.city_id))
        .bind(i64::from(profile.country_id))
        .bind(&profile.location)
        .bind(profile.first_name.to_lowercase())
        .bind(profile.last_name.to_lowercase())
        .bind(&profile.country)
        .bind(&profile.province)
        .bind(&profile.city)
        .bind(&profile.address)
        .bind(&profile.zipcode)
        .bind(&profile.email)
        .bind(profile.email.to_lowercase())
        .bind(&profile.phone)
        .bind(&profile.homepage)
        .bind(&profile.about)
        .bind(&profile.school)
        .bind(&profile.occupation)
        .bind(i64::from(profile.blood_type))
        .bind(i64::from(profile.face))
        .bind(profile.age.map(i64::from))
        .bind(id.0)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn search(&self, query: &SearchQuery, limit: usize) -> Result<Vec<(Account, Profile)>, StoreError> {
        let mut sql = format!("SELECT {ACCOUNT_COLUMNS}, {PROFILE_COLUMNS} FROM accounts WHERE 1 = 1");
        let mut values = Vec::new();
        let mut int = |sql: &mut String, condition: &str, value: i64| {
            sql.push_str(condition);
            values.push(Value::Int(value));
        };
        if let Some(above) = query.uin_above {
            int(&mut sql, " AND id > ?", i64::from(above) - UIN_BASE);
        }
        if let Some(sex) = query.sex {
            int(&mut sql, " AND sex = ?", sex_code(sex));
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
            values.push(Value::Int(i64::from(from)));
            values.push(Value::Int(i64::from(to)));
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
        sql.push_str(" ORDER BY id LIMIT ?");
        let mut statement = sqlx::query(&sql);
        for value in values {
            statement = match value {
                Value::Text(text) => statement.bind(text),
                Value::Int(n) => statement.bind(n),
            };
        }
        let rows = statement.bind(limit as i64).fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(|row| Ok((account_from_row(row)?, profile_from_row(row)?))).collect()
    }

    async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM contact_groups WHERE owner_id = ? ORDER BY id")
            .bind(owner.0)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|row| ContactGroup { id: GroupId(row.get("id")), name: row.get("name") }).collect())
    }

    async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), StoreError> {
        let mut tx = self.write_transaction().await.map_err(backend)?;
        let id: i64 = sqlx::query_scalar("INSERT INTO contact_groups (owner_id, name) VALUES (?, ?) RETURNING id")
            .bind(owner.0)
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let version = bump_version(&mut tx, owner).await?;
        tx.commit().await.map_err(backend)?;
        Ok((ContactGroup { id: GroupId(id), name: name.to_owned() }, version))
    }

    async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<Option<u32>, StoreError> {
        let rename = sqlx::query("UPDATE contact_groups SET name = ? WHERE id = ? AND owner_id = ?")
            .bind(name)
            .bind(id.0)
            .bind(owner.0);
        self.change_lists(owner, rename).await
    }

    async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<Option<u32>, StoreError> {
        let delete = sqlx::query("DELETE FROM contact_groups WHERE id = ? AND owner_id = ?").bind(id.0).bind(owner.0);
        self.change_lists(owner, delete).await
    }

    async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, StoreError> {
        let mut tx = self.write_transaction().await.map_err(backend)?;
        sqlx::query("DELETE FROM group_members WHERE owner_id = ? AND target_id = ?")
            .bind(owner.0)
            .bind(target.0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for group in groups {
            // Only the owner's own groups: others are silently not joined.
            sqlx::query(
                "INSERT OR IGNORE INTO group_members (owner_id, target_id, group_id)
                 SELECT ?1, ?2, id FROM contact_groups WHERE id = ?3 AND owner_id = ?1",
            )
            .bind(owner.0)
            .bind(target.0)
            .bind(group.0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let version = bump_version(&mut tx, owner).await?;
        tx.commit().await.map_err(backend)?;
        Ok(version)
    }

    async fn enqueue_offline(&self, message: &OfflineMessage) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO offline_messages (recipient_id, sender_id, kind, text, sent_at)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(message.recipient.0)
        .bind(message.sender.0)
        .bind(message.kind.code())
        .bind(&message.text)
        .bind(message.sent_at)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn offline_count(&self, recipient: AccountId) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM offline_messages WHERE recipient_id = ?")
            .bind(recipient.0)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(n as usize)
    }

    async fn offline_messages(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, sender_id, kind, text, sent_at FROM offline_messages WHERE recipient_id = ? ORDER BY id",
        )
        .bind(recipient.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| stored_message(row, recipient)).collect()
    }

    async fn delete_offline(&self, recipient: AccountId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM offline_messages WHERE id = ? AND recipient_id = ?")
            .bind(id)
            .bind(recipient.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_broadcast(
        &self,
        sender: AccountId,
        kind: MessageKind,
        text: &str,
        sent_at: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO broadcasts (sender_id, kind, text, sent_at) VALUES (?, ?, ?, ?) RETURNING id")
            .bind(sender.0)
            .bind(kind.code())
            .bind(text)
            .bind(sent_at)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn unseen_broadcasts(&self, recipient: AccountId, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT b.id, b.sender_id, b.kind, b.text, b.sent_at FROM broadcasts b, accounts a
                            WHERE a.id = ? AND b.id > a.broadcasts_seen ORDER BY b.id DESC LIMIT ?)
             ORDER BY id",
        )
        .bind(recipient.0)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| stored_message(row, recipient)).collect()
    }

    async fn mark_broadcasts_seen(&self, recipient: AccountId, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET broadcasts_seen = MAX(broadcasts_seen, ?) WHERE id = ?")
            .bind(id)
            .bind(recipient.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
