//! Schema migrations, embedded in the binary and applied at open. The database's `user_version`
//! is the number of migrations applied.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// In order; migration N is `MIGRATIONS[N - 1]`. Never edit one that has shipped: add another.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_groups.sql"),
    include_str!("../migrations/0003_profiles.sql"),
    include_str!("../migrations/0004_myicq.sql"),
    include_str!("../migrations/0005_secrets.sql"),
    include_str!("../migrations/0006_disabled.sql"),
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    #[error("the database has schema version {found}, newer than this server's {known}: use a newer server")]
    TooNew { found: i64, known: usize },
    #[error("migration {version} failed: {source}")]
    Failed { version: usize, source: rusqlite::Error },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies the migrations the database lacks, each in its own transaction.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), MigrationError> {
    let mut applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if applied == 0 {
        applied = applied_by_sqlx(connection)?;
    }
    let known = MIGRATIONS.len();
    if applied > known as i64 {
        return Err(MigrationError::TooNew { found: applied, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = index + 1;
        let failed = |source| MigrationError::Failed { version, source };
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
        transaction.execute_batch(sql).map_err(failed)?;
        transaction.pragma_update(None, "user_version", version as i64).map_err(failed)?;
        transaction.commit().map_err(failed)?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

/// Databases written by versions that used sqlx record their migrations in `_sqlx_migrations`
/// instead of `user_version`; the same migrations, so that count carries over.
fn applied_by_sqlx(connection: &Connection) -> rusqlite::Result<i64> {
    let has_table = connection
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'", [], |_| Ok(()))
        .optional()?
        .is_some();
    if !has_table {
        return Ok(0);
    }
    connection.query_row("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success", [], |row| row.get(0))
}
