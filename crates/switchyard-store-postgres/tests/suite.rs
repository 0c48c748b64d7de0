//! The conformance suite on PostgreSQL, each test in a database of its own.

use std::sync::Arc;
use switchyard_core::{AccountName, Store};
use switchyard_store_postgres::scratch::ScratchDatabase;
use switchyard_store_postgres::PostgresStore;

#[tokio::test]
async fn postgres_store_passes_the_conformance_suite() {
    let database = ScratchDatabase::create().await;
    let store = PostgresStore::open(&database.url).await.unwrap();
    switchyard_core::store_suite::run(&store).await;
}

/// Two stores on one database, as two nodes are: each its own pool of connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_keep_concurrent_writers_apart() {
    let database = ScratchDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(PostgresStore::open(&database.url).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(PostgresStore::open(&database.url).await.unwrap());
    switchyard_core::store_suite::run_concurrent(a, b).await;
}

#[tokio::test]
async fn data_survives_reopening_and_migrating_twice_changes_nothing() {
    let database = ScratchDatabase::create().await;
    let name = AccountName::new("zed").unwrap();
    let created = PostgresStore::open(&database.url).await.unwrap().create_account(&name, "pw", None).await.unwrap();
    let reopened = PostgresStore::open(&database.url).await.unwrap();
    assert_eq!(reopened.account_by_name(&name).await.unwrap(), Some(created));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let database = ScratchDatabase::create().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { PostgresStore::open(&url).await.map(drop) })
        })
        .collect();
    for open in opens {
        open.await.unwrap().expect("every node opens the store");
    }
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let database = ScratchDatabase::create().await;
    drop(PostgresStore::open(&database.url).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("UPDATE switchyard_schema SET version = 99").await.unwrap();
    let refused = PostgresStore::open(&database.url).await.err().expect("refused");
    assert!(refused.to_string().contains("newer"), "{refused}");
}

/// A login reads what it needs in one statement per store call: an MRIM login and logout (its
/// secrets, its list with groups, its waiting messages, its watchers when it leaves) are four.
#[tokio::test]
async fn each_read_is_one_round_trip() {
    let database = ScratchDatabase::create().await;
    let store = PostgresStore::open(&database.url).await.unwrap();
    let name = AccountName::new("counted").unwrap();
    let account = store.create_account(&name, "pw", None).await.unwrap();
    store.create_group(account.id, "General").await.unwrap();
    let login_and_logout = || async {
        store.account_with_secrets(&name).await.unwrap();
        store.contact_list_with_groups(account.id).await.unwrap();
        store.waiting_messages(account.id, 10).await.unwrap();
        store.relations(account.id).await.unwrap();
    };
    // Prepared on the (one, idle) connection first.
    login_and_logout().await;
    let before = store.round_trips();
    login_and_logout().await;
    assert_eq!(store.round_trips() - before, 4);
}

/// Reads of many sessions at once are pipelined on the shared connections instead of each taking
/// a pooled one: 200 concurrent logins' reads leave the database with the migration's pooled
/// connection and the shared ones (two beside a pool of eight), not a pool's worth.
#[tokio::test]
async fn concurrent_reads_share_a_few_pipelined_connections() {
    let database = ScratchDatabase::create().await;
    let store = Arc::new(PostgresStore::open(&database.url).await.unwrap());
    let name = AccountName::new("shared").unwrap();
    let account = store.create_account(&name, "pw", None).await.unwrap();
    let reads: Vec<_> = (0..200)
        .map(|_| {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move {
                store.account_with_secrets(&name).await.unwrap().expect("found");
                store.contact_list_with_groups(account.id).await.unwrap();
            })
        })
        .collect();
    for read in reads {
        read.await.unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'switchyard'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
}
