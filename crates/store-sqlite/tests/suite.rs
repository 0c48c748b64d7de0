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
