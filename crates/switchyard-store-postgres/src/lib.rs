//! PostgreSQL implementation of [`Store`]: the store every node of a cluster shares.
//!
//! Each call is one statement, one round trip, where it can be (every read, and so a whole
//! login); changes that read before they write are transactions that lock the accounts whose
//! list versions they bump, in id order, so that concurrent writers on other connections or
//! other nodes take turns instead of losing an update.

/// The profile's columns: a macro, so that the statements writing them can extend it.
macro_rules! profile_columns {
    () => {
        "first_name, last_name, sex, birthday, city_id, country_id, location, country, province,
         city, address, zipcode, email, phone, homepage, about, school, occupation, blood_type, face, age"
    };
}

/// What a profile write stores: the profile's columns and the search keys derived from them,
/// in the order of [`ProfileValues::params`].
macro_rules! profile_write_columns {
    () => {
        concat!(profile_columns!(), ", first_name_key, last_name_key, email_key")
    };
}

mod copy;
mod db;
mod schema;
#[cfg(feature = "scratch-database")]
pub mod scratch;
mod shared;

use async_trait::async_trait;
use db::{backend, database_error, transaction, Db};
use switchyard_core::account::{Account, AccountId, AccountName};
use switchyard_core::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use switchyard_core::profile::{Date, Profile, SearchQuery, TextMatch};
use switchyard_core::secrets::Secrets;
use switchyard_core::store::codes::{
    add_policy_code, add_policy_of, privacy_code, privacy_of, prompt_code, prompt_of, sex_code, sex_of,
};
use switchyard_core::store::copy::{StoreCounts, StoreRows};
use switchyard_core::store::{
    ContactGroup, GroupId, ListSettings, MessageKind, OfflineMessage, Relation, Store, StoreError, StoredMessage,
    VersionsAfterChange,
};
use switchyard_core::unix_now;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// UINs are 10000 + the never-reused account id, so the first account gets 10001.
const UIN_BASE: i64 = 10000;

/// Pooled connections a node keeps at most (its shared read connections come beside them):
/// writes and list changes of many sessions at once, each holding one for a round trip or a
/// short transaction. More is not faster: on a 2-core box
/// 16 gave 15 % fewer logins per second than 8 (the backends compete for the cores).
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

fn uin_of(id: i64) -> u32 {
    (UIN_BASE + id) as u32
}

