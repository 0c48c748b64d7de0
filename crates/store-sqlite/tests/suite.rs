use switchyard_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("switchyard.db")).await.unwrap();
    switchyard_core::store_suite::run(&store).await;
    store.close().await;
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
