//! What the integration tests share: where the data is, and the stores under test.

use std::path::{Path, PathBuf};

/// The folder of the old system's reference files.
pub fn seed_dir() -> PathBuf {
    let dir = std::env::var_os("ICASH_SEED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-data"));
    assert!(
        dir.join("purchases.csv").is_file(),
        "the reference files are not in {}: put the old system's seed-data folder beside the \
         repository, or name it in ICASH_SEED_DATA",
        dir.display()
    );
    dir
}

/// The project's own generated data.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}
