use switchyard_core::Store;
use switchyard_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("switchyard.db")).await.unwrap();
    switchyard_core::store_suite::run(&store).await;
    store.close().await;
}

/// Two stores on one file, as the server and the admin CLI are: each its own connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_keep_concurrent_writers_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    let a: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let b: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    switchyard_core::store_suite::run_concurrent(a, b).await;
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let name = switchyard_core::AccountName::new("zed").unwrap();
    use switchyard_core::Store;
    let created = store.create_account(&name, "pw", None).await.unwrap();
    store.close().await;
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(reopened.account_by_name(&name).await.unwrap(), Some(created));
}

#[tokio::test]
async fn passwords_stored_before_the_secrets_migration_are_replaced_at_open() {
    use switchyard_core::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let name = switchyard_core::AccountName::new("old").unwrap();
    let account = store.create_account(&name, "unused", None).await.unwrap();
    store.close().await;
    drop(store);
    // What a database written before migration 5 holds: the password itself, no secrets.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE accounts SET password = 'legacy', salt = '', md5_response = '', verifier = x''", []).unwrap();
    drop(db);

    let reopened = SqliteStore::open(&path).await.unwrap();
    let secrets = reopened.secrets(account.id).await.unwrap().unwrap();
    assert!(secrets.accepts_password("legacy") && !secrets.accepts_password("unused"));
    reopened.close().await;
    let db = rusqlite::Connection::open(&path).unwrap();
    let left: Vec<String> = db
        .prepare("SELECT password FROM accounts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(left, vec![String::new()], "no password is left in the file");
}

/// Databases of earlier versions counted their migrations in sqlx's own table.
#[tokio::test]
async fn a_database_migrated_by_sqlx_is_not_migrated_again() {
    use switchyard_core::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let name = switchyard_core::AccountName::new("kept").unwrap();
    store.create_account(&name, "pw", None).await.unwrap();
    store.close().await;
    drop(store);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "PRAGMA user_version = 0;
         ALTER TABLE accounts DROP COLUMN disabled; -- what came after the sqlx era
         CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (1, 'initial', 1, x'', 0), (2, 'groups', 1, x'', 0), (3, 'profiles', 1, x'', 0),
                (4, 'myicq', 1, x'', 0), (5, 'secrets', 1, x'', 0);",
    )
    .unwrap();
    drop(db);

    let reopened = SqliteStore::open(&path).await.expect("the applied migrations are recognized");
    assert!(reopened.account_by_name(&name).await.unwrap().is_some());
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    rusqlite::Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    let refused = SqliteStore::open(&path).await.err().expect("refused");
    assert!(refused.to_string().contains("newer"), "{refused}");
}

/// Reads on the runtime's threads and writes on blocking threads, many at once: every write is
/// seen by the reads after it, and none fails for a busy database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_and_writes_agree() {
    use std::sync::Arc;
    use switchyard_core::{AccountName, RelationFlags, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("switchyard.db")).await.unwrap());
    let hub = store.create_account(&AccountName::new("hub").unwrap(), "pw", None).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.spawn(async move {
            let name = AccountName::new(&format!("user{i}")).unwrap();
            let account = store.create_account(&name, "pw", None).await.unwrap();
            store.set_relation(account.id, hub.id, RelationFlags::FORWARD, Some("hub")).await.unwrap();
            // Read back at once, from whichever reader this thread gets.
            assert_eq!(store.account_by_name(&name).await.unwrap(), Some(account.clone()));
            assert_eq!(store.relation_flags(account.id, hub.id).await.unwrap(), RelationFlags::FORWARD);
            let (found, _) = store.account_with_secrets(&name).await.unwrap().unwrap();
            assert_eq!(found, account);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let watchers = store.relations(hub.id).await.unwrap();
    assert_eq!(watchers.len(), 64);
    assert!(watchers.iter().all(|r| r.their_flags == RelationFlags::FORWARD));
}
