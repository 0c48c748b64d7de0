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
    use sqlx::Connection;
    use switchyard_core::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let name = switchyard_core::AccountName::new("old").unwrap();
    let account = store.create_account(&name, "unused", None).await.unwrap();
    store.close().await;
    // What a database written before migration 5 holds: the password itself, no secrets.
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("UPDATE accounts SET password = 'legacy', salt = '', md5_response = '', verifier = x''")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let reopened = SqliteStore::open(&path).await.unwrap();
    let secrets = reopened.secrets(account.id).await.unwrap().unwrap();
    assert!(secrets.accepts_password("legacy") && !secrets.accepts_password("unused"));
    reopened.close().await;
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT password FROM accounts").fetch_all(&mut db).await.unwrap();
    assert_eq!(left, vec![String::new()], "no password is left in the file");
}
