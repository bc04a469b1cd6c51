//! How many purchases each customer made, as a bit-sliced index over customer numbers: slice
//! `i` is the set of customers whose count has bit `i` set. Adding two of them is a few
//! operations on whole sets per bit, whatever the number of customers; who made the most is
//! asked of their [`Ranking`](super::Ranking).
//!
//! Written here rather than taken from a crate: the `roaring` crate has no bit-sliced index, and
//! the operations this needs are short on top of its sets.

use std::collections::HashMap;

use roaring::RoaringBitmap;

/// Each customer's purchase count (customers with none are in no slice).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    /// Slice `i` holds the customers whose count has bit `i` set; the last is never empty.
    slices: Vec<RoaringBitmap>,
}

impl Counts {
    /// The counts of `(customer, count)` pairs; a customer given twice counts both.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (u32, u32)>) -> Counts {
        let mut totals: HashMap<u32, u32> = HashMap::new();
        for (customer, count) in pairs {
            *totals.entry(customer).or_default() += count;
        }
        let mut counts = Counts::default();
        let mut sorted: Vec<(u32, u32)> = totals.into_iter().filter(|(_, n)| *n > 0).collect();
        sorted.sort_unstable();
        for (customer, count) in sorted {
            for bit in 0..u32::BITS - count.leading_zeros() {
                if count >> bit & 1 == 1 {
                    counts.slice_mut(bit as usize).insert(customer);
                }
            }
        }
        counts
    }

    /// The slice of bit `bit`, made (with the ones below it) when missing.
    fn slice_mut(&mut self, bit: usize) -> &mut RoaringBitmap {
        if self.slices.len() <= bit {
            self.slices.resize_with(bit + 1, RoaringBitmap::new);
        }
        &mut self.slices[bit]
    }

    /// Drops empty top slices, so that the last is never empty.
    fn trim(&mut self) {
        while self.slices.last().is_some_and(RoaringBitmap::is_empty) {
            self.slices.pop();
        }
    }

    /// Whether no customer has a count.
    pub(crate) fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// `customer`'s count.
    pub(crate) fn get(&self, customer: u32) -> u32 {
        self.slices
            .iter()
            .enumerate()
            .filter(|(_, slice)| slice.contains(customer))
            .map(|(bit, _)| 1 << bit)
            .sum()
    }

    /// Sets `customer`'s count to `count`.
    pub(crate) fn set(&mut self, customer: u32, count: u32) {
        for slice in &mut self.slices {
            slice.remove(customer);
        }
        for bit in 0..u32::BITS - count.leading_zeros() {
            if count >> bit & 1 == 1 {
                self.slice_mut(bit as usize).insert(customer);
            }
        }
        self.trim();
    }

    /// Adds `other`'s counts to these, one slice at a time with a carry (a ripple-carry adder
    /// over sets).
    pub(crate) fn add(&mut self, other: &Counts) {
        let mut carry = RoaringBitmap::new();
        let mut bit = 0;
        while bit < other.slices.len() || !carry.is_empty() {
            let theirs = other.slices.get(bit);
            let ours = self.slice_mut(bit);
            let sum_without_carry = match theirs {
                Some(theirs) => {
                    let both = &*ours & theirs;
                    let either = &*ours ^ theirs;
                    let next = (&carry & &either) | both;
                    *ours = either ^ &carry;
                    next
                }
                None => {
                    let next = &*ours & &carry;
                    *ours ^= &carry;
                    next
                }
            };
            carry = sum_without_carry;
            bit += 1;
        }
        self.trim();
    }

    /// The slices, from bit 0.
    pub(crate) fn slices(&self) -> &[RoaringBitmap] {
        &self.slices
    }

    /// Roughly the bytes these counts take in memory (their serialized size).
    pub(crate) fn size(&self) -> u64 {
        self.slices
            .iter()
            .map(|slice| slice.serialized_size() as u64)
            .sum()
    }

    /// Every customer with a count.
    pub(crate) fn customers(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        for slice in &self.slices {
            all |= slice;
        }
        all
    }

    /// The counts as `customer_sets.counts` keeps them: for each slice from bit 0, its
    /// serialized size as four little-endian bytes, then the slice in the roaring crate's
    /// portable format.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let size = self
            .slices
            .iter()
            .map(|slice| 4 + slice.serialized_size())
            .sum();
        let mut bytes = Vec::with_capacity(size);
        for slice in &self.slices {
            let length = u32::try_from(slice.serialized_size()).expect("a slice under 4 GiB");
            bytes.extend_from_slice(&length.to_le_bytes());
            slice
                .serialize_into(&mut bytes)
                .expect("writing to a vector cannot fail");
        }
        bytes
    }

    /// Reads counts as [`Counts::encode`] writes them.
    pub(crate) fn decode(mut bytes: &[u8]) -> std::io::Result<Counts> {
        let mut slices = Vec::new();
        while !bytes.is_empty() {
            let (length, rest) = bytes.split_at_checked(4).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "a slice's size is cut")
            })?;
            let length = u32::from_le_bytes(length.try_into().expect("four bytes")) as usize;
            let (slice, rest) = rest.split_at_checked(length).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "a slice is cut")
            })?;
            slices.push(RoaringBitmap::deserialize_from(slice)?);
            bytes = rest;
        }
        let mut counts = Counts { slices };
        counts.trim();
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// A few hundred customers with counts, numbers spread over several roaring containers.
    fn pairs() -> impl Strategy<Value = Vec<(u32, u32)>> {
        prop::collection::vec(
            (
                prop_oneof![0u32..300, 65_000u32..66_000, 1_000_000u32..1_000_050],
                prop_oneof![3 => 1u32..4, 1 => 1u32..70],
            ),
            0..300,
        )
    }

    /// The plain count of each customer.
    fn naive(pairs: &[(u32, u32)]) -> BTreeMap<u32, u32> {
        let mut totals = BTreeMap::new();
        for &(customer, count) in pairs {
            *totals.entry(customer).or_default() += count;
        }
        totals
    }

    proptest! {
        #[test]
        fn sums_and_counts_set_match_plain_counting(
            a in pairs(),
            b in pairs(),
            set in (0u32..300, 0u32..50),
        ) {
            let mut counts = Counts::from_pairs(a.clone());
            counts.add(&Counts::from_pairs(b.clone()));
            let mut expected = naive(&[a, b].concat());
            counts.set(set.0, set.1);
            expected.insert(set.0, set.1);
            expected.retain(|_, n| *n > 0);

            for (&customer, &n) in &expected {
                prop_assert_eq!(counts.get(customer), n);
            }
            prop_assert_eq!(counts.customers().iter().collect::<Vec<_>>(), expected.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(Counts::decode(&counts.encode()).unwrap(), counts);
        }
    }

    #[test]
    fn a_count_set_to_zero_leaves_no_slice_behind() {
        let mut counts = Counts::from_pairs([(7, 5)]);
        counts.set(7, 0);
        assert!(counts.is_empty());
        assert_eq!(counts.encode(), Vec::<u8>::new());
    }
}
