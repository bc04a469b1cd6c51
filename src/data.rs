//! Loading a data directory (`products_list.csv` and `purchases.csv`) into a store.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

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

/// Loads `dir/products_list.csv` and `dir/purchases.csv` into `store` if it has no purchases
/// yet (see [`import::load`]): at every start, or twice, it never duplicates anything.
pub async fn load_dir(
    store: &dyn Store,
    dir: &Path,
    policy: Policy,
) -> Result<ImportReport, DataError> {
    let open = |name: &str| {
        let path = dir.join(name);
        File::open(&path)
            .map(BufReader::new)
            .map_err(|source| DataError::Open { path, source })
    };
    let products = open(PRODUCTS_FILE)?;
    let purchases = open(PURCHASES_FILE)?;
    let label = |name: &str| dir.join(name).display().to_string();
    Ok(import::load(
        store,
        (products, &label(PRODUCTS_FILE)),
        (purchases, &label(PURCHASES_FILE)),
        policy,
    )
    .await?)
}
