//! Loading a data directory (`products_list.csv` and `purchases.csv`) into a store.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use icash_core::Store;
use icash_core::import::{self, ImportError, ImportReport, Policy};

/// The catalog's file name in a data directory.
pub const PRODUCTS_FILE: &str = "products_list.csv";
/// The purchases' file name in a data directory.
pub const PURCHASES_FILE: &str = "purchases.csv";

/// Why a data directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A data file cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The files were opened but not loaded; the store is as it was.
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// How far a load has read its purchases file, and how many purchases it has handed to the
/// store, for a progress display: updated by the load, read by whoever shows it.
#[derive(Debug, Default)]
pub struct LoadProgress {
    read: AtomicU64,
    total: AtomicU64,
    loaded: AtomicU64,
}

impl LoadProgress {
    /// Bytes of the purchases file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// The purchases file's size in bytes (0 until the load has opened it).
    pub fn total_bytes(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Purchases handed to the store so far (visible once the whole load commits).
    pub fn purchases_loaded(&self) -> u64 {
        self.loaded.load(Ordering::Relaxed)
    }

    /// Whether the whole purchases file has been read: what is left of the load is the store's
    /// finish (its last writes, then, on PostgreSQL, the indexes and aggregates, a large part
    /// of a large load), which the bytes cannot measure.
    pub fn all_read(&self) -> bool {
        let total = self.total_bytes();
        total > 0 && self.bytes_read() >= total
    }
}

/// A reader that counts what passes through it into a [`LoadProgress`].
struct Counted<R> {
    inner: R,
    progress: Arc<LoadProgress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.progress.read.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// Loads `dir/products_list.csv` and `dir/purchases.csv` into `store` if it has no purchases
/// yet (see [`import::load`]): at every start, or twice, it never duplicates anything.
///
/// The load parses, encodes and frees its batches on several threads. Under glibc's allocator
/// a process keeps much of that memory resident after the load; the example server runs on
/// jemalloc, which gives it back.
pub async fn load_dir(
    store: &dyn Store,
    dir: &Path,
    policy: Policy,
) -> Result<ImportReport, DataError> {
    load_dir_with_progress(store, dir, policy, Arc::default()).await
}

/// [`load_dir`], reporting how far it has read into `progress`.
pub async fn load_dir_with_progress(
    store: &dyn Store,
    dir: &Path,
    policy: Policy,
    progress: Arc<LoadProgress>,
) -> Result<ImportReport, DataError> {
    let open = |name: &str| {
        let path = dir.join(name);
        File::open(&path).map_err(|source| DataError::Open { path, source })
    };
    let products = BufReader::new(open(PRODUCTS_FILE)?);
    let purchases = open(PURCHASES_FILE)?;
    let size = purchases
        .metadata()
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    progress.total.store(size, Ordering::Relaxed);
    // Large reads: the parser is the hot loop of a load.
    let purchases = BufReader::with_capacity(
        1 << 20,
        Counted {
            inner: purchases,
            progress: Arc::clone(&progress),
        },
    );
    let label = |name: &str| dir.join(name).display().to_string();
    Ok(import::load_counting(
        store,
        (products, &label(PRODUCTS_FILE)),
        (purchases, &label(PURCHASES_FILE)),
        policy,
        &progress.loaded,
    )
    .await?)
}
