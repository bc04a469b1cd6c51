//! What a server made of the sets it read, kept for the next read of the same rows.
//!
//! A period's cover has five spans of sets (two of hours, two of days, one of months). Reading
//! a year reads tens of sets, megabytes at millions of purchases, and adding up their counts
//! costs more than the rest of the request; yet past hours, days and months seldom change (a
//! late purchase, a void). So each span's union (or sum) is kept here under the versions of the
//! rows it was made of (the customer_set_versions migration): a read first asks for the
//! versions alone, with the period's tail, and fetches and decodes only the spans this server
//! has not made yet from exactly those rows. A version names one content of one row forever,
//! so what is kept is exact for as long as it is kept, on any server of the chain's databases.

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};
use roaring::RoaringBitmap;

use super::{Ranking, Tally};

// How many bytes of unions, of sums of tallies and of rankings a server keeps at most: a year
// of the chain's months at 10 million purchases is a few megabytes (most of it what each
// customer spent), and the server's whole resident size is to stay under 64 MiB.
const SETS_BYTES: u64 = 4 << 20;
const COUNTS_BYTES: u64 = 12 << 20;
const RANKINGS_BYTES: u64 = 8 << 20;

/// Roughly how many entries fit: the cache's sizing hint, not a bound.
const ENTRIES: usize = 256;

/// What a server keeps: where, and roughly the bytes it takes in memory.
pub(crate) trait Keep: Sized + Send + Sync + 'static {
    /// Roughly the bytes it takes in memory.
    fn weight(&self) -> u64;

    /// Where a server keeps these.
    fn kept(sums: &Sums) -> &Kept<Self>;
}

impl Keep for RoaringBitmap {
    fn weight(&self) -> u64 {
        self.serialized_size() as u64
    }

    fn kept(sums: &Sums) -> &Kept<Self> {
        &sums.sets
    }
}

impl Keep for Tally {
    fn weight(&self) -> u64 {
        self.size()
    }

    fn kept(sums: &Sums) -> &Kept<Self> {
        &sums.counts
    }
}

impl Keep for Ranking {
    fn weight(&self) -> u64 {
        self.size()
    }

    fn kept(sums: &Sums) -> &Kept<Self> {
        &sums.rankings
    }
}

/// What the rows of a span add up to: the union of their sets, or the sum of their tallies.
pub(crate) trait Sum: Keep + Default + Clone {
    /// Whether it is read from `customer_sets.counts` and `customer_sets.spent` rather than
    /// `customer_sets.customers`.
    const COUNTED: bool;

    /// One row's part, as the columns keep it: `bytes` the first, `spent` the second (empty
    /// when not read).
    fn decode(bytes: &[u8], spent: &[u8]) -> std::io::Result<Self>;

    /// Adds `other` in.
    fn add(&mut self, other: &Self);
}

impl Sum for RoaringBitmap {
    const COUNTED: bool = false;

    fn decode(bytes: &[u8], _: &[u8]) -> std::io::Result<Self> {
        RoaringBitmap::deserialize_from(bytes)
    }

    fn add(&mut self, other: &Self) {
        *self |= other;
    }
}

impl Sum for Tally {
    const COUNTED: bool = true;

    fn decode(bytes: &[u8], spent: &[u8]) -> std::io::Result<Self> {
        Tally::decode(bytes, spent)
    }

    fn add(&mut self, other: &Self) {
        Tally::add(self, other);
    }
}

/// The versions of a span's rows, in increasing order: which rows, with which contents.
pub(crate) type Versions = Box<[i64]>;

/// Weighs a kept sum by its bytes.
#[derive(Clone, Copy)]
pub(crate) struct ByBytes;

impl<K, T: Keep> Weighter<K, Arc<T>> for ByBytes {
    fn weight(&self, _: &K, sum: &Arc<T>) -> u64 {
        // Never zero: a zero weight would never be evicted.
        sum.weight().max(1)
    }
}

/// The sums of one kind a server keeps, by the versions they were made of.
pub(crate) type Kept<T> = Cache<Versions, Arc<T>, ByBytes>;

/// The unions of sets and sums of tallies a server keeps, and the rankings of whole periods made
/// from those sums, bounded in bytes, the least used going first.
pub(crate) struct Sums {
    sets: Kept<RoaringBitmap>,
    counts: Kept<Tally>,
    rankings: Kept<Ranking>,
}

/// A cache of `bytes` at most, in one shard: the cache's shards would each hold a share of the
/// bytes, and a year's sum is larger than a share.
fn kept<T: Keep>(bytes: u64) -> Kept<T> {
    let options = OptionsBuilder::new()
        .shards(1)
        .estimated_items_capacity(ENTRIES)
        .weight_capacity(bytes)
        .build()
        .expect("valid cache options");
    Cache::with_options(options, ByBytes, Default::default(), Default::default())
}

impl Default for Sums {
    fn default() -> Sums {
        Sums {
            sets: kept(SETS_BYTES),
            counts: kept(COUNTS_BYTES),
            rankings: kept(RANKINGS_BYTES),
        }
    }
}

impl std::fmt::Debug for Sums {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sums")
            .field("sets", &self.sets.len())
            .field("counts", &self.counts.len())
            .field("rankings", &self.rankings.len())
            .finish()
    }
}

/// The sum of `parts`: the largest copied, the others added to it (adding a small part to a
/// large sum touches little of it).
pub(crate) fn total<T: Sum>(parts: &[Arc<T>]) -> T {
    let Some(largest) = (0..parts.len()).max_by_key(|&i| parts[i].weight()) else {
        return T::default();
    };
    let mut sum = T::clone(&parts[largest]);
    for (i, part) in parts.iter().enumerate() {
        if i != largest {
            sum.add(part);
        }
    }
    sum
}
