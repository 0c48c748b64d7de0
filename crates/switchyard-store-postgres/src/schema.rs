//! Schema migrations, embedded in the binary and applied at open, together in one transaction.
//! `switchyard_schema` holds the number applied. Nodes starting at once take turns: the first
//! migrates, the others find it done.

use crate::db::{database_error, Db};
use switchyard_core::store::StoreError;

/// In order; migration N is `MIGRATIONS[N - 1]`. Never edit one that has shipped: add another.
const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/0001_initial.sql"), include_str!("../migrations/0002_disabled.sql")];

/// Any number, the same in every node: the advisory lock migrations are applied under.
const MIGRATION_LOCK: i64 = 0x5377_6974_6368_7964; // "Switchyd"

pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    let mut connection = db.connection().await?;
    let tx = connection.client.transaction().await.map_err(database_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(database_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS switchyard_schema (version INTEGER NOT NULL)")
        .await
        .map_err(database_error)?;
    let applied: Option<i32> =
        tx.query_opt("SELECT version FROM switchyard_schema", &[]).await.map_err(database_error)?.map(|row| row.get(0));
    let applied = match applied {
        Some(version) => version as usize,
        None => {
            tx.execute("INSERT INTO switchyard_schema (version) VALUES (0)", &[]).await.map_err(database_error)?;
            0
        }
    };
    let known = MIGRATIONS.len();
    if applied > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {applied}, newer than this server's {known}: use a newer server"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        let failed = |e| StoreError::Backend(format!("migration {version} failed: {}", database_error(e)));
        tx.batch_execute(sql).await.map_err(failed)?;
        tx.execute("UPDATE switchyard_schema SET version = $1", &[&(version as i32)]).await.map_err(failed)?;
        tracing::info!(version, "database schema migrated");
    }
    tx.commit().await.map_err(database_error)
}