pub struct PostgresStore {
    db: Db,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/database`) and brings its
    /// schema up to date. Fails if the database cannot be reached now.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        PostgresStore::open_with(url, DEFAULT_MAX_CONNECTIONS).await
    }

    pub async fn open_with(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let db = Db::connect(url, max_connections)?;
        schema::migrate(&db).await?;
        Ok(PostgresStore { db })
    }

    /// Statements executed so far, each one round trip to the server (once the connection that
    /// ran it had prepared it).
    pub fn round_trips(&self) -> u64 {
        self.db.round_trips()
    }

    /// Runs one change of `owner`'s lists; when it changed anything, bumps their version and
    /// returns it, atomically.
    async fn change_lists(
        &self,
        owner: AccountId,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<u32>, StoreError> {
        transaction!(&self.db, |tx| async {
            if tx.execute(sql, params).await? == 0 {
                return Ok(None);
            }
            Ok(Some(bump_version(&tx, owner).await?))
        })
    }

    /// A setting on the account row itself: the change and the bump are one statement.
    async fn change_setting(&self, id: AccountId, column: Setting, code: i16) -> Result<u32, StoreError> {
        let row = self.db.opt(column.update(), &[&code, &id.0]).await?;
        row.map(|row| version(row.get(0))).ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }
}

/// The list settings kept on the account row.
#[derive(Clone, Copy)]
enum Setting {
    Privacy,
    Prompt,
    AddPolicy,
}

impl Setting {
    fn update(self) -> &'static str {
        match self {
            Setting::Privacy => {
                "UPDATE accounts SET privacy = $1, list_version = list_version + 1 WHERE id = $2 RETURNING list_version"
            }
            Setting::Prompt => {
                "UPDATE accounts SET prompt = $1, list_version = list_version + 1 WHERE id = $2 RETURNING list_version"
            }
            Setting::AddPolicy => {
                "UPDATE accounts SET add_policy = $1, list_version = list_version + 1 WHERE id = $2 RETURNING list_version"
            }
        }
    }
}

type Tx<'a> = db::Connection<'a, deadpool_postgres::Transaction<'a>>;

async fn bump_version(tx: &Tx<'_>, owner: AccountId) -> Result<u32, tokio_postgres::Error> {
    let row = tx
        .one("UPDATE accounts SET list_version = list_version + 1 WHERE id = $1 RETURNING list_version", &[&owner.0])
        .await?;
    Ok(version(row.get(0)))
}

/// Locks the account rows of `ids` (their list versions are about to change), in id order, so
/// that two transactions locking the same two accounts never wait for each other.
async fn lock_accounts(tx: &Tx<'_>, ids: &[i64]) -> Result<(), tokio_postgres::Error> {
    tx.rows("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE", &[&ids]).await.map(drop)
}

fn version(v: i64) -> u32 {
    v as u32
}

/// An account from a row whose first three columns are `id, name, nickname`.
fn account_from_row(row: &Row) -> Result<Account, StoreError> {
    account_at(row, 0)
}

/// An account from `id, name, nickname` starting at column `first`.
fn account_at(row: &Row, first: usize) -> Result<Account, StoreError> {
    let id: i64 = row.get(first);
    let name: &str = row.get(first + 1);
    let name = AccountName::new(name).map_err(|e| StoreError::Backend(format!("account {id}: {e}")))?;
    Ok(Account { id: AccountId(id), name, uin: uin_of(id), nickname: row.get(first + 2) })
}

fn secrets_from_row(row: &Row, first: usize) -> Result<Secrets, StoreError> {
    let verifier: Vec<u8> = row.get(first + 2);
    let verifier = verifier.try_into().map_err(|_| backend("an account has a damaged verifier"))?;
    Ok(Secrets { salt: row.get(first), md5_response: row.get(first + 1), verifier })
}

const PROFILE_COLUMNS: &str = profile_columns!();

type Param<'a> = &'a (dyn ToSql + Sync);

/// A profile's values for the columns of `profile_write_columns!`, typed as the columns are.
struct ProfileValues<'a> {
    profile: &'a Profile,
    codes: [i16; 3],
    birthday: Option<String>,
    places: [i64; 2],
    age: Option<i16>,
    keys: [String; 3],
}

impl<'a> ProfileValues<'a> {
    fn of(p: &'a Profile) -> Self {
        ProfileValues {
            profile: p,
            codes: [sex_code(p.sex), i16::from(p.blood_type), i16::from(p.face)],
            birthday: p.birthday.map(|d| d.to_string()),
            places: [i64::from(p.city_id), i64::from(p.country_id)],
            age: p.age.map(i16::from),
            keys: [p.first_name.to_lowercase(), p.last_name.to_lowercase(), p.email.to_lowercase()],
        }
    }

    fn params(&self) -> [Param<'_>; 24] {
        let p = self.profile;
        [
            &p.first_name,
            &p.last_name,
            &self.codes[0],
            &self.birthday,
            &self.places[0],
            &self.places[1],
            &p.location,
            &p.country,
            &p.province,
            &p.city,
            &p.address,
            &p.zipcode,
            &p.email,
            &p.phone,
            &p.homepage,
            &p.about,
            &p.school,
            &p.occupation,
            &self.codes[1],
            &self.codes[2],
            &self.age,
            &self.keys[0],
            &self.keys[1],
            &self.keys[2],
        ]
    }
}

/// A profile from the [`PROFILE_COLUMNS`] starting at column `first`.
fn profile_from_row(row: &Row, first: usize) -> Profile {
    let text = |i: usize| row.get::<_, String>(first + i);
    let birthday: Option<&str> = row.get(first + 3);
    Profile {
        first_name: text(0),
        last_name: text(1),
        sex: sex_of(row.get::<_, i16>(first + 2).into()),
        birthday: birthday.and_then(Date::parse),
        city_id: row.get::<_, i64>(first + 4) as u32,
        country_id: row.get::<_, i64>(first + 5) as u32,
        location: text(6),
        country: text(7),
        province: text(8),
        city: text(9),
        address: text(10),
        zipcode: text(11),
        email: text(12),
        phone: text(13),
        homepage: text(14),
        about: text(15),
        school: text(16),
        occupation: text(17),
        blood_type: row.get::<_, i16>(first + 18) as u8,
        face: row.get::<_, i16>(first + 19) as u8,
        age: row.get::<_, Option<i16>>(first + 20).map(|age| age as u8),
    }
}

/// A message from a row of `id, sender_id, kind, text, sent_at`.
fn stored_message(row: &Row, recipient: AccountId) -> Result<StoredMessage, StoreError> {
    let kind: i16 = row.get(2);
    let kind = MessageKind::from_code(kind.into()).ok_or_else(|| backend(format!("unknown message kind {kind}")))?;
    Ok(StoredMessage {
        id: row.get(0),
        message: OfflineMessage {
            sender: AccountId(row.get(1)),
            recipient,
            kind,
            text: row.get(3),
            sent_at: row.get(4),
        },
    })
}

/// A search's `WHERE` clause, with `$n` placeholders, and its values.
struct SearchCondition {
    sql: String,
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl SearchCondition {
    fn and(&mut self, condition: &str, value: impl ToSql + Sync + Send + 'static) {
        self.values.push(Box::new(value));
        self.sql.push_str(&condition.replace('?', &format!("${}", self.values.len())));
    }

    fn new(query: &SearchQuery) -> SearchCondition {
        const MONTH: &str = "CAST(substr(birthday, 6, 2) AS INTEGER)";
        const DAY: &str = "CAST(substr(birthday, 9, 2) AS INTEGER)";
        // A disabled account is found by nobody.
        let mut c = SearchCondition { sql: String::from("NOT disabled"), values: Vec::new() };
        if let Some(above) = query.uin_above {
            c.and(" AND id > ?", i64::from(above) - UIN_BASE);
        }
        if let Some(sex) = query.sex {
            c.and(" AND sex = ?", sex_code(sex));
        }
        if let Some(city) = query.city_id {
            c.and(" AND city_id = ?", i64::from(city));
        }
        if let Some(country) = query.country_id {
            c.and(" AND country_id = ?", i64::from(country));
        }
        if let Some(month) = query.birth_month {
            c.and(&format!(" AND {MONTH} = ?"), i32::from(month));
        }
        if let Some(day) = query.birth_day {
            c.and(&format!(" AND {DAY} = ?"), i32::from(day));
        }
        if let Some((from, to)) = query.birthday_window {
            let month_day = format!("({MONTH} * 100 + {DAY})");
            // A window across the year end (from > to) is "after from, or before to".
            let joiner = if from <= to { "AND" } else { "OR" };
            c.and(&format!(" AND birthday IS NOT NULL AND ({month_day} >= ?"), i32::from(from));
            c.and(&format!(" {joiner} {month_day} <= ?)"), i32::from(to));
        }
        if let Some(name) = &query.name {
            c.and(" AND name = ?", name.to_string());
        }
        if let Some(from) = query.born_from {
            c.and(" AND birthday >= ?", from.to_string());
        }
        if let Some(until) = query.born_until {
            c.and(" AND birthday <= ?", until.to_string());
        }
        for (column, matching) in [
            ("nickname_key", &query.nickname),
            ("first_name_key", &query.first_name),
            ("last_name_key", &query.last_name),
            ("email_key", &query.email),
        ] {
            match matching {
                Some(TextMatch::Exact(text)) => c.and(&format!(" AND {column} = ?"), text.to_lowercase()),
                Some(TextMatch::Prefix(text)) => {
                    let escaped = switchyard_core::store::like_escaped(&text.to_lowercase());
                    c.and(&format!(" AND {column} LIKE ? ESCAPE '\\'"), format!("{escaped}%"));
                }
                None => {}
            }
        }
        c
    }
}

/// Every account related to `$1` either way: the related account (`id, name, nickname`), the
/// flags and shown name each way, its privacy and the owner's groups it is in. A macro, so that
/// the list reads can embed it.
macro_rules! relations {
    () => {
        "SELECT a.id, a.name, a.nickname, COALESCE(mine.flags, 0), COALESCE(mine.display_name, ''),
                COALESCE(theirs.flags, 0), a.privacy,
                ARRAY(SELECT group_id FROM group_members g WHERE g.owner_id = $1 AND g.target_id = a.id ORDER BY group_id)
         FROM (SELECT target_id AS id FROM contacts WHERE owner_id = $1
               UNION
               SELECT owner_id FROM contacts WHERE target_id = $1) others
         JOIN accounts a ON a.id = others.id
         LEFT JOIN contacts mine ON mine.owner_id = $1 AND mine.target_id = a.id
         LEFT JOIN contacts theirs ON theirs.owner_id = a.id AND theirs.target_id = $1"
    };
}
const RELATIONS: &str = relations!();

/// The owner's list settings (columns 0–3), then one row per relation (columns 4 on, all NULL
/// when there is none).
const CONTACT_LIST: &str = concat!(
    "SELECT o.list_version, o.privacy, o.prompt, o.add_policy, r.*
     FROM accounts o LEFT JOIN LATERAL (",
    relations!(),
    ") r ON TRUE WHERE o.id = $1"
);

/// [`CONTACT_LIST`] with the owner's groups in creation order as two arrays (ids, names) in
/// columns 4 and 5 of every row; the relations start at column 6.
const CONTACT_LIST_WITH_GROUPS: &str = concat!(
    "SELECT o.list_version, o.privacy, o.prompt, o.add_policy,
            ARRAY(SELECT id FROM contact_groups WHERE owner_id = $1 ORDER BY id),
            ARRAY(SELECT name FROM contact_groups WHERE owner_id = $1 ORDER BY id), r.*
     FROM accounts o LEFT JOIN LATERAL (",
    relations!(),
    ") r ON TRUE WHERE o.id = $1"
);

/// The settings and relations from the rows of [`CONTACT_LIST`] or
/// [`CONTACT_LIST_WITH_GROUPS`], whose relations start at column `first`.
fn contact_list_from_rows(
    owner: AccountId,
    rows: &[Row],
    first: usize,
) -> Result<(ListSettings, Vec<Relation>), StoreError> {
    let top = rows.first().ok_or_else(|| StoreError::Backend(format!("no account {owner}")))?;
    let settings = ListSettings {
        version: version(top.get(0)),
        privacy: privacy_of(top.get::<_, i16>(1).into()),
        prompt: prompt_of(top.get::<_, i16>(2).into()),
        add_policy: add_policy_of(top.get::<_, i16>(3).into()),
    };
    // No relations: one row, its relation columns NULL.
    let related = if top.get::<_, Option<i64>>(first).is_some() { rows } else { &[] };
    Ok((settings, sorted_relations(related, first)?))
}

/// Relations from rows of [`RELATIONS`]'s columns starting at `first`, in name order (byte
/// order, as every store sorts names, whatever the database's collation).
fn sorted_relations(rows: &[Row], first: usize) -> Result<Vec<Relation>, StoreError> {
    let mut relations = rows
        .iter()
        .map(|row| {
            let groups: Vec<i64> = row.get(first + 7);
            Ok(Relation {
                other: account_at(row, first)?.into(),
                display_name: row.get(first + 4),
                flags: RelationFlags(row.get::<_, i64>(first + 3) as u32),
                their_flags: RelationFlags(row.get::<_, i64>(first + 5) as u32),
                their_privacy: privacy_of(row.get::<_, i16>(first + 6).into()),
                groups: groups.into_iter().map(GroupId).collect(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    relations.sort_unstable_by(|a, b| a.other.name.as_str().cmp(b.other.name.as_str()));
    Ok(relations)
}

/// The statement that creates an account: `$1` name, `$2` nickname, `$3` its search key,
/// `$4..$6` the secrets, `$7` now; new accounts start past every broadcast already sent.
const INSERT_ACCOUNT: &str = "INSERT INTO accounts (name, nickname, nickname_key, salt, md5_response, verifier,
                                                   created_at, broadcasts_seen)
     VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(id), 0) FROM broadcasts))
     ON CONFLICT (name) DO NOTHING RETURNING id";

#[async_trait]
impl Store for PostgresStore {
    /// Says how many statements this process ran, for measuring what its work costs.
    async fn close(&self) {
        tracing::info!(round_trips = self.round_trips(), "PostgreSQL store closed");
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
        let s = Secrets::new(password);
        let key = nickname.unwrap_or("").to_lowercase();
        let row = self
            .db
            .opt(
                INSERT_ACCOUNT,
                &[&name.as_str(), &nickname, &key, &s.salt, &s.md5_response, &&s.verifier[..], &unix_now()],
            )
            .await?;
        let id: i64 = row.ok_or_else(|| StoreError::NameTaken(name.clone()))?.get(0);
        Ok(Account { id: AccountId(id), name: name.clone(), uin: uin_of(id), nickname: nickname.map(str::to_owned) })
    }

    async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        let row =
            self.db.read_opt("SELECT id, name, nickname FROM accounts WHERE name = $1", &[&name.as_str()]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = self.db.read_opt("SELECT id, name, nickname FROM accounts WHERE id = $1", &[&id.0]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, StoreError> {
        self.account_by_id(AccountId(i64::from(uin) - UIN_BASE)).await
    }

    async fn create_numbered_account(&self, password: &str) -> Result<Account, StoreError> {
        // The name is the id's UIN, so the id comes first; no other account can take that
        // name meanwhile (names of digits only are refused), but one from before that rule may
        // hold it already.
        let id: i64 = self.db.one("SELECT nextval(pg_get_serial_sequence('accounts', 'id'))", &[]).await?.get(0);
        let uin = uin_of(id);
        let s = Secrets::new(password);
        for name in [uin.to_string(), format!("icq-{uin}")] {
            let inserted = self
                .db
                .opt(
                    "INSERT INTO accounts (id, name, salt, md5_response, verifier, created_at, broadcasts_seen)
                     VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(id), 0) FROM broadcasts))
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&id, &name, &s.salt, &s.md5_response, &&s.verifier[..], &unix_now()],
                )
                .await?;
            if inserted.is_some() {
                let name = AccountName::new(&name).map_err(backend)?;
                return Ok(Account { id: AccountId(id), name, uin, nickname: None });
            }
        }
        Err(StoreError::Backend("both names for a new UIN are taken".into()))
    }

    async fn set_nickname(&self, id: AccountId, nickname: Option<&str>) -> Result<(), StoreError> {
        let key = nickname.unwrap_or("").to_lowercase();
        self.db
            .execute("UPDATE accounts SET nickname = $1, nickname_key = $2 WHERE id = $3", &[&nickname, &key, &id.0])
            .await
            .map(drop)
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        // Byte order, as every store sorts names, whatever the database's collation.
        let rows = self.db.rows("SELECT id, name, nickname FROM accounts ORDER BY name COLLATE \"C\"", &[]).await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn find_accounts(&self, fragment: &str, limit: usize) -> Result<Vec<Account>, StoreError> {
        let pattern = format!("%{}%", switchyard_core::store::like_escaped(fragment));
        let rows = self
            .db
            .rows(
                "SELECT id, name, nickname FROM accounts WHERE name LIKE $1 ESCAPE '\\' ORDER BY name COLLATE \"C\" LIMIT $2",
                &[&pattern, &(limit as i64)],
            )
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM accounts WHERE id = $1", &[&id.0]).await? > 0)
    }

    async fn set_password(&self, id: AccountId, password: &str) -> Result<(), StoreError> {
        let s = Secrets::new(password);
        self.db
            .execute(
                "UPDATE accounts SET salt = $1, md5_response = $2, verifier = $3 WHERE id = $4",
                &[&s.salt, &s.md5_response, &&s.verifier[..], &id.0],
            )
            .await
            .map(drop)
    }

    async fn secrets(&self, id: AccountId) -> Result<Option<Secrets>, StoreError> {
        let row = self
            .db
            .read_opt("SELECT salt, md5_response, verifier FROM accounts WHERE id = $1 AND NOT disabled", &[&id.0])
            .await?;
        row.map(|row| secrets_from_row(&row, 0)).transpose()
    }

    async fn set_disabled(&self, id: AccountId, disabled: bool) -> Result<bool, StoreError> {
        let changed = self.db.execute("UPDATE accounts SET disabled = $1 WHERE id = $2", &[&disabled, &id.0]).await?;
        Ok(changed > 0)
    }

    async fn is_disabled(&self, id: AccountId) -> Result<bool, StoreError> {
        let row = self.db.read_opt("SELECT disabled FROM accounts WHERE id = $1", &[&id.0]).await?;
        Ok(row.is_some_and(|row| row.get(0)))
    }

    async fn account_with_secrets(&self, name: &AccountName) -> Result<Option<(Account, Secrets)>, StoreError> {
        let row = self
            .db
            .read_opt(
                "SELECT id, name, nickname, salt, md5_response, verifier FROM accounts WHERE name = $1 AND NOT disabled",
                &[&name.as_str()],
            )
            .await?;
        row.map(|row| Ok((account_from_row(&row)?, secrets_from_row(&row, 3)?))).transpose()
    }

    async fn list_settings(&self, id: AccountId) -> Result<ListSettings, StoreError> {
        let row = self
            .db
            .read_opt("SELECT list_version, privacy, prompt, add_policy FROM accounts WHERE id = $1", &[&id.0])
            .await?
            .ok_or_else(|| StoreError::Backend(format!("no account {id}")))?;
        Ok(ListSettings {
            version: version(row.get(0)),
            privacy: privacy_of(row.get::<_, i16>(1).into()),
            prompt: prompt_of(row.get::<_, i16>(2).into()),
            add_policy: add_policy_of(row.get::<_, i16>(3).into()),
        })
    }

    async fn set_privacy(&self, id: AccountId, privacy: Privacy) -> Result<u32, StoreError> {
        self.change_setting(id, Setting::Privacy, privacy_code(privacy)).await
    }

    async fn set_prompt(&self, id: AccountId, prompt: ReverseListPrompt) -> Result<u32, StoreError> {
        self.change_setting(id, Setting::Prompt, prompt_code(prompt)).await
    }

    async fn set_add_policy(&self, id: AccountId, policy: AddPolicy) -> Result<u32, StoreError> {
        self.change_setting(id, Setting::AddPolicy, add_policy_code(policy)).await
    }

    async fn relations(&self, owner: AccountId) -> Result<Vec<Relation>, StoreError> {
        // Every login and status change reads this: one statement, memberships included.
        let rows = self.db.read_rows(RELATIONS, &[&owner.0]).await?;
        sorted_relations(&rows, 0)
    }

    async fn contact_list(&self, owner: AccountId) -> Result<(ListSettings, Vec<Relation>), StoreError> {
        let rows = self.db.read_rows(CONTACT_LIST, &[&owner.0]).await?;
        contact_list_from_rows(owner, &rows, 4)
    }

    async fn contact_list_with_groups(
        &self,
        owner: AccountId,
    ) -> Result<(ListSettings, Vec<Relation>, Vec<ContactGroup>), StoreError> {
        let rows = self.db.read_rows(CONTACT_LIST_WITH_GROUPS, &[&owner.0]).await?;
        let (settings, relations) = contact_list_from_rows(owner, &rows, 6)?;
        let (ids, names): (Vec<i64>, Vec<String>) = (rows[0].get(4), rows[0].get(5));
        let groups = ids.into_iter().zip(names).map(|(id, name)| ContactGroup { id: GroupId(id), name }).collect();
        Ok((settings, relations, groups))
    }

    async fn relation_flags(&self, owner: AccountId, target: AccountId) -> Result<RelationFlags, StoreError> {
        let row = self
            .db
            .read_opt("SELECT flags FROM contacts WHERE owner_id = $1 AND target_id = $2", &[&owner.0, &target.0])
            .await?;
        Ok(RelationFlags(row.map_or(0, |row| row.get::<_, i64>(0)) as u32))
    }

    async fn count_with_flag(&self, owner: AccountId, flag: RelationFlags) -> Result<usize, StoreError> {
        let row = self
            .db
            .read_one(
                "SELECT COUNT(*) FROM contacts WHERE owner_id = $1 AND flags & $2 != 0",
                &[&owner.0, &i64::from(flag.0)],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as usize)
    }

    async fn set_relation(
        &self,
        owner: AccountId,
        target: AccountId,
        flags: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<VersionsAfterChange, StoreError> {
        transaction!(&self.db, |tx| async {
            lock_accounts(&tx, &[owner.0, target.0]).await?;
            let before = tx
                .opt("SELECT flags FROM contacts WHERE owner_id = $1 AND target_id = $2", &[&owner.0, &target.0])
                .await?;
            let before = RelationFlags(before.map_or(0, |row| row.get::<_, i64>(0)) as u32);
            if flags.is_empty() {
                tx.execute("DELETE FROM contacts WHERE owner_id = $1 AND target_id = $2", &[&owner.0, &target.0])
                    .await?;
            } else {
                tx.execute(
                    "INSERT INTO contacts (owner_id, target_id, flags, display_name)
                         VALUES ($1, $2, $3, COALESCE($4, ''))
                         ON CONFLICT (owner_id, target_id)
                         DO UPDATE SET flags = $3, display_name = COALESCE($4, contacts.display_name)",
                    &[&owner.0, &target.0, &i64::from(flags.0), &display_name],
                )
                .await?;
            }
            let owner_version = bump_version(&tx, owner).await?;
            let forward_changed = before.contains(RelationFlags::FORWARD) != flags.contains(RelationFlags::FORWARD);
            let target_version = match (forward_changed, owner == target) {
                (false, _) => None,
                (true, true) => Some(owner_version),
                (true, false) => Some(bump_version(&tx, target).await?),
            };
            Ok(VersionsAfterChange { owner: owner_version, target: target_version })
        })
    }

    async fn profile(&self, id: AccountId) -> Result<Profile, StoreError> {
        let row = self.db.opt(&format!("SELECT {PROFILE_COLUMNS} FROM accounts WHERE id = $1"), &[&id.0]).await?;
        row.map(|row| profile_from_row(&row, 0)).ok_or_else(|| StoreError::Backend(format!("no account {id}")))
    }

    async fn set_profile(&self, id: AccountId, profile: &Profile) -> Result<(), StoreError> {
        let values = ProfileValues::of(profile);
        let mut params = values.params().to_vec();
        params.push(&id.0);
        self.db
            .execute(
                concat!(
                    "UPDATE accounts SET (",
                    profile_write_columns!(),
                    ") = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                         $20, $21, $22, $23, $24) WHERE id = $25"
                ),
                &params,
            )
            .await
            .map(drop)
    }

    async fn search(&self, query: &SearchQuery, limit: usize) -> Result<Vec<(Account, Profile)>, StoreError> {
        let mut condition = SearchCondition::new(query);
        condition.and(" ORDER BY id LIMIT ?", limit as i64);
        let sql = format!("SELECT id, name, nickname, {PROFILE_COLUMNS} FROM accounts WHERE {}", condition.sql);
        let params: Vec<&(dyn ToSql + Sync)> = condition.values.iter().map(|v| &**v as _).collect();
        // Not prepared for keeps: criteria combine in too many ways to cache each.
        let connection = self.db.connection().await?;
        let rows = connection.client.query(&sql, &params).await.map_err(database_error)?;
        self.db.count_round_trips(2); // prepared, then run
        rows.iter().map(|row| Ok((account_from_row(row)?, profile_from_row(row, 3)))).collect()
    }

    async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, StoreError> {
        let rows = self
            .db
            .read_rows("SELECT id, name FROM contact_groups WHERE owner_id = $1 ORDER BY id", &[&owner.0])
            .await?;
        Ok(rows.iter().map(|row| ContactGroup { id: GroupId(row.get(0)), name: row.get(1) }).collect())
    }

    async fn groups_or_default(&self, owner: AccountId, default: &str) -> Result<Vec<ContactGroup>, StoreError> {
        let rows = self
            .db
            .rows(
                "WITH existing AS (SELECT id, name FROM contact_groups WHERE owner_id = $1),
                      created AS (INSERT INTO contact_groups (owner_id, name)
                                  SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING id, name),
                      bumped AS (UPDATE accounts SET list_version = list_version + 1 FROM created WHERE accounts.id = $1)
                 SELECT id, name FROM existing UNION ALL SELECT id, name FROM created ORDER BY id",
                &[&owner.0, &default],
            )
            .await?;
        Ok(rows.iter().map(|row| ContactGroup { id: GroupId(row.get(0)), name: row.get(1) }).collect())
    }

    async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), StoreError> {
        // One statement, so no transaction: the new row locks nothing another writer waits for.
        let row = self
            .db
            .one(
                "WITH created AS (INSERT INTO contact_groups (owner_id, name) VALUES ($1, $2) RETURNING id)
                 UPDATE accounts SET list_version = list_version + 1 FROM created WHERE accounts.id = $1
                 RETURNING created.id, list_version",
                &[&owner.0, &name],
            )
            .await?;
        Ok((ContactGroup { id: GroupId(row.get(0)), name: name.to_owned() }, version(row.get(1))))
    }

    async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<Option<u32>, StoreError> {
        self.change_lists(
            owner,
            "UPDATE contact_groups SET name = $1 WHERE id = $2 AND owner_id = $3",
            &[&name, &id.0, &owner.0],
        )
        .await
    }

    async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<Option<u32>, StoreError> {
        self.change_lists(owner, "DELETE FROM contact_groups WHERE id = $1 AND owner_id = $2", &[&id.0, &owner.0]).await
    }

    async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, StoreError> {
        let groups: Vec<i64> = groups.iter().map(|g| g.0).collect();
        transaction!(&self.db, |tx| async {
            lock_accounts(&tx, &[owner.0]).await?;
            tx.execute("DELETE FROM group_members WHERE owner_id = $1 AND target_id = $2", &[&owner.0, &target.0])
                .await?;
            // Only the owner's own groups: others are silently not joined.
            tx.execute(
                "INSERT INTO group_members (owner_id, target_id, group_id)
                     SELECT $1, $2, id FROM contact_groups WHERE id = ANY($3) AND owner_id = $1
                     ON CONFLICT DO NOTHING",
                &[&owner.0, &target.0, &groups],
            )
            .await?;
            bump_version(&tx, owner).await
        })
    }

    async fn enqueue_offline(&self, message: &OfflineMessage) -> Result<i64, StoreError> {
        let m = message;
        let row = self
            .db
            .one(
                "INSERT INTO offline_messages (recipient_id, sender_id, kind, text, sent_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&m.recipient.0, &m.sender.0, &(m.kind.code() as i16), &m.text, &m.sent_at],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn update_queue(
        &self,
        new: Vec<OfflineMessage>,
        done: Vec<(AccountId, i64)>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let recipients: Vec<i64> = new.iter().map(|m| m.recipient.0).collect();
        let senders: Vec<i64> = new.iter().map(|m| m.sender.0).collect();
        let kinds: Vec<i16> = new.iter().map(|m| m.kind.code() as i16).collect();
        let texts: Vec<&str> = new.iter().map(|m| m.text.as_str()).collect();
        let times: Vec<i64> = new.iter().map(|m| m.sent_at).collect();
        let done_recipients: Vec<i64> = done.iter().map(|(recipient, _)| recipient.0).collect();
        let done_ids: Vec<i64> = done.iter().map(|(_, id)| *id).collect();
        transaction!(&self.db, |tx| async {
            // Ids are taken first, in order, so that each message knows its own; nothing is
            // inserted for an account deleted meanwhile (no row, no id).
            let ids: Vec<i64> = if new.is_empty() {
                Vec::new()
            } else {
                tx.rows(
                    "SELECT nextval(pg_get_serial_sequence('offline_messages', 'id')) FROM generate_series(1, $1)",
                    &[&(new.len() as i32)],
                )
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect()
            };
            let mut inserted = std::collections::HashSet::new();
            if !new.is_empty() {
                let rows = tx
                    .rows(
                        "INSERT INTO offline_messages (id, recipient_id, sender_id, kind, text, sent_at)
                             SELECT m.* FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::SMALLINT[],
                                                    $5::TEXT[], $6::BIGINT[]) AS m(id, r, s, k, t, at)
                             WHERE EXISTS (SELECT 1 FROM accounts WHERE id = m.r)
                               AND EXISTS (SELECT 1 FROM accounts WHERE id = m.s)
                             RETURNING id",
                        &[&ids, &recipients, &senders, &kinds, &texts, &times],
                    )
                    .await?;
                inserted.extend(rows.iter().map(|row| row.get::<_, i64>(0)));
            }
            if !done.is_empty() {
                tx.execute(
                    "DELETE FROM offline_messages m USING unnest($1::BIGINT[], $2::BIGINT[]) AS d(id, r)
                         WHERE m.id = d.id AND m.recipient_id = d.r",
                    &[&done_ids, &done_recipients],
                )
                .await?;
            }
            Ok(ids.iter().map(|id| inserted.contains(id).then_some(*id)).collect())
        })
    }

    async fn offline_count(&self, recipient: AccountId) -> Result<usize, StoreError> {
        let row =
            self.db.read_one("SELECT COUNT(*) FROM offline_messages WHERE recipient_id = $1", &[&recipient.0]).await?;
        Ok(row.get::<_, i64>(0) as usize)
    }

    async fn offline_total(&self) -> Result<u64, StoreError> {
        let row = self.db.one("SELECT COUNT(*) FROM offline_messages", &[]).await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn offline_messages(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = self
            .db
            .read_rows(
                "SELECT id, sender_id, kind, text, sent_at FROM offline_messages WHERE recipient_id = $1 ORDER BY id",
                &[&recipient.0],
            )
            .await?;
        rows.iter().map(|row| stored_message(row, recipient)).collect()
    }

    async fn delete_offline(&self, recipient: AccountId, id: i64) -> Result<bool, StoreError> {
        let deleted = self
            .db
            .execute("DELETE FROM offline_messages WHERE id = $1 AND recipient_id = $2", &[&id, &recipient.0])
            .await?;
        Ok(deleted > 0)
    }

    async fn add_broadcast(
        &self,
        sender: AccountId,
        kind: MessageKind,
        text: &str,
        sent_at: i64,
    ) -> Result<i64, StoreError> {
        let row = self
            .db
            .one(
                "INSERT INTO broadcasts (sender_id, kind, text, sent_at) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&sender.0, &(kind.code() as i16), &text, &sent_at],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn unseen_broadcasts(&self, recipient: AccountId, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = self
            .db
            .read_rows(
                "SELECT id, sender_id, kind, text, sent_at FROM
                     (SELECT * FROM broadcasts WHERE id > (SELECT broadcasts_seen FROM accounts WHERE id = $1)
                      ORDER BY id DESC LIMIT $2) newest
                 ORDER BY id",
                &[&recipient.0, &(limit as i64)],
            )
            .await?;
        rows.iter().map(|row| stored_message(row, recipient)).collect()
    }

    async fn waiting_messages(
        &self,
        recipient: AccountId,
        broadcast_limit: usize,
    ) -> Result<(Vec<StoredMessage>, Vec<StoredMessage>), StoreError> {
        let rows = self
            .db
            .read_rows(
                "SELECT id, sender_id, kind, text, sent_at, FALSE FROM offline_messages WHERE recipient_id = $1
                 UNION ALL
                 SELECT * FROM (SELECT id, sender_id, kind, text, sent_at, TRUE FROM broadcasts
                                WHERE id > (SELECT broadcasts_seen FROM accounts WHERE id = $1)
                                ORDER BY id DESC LIMIT $2) newest
                 ORDER BY 6, 1",
                &[&recipient.0, &(broadcast_limit as i64)],
            )
            .await?;
        let (mut queued, mut broadcasts) = (Vec::new(), Vec::new());
        for row in &rows {
            let list = if row.get(5) { &mut broadcasts } else { &mut queued };
            list.push(stored_message(row, recipient)?);
        }
        Ok((queued, broadcasts))
    }

    async fn mark_broadcasts_seen(&self, recipient: AccountId, id: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE accounts SET broadcasts_seen = GREATEST(broadcasts_seen, $1) WHERE id = $2",
                &[&id, &recipient.0],
            )
            .await
            .map(drop)
    }

    async fn export(&self, to: mpsc::Sender<StoreRows>) -> Result<(), StoreError> {
        copy::export(&self.db, to).await
    }

    async fn import(&self, from: mpsc::Receiver<StoreRows>) -> Result<(), StoreError> {
        copy::import(&self.db, from).await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        copy::counts(&self.db).await
    }
}
