//! `switchyard store copy`: one store's rows into another, checked by counting both.

use anyhow::Context as _;
use switchyard_core::store::copy::StoreCounts;
use switchyard_core::Store;

/// Batches in flight between the reader and the writer: enough to keep both busy.
const BATCHES_IN_FLIGHT: usize = 4;

/// Copies everything `source` holds into `target`, which must hold no accounts, and returns
/// how many rows of each kind were copied once both stores count the same.
pub async fn copy_store(source: &dyn Store, target: &dyn Store) -> anyhow::Result<StoreCounts> {
    let (rows, batches) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
    let (exported, imported) = tokio::join!(source.export(rows), target.import(batches));
    // A failed read ends the writer too ("ended before all rows were sent"): the read's error
    // says why.
    exported.context("reading the source store")?;
    imported.context("writing the target store")?;
    let (expected, found) = (source.counts().await?, target.counts().await?);
    anyhow::ensure!(expected == found, "the copy does not match: the source holds {expected}, the target {found}");
    Ok(found)
}
