//! A number per customer (how many purchases they made, or how many cents they spent), as a
//! bit-sliced index over customer numbers: slice `i` is the set of customers whose number has
//! bit `i` set. Adding two of them is a few operations on whole sets per bit, whatever the
//! number of customers, and so is finding the customers of a set with the largest numbers
//! ([`Counts::top`]) or those at most a value ([`Counts::at_most`]); who made the most purchases
//! is asked of their [`Ranking`](super::Ranking). [`Tally`] pairs the two a set keeps.
//!
//! Written here rather than taken from a crate: the `roaring` crate has no bit-sliced index, and
//! the operations this needs are short on top of its sets.

use std::collections::HashMap;

use roaring::RoaringBitmap;

/// Each customer's number (customers with zero are in no slice).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    /// Slice `i` holds the customers whose number has bit `i` set; the last is never empty.
    slices: Vec<RoaringBitmap>,
}

impl Counts {
    /// The numbers of `(customer, number)` pairs; a customer given twice has the sum.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (u32, u64)>) -> Counts {
        let mut totals: HashMap<u32, u64> = HashMap::new();
        for (customer, count) in pairs {
            *totals.entry(customer).or_default() += count;
        }
        let mut counts = Counts::default();
        let mut sorted: Vec<(u32, u64)> = totals.into_iter().filter(|(_, n)| *n > 0).collect();
        sorted.sort_unstable();
        for (customer, count) in sorted {
            for bit in 0..u64::BITS - count.leading_zeros() {
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

    /// Whether no customer has a number.
    pub(crate) fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// `customer`'s number.
    pub(crate) fn get(&self, customer: u32) -> u64 {
        self.slices
            .iter()
            .enumerate()
            .filter(|(_, slice)| slice.contains(customer))
            .map(|(bit, _)| 1u64 << bit)
            .sum()
    }

    /// Sets `customer`'s number to `count`.
    pub(crate) fn set(&mut self, customer: u32, count: u64) {
        for slice in &mut self.slices {
            slice.remove(customer);
        }
        for bit in 0..u64::BITS - count.leading_zeros() {
            if count >> bit & 1 == 1 {
                self.slice_mut(bit as usize).insert(customer);
            }
        }
        self.trim();
    }

    /// Adds `other`'s numbers to these, one slice at a time with a carry (a ripple-carry adder
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

    /// The `k` customers of `within` with the largest numbers, and every other one whose number
    /// equals the smallest of those (all of `within` when it has no more than `k`). From the top
    /// bit down, the customers still in question split into those with the bit and those
    /// without: the first are chosen whole while they fit, else the second are dropped.
    pub(crate) fn top(&self, within: &RoaringBitmap, k: u64) -> RoaringBitmap {
        let mut chosen = RoaringBitmap::new();
        let mut open = within.clone();
        for slice in self.slices.iter().rev() {
            if chosen.len() >= k || open.is_empty() {
                break;
            }
            let with = &open & slice;
            if chosen.len() + with.len() > k {
                open = with;
            } else {
                open -= &with;
                chosen |= with;
            }
        }
        if chosen.len() < k {
            // Those left in question agree on every bit: they tie.
            chosen |= open;
        }
        chosen
    }

    /// The customers of `within` whose number is at most `value` (a customer without one has
    /// zero). From the top bit down, as two sets: those already below `value`, and those equal
    /// to it so far.
    pub(crate) fn at_most(&self, within: &RoaringBitmap, value: u64) -> RoaringBitmap {
        let bits = (u64::BITS - value.leading_zeros()).max(self.slices.len() as u32);
        let mut below = RoaringBitmap::new();
        let mut equal = within.clone();
        for bit in (0..bits).rev() {
            let empty = RoaringBitmap::new();
            let slice = self.slices.get(bit as usize).unwrap_or(&empty);
            if value >> bit & 1 == 1 {
                below |= &equal - slice;
                equal &= slice;
            } else {
                equal -= slice;
            }
        }
        below | equal
    }

    /// The slices, from bit 0.
    pub(crate) fn slices(&self) -> &[RoaringBitmap] {
        &self.slices
    }

    /// Roughly the bytes these take in memory (their serialized size).
    pub(crate) fn size(&self) -> u64 {
        self.slices
            .iter()
            .map(|slice| slice.serialized_size() as u64)
            .sum()
    }

    /// Every customer with a number.
    pub(crate) fn customers(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        for slice in &self.slices {
            all |= slice;
        }
        all
    }

    /// The numbers as `customer_sets.counts` and `customer_sets.spent` keep them: for each slice from bit 0, its
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

    /// Reads numbers as [`Counts::encode`] writes them.
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

/// What a set keeps of each of its customers: how many purchases they made there, and how many
/// cents those purchases came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Tally {
    /// Each customer's purchases.
    pub(crate) purchases: Counts,
    /// Each customer's spending, in cents.
    pub(crate) spent: Counts,
}

impl Tally {
    /// The tally of `(customer, purchases, cents)` rows; a customer given twice has the sums.
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = (u32, u64, u64)>) -> Tally {
        let (mut purchases, mut spent) = (Vec::new(), Vec::new());
        for (customer, count, cents) in rows {
            purchases.push((customer, count));
            spent.push((customer, cents));
        }
        Tally {
            purchases: Counts::from_pairs(purchases),
            spent: Counts::from_pairs(spent),
        }
    }

    /// Reads a tally as `customer_sets.counts` and `customer_sets.spent` keep it.
    pub(crate) fn decode(counts: &[u8], spent: &[u8]) -> std::io::Result<Tally> {
        Ok(Tally {
            purchases: Counts::decode(counts)?,
            spent: Counts::decode(spent)?,
        })
    }

    /// Whether no customer made a purchase.
    pub(crate) fn is_empty(&self) -> bool {
        self.purchases.is_empty()
    }

    /// Adds `other`'s purchases and spending to these.
    pub(crate) fn add(&mut self, other: &Tally) {
        self.purchases.add(&other.purchases);
        self.spent.add(&other.spent);
    }

    /// Takes away one purchase of `cents` by `customer` (a void); a customer left with none
    /// leaves.
    pub(crate) fn take_away(&mut self, customer: u32, cents: u64) {
        let purchases = self.purchases.get(customer).saturating_sub(1);
        self.purchases.set(customer, purchases);
        let spent = if purchases == 0 {
            0
        } else {
            self.spent.get(customer).saturating_sub(cents)
        };
        self.spent.set(customer, spent);
    }

    /// Roughly the bytes it takes in memory.
    pub(crate) fn size(&self) -> u64 {
        self.purchases.size() + self.spent.size()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// A few hundred customers with numbers, spread over several roaring containers: small ones
    /// like purchase counts, large ones like cents spent, so that numbers tie and differ.
    fn pairs() -> impl Strategy<Value = Vec<(u32, u64)>> {
        prop::collection::vec(
            (
                prop_oneof![0u32..300, 65_000u32..66_000, 1_000_000u32..1_000_050],
                prop_oneof![3 => 1u64..4, 1 => 1u64..70, 1 => 1u64..(1 << 40)],
            ),
            0..300,
        )
    }

    /// The plain sum of each customer's numbers.
    fn naive(pairs: &[(u32, u64)]) -> BTreeMap<u32, u64> {
        let mut totals = BTreeMap::new();
        for &(customer, count) in pairs {
            *totals.entry(customer).or_default() += count;
        }
        totals
    }

    /// Some of the customers of `pairs`, and some without a number.
    fn within(pairs: &[(u32, u64)], keep: &[bool]) -> RoaringBitmap {
        let mut within: RoaringBitmap = pairs
            .iter()
            .zip(keep.iter().cycle())
            .filter(|(_, keep)| **keep)
            .map(|((customer, _), _)| *customer)
            .collect();
        within.insert(299_999);
        within
    }

    proptest! {
        #[test]
        fn sums_and_counts_set_match_plain_counting(
            a in pairs(),
            b in pairs(),
            set in (0u32..300, 0u64..50),
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

        #[test]
        fn the_top_and_those_at_most_a_value_match_sorting(
            pairs in pairs(),
            keep in prop::collection::vec(any::<bool>(), 1..8),
            k in 0u64..40,
            value in prop_oneof![0u64..80, 0u64..(1 << 41)],
        ) {
            let counts = Counts::from_pairs(pairs.clone());
            let totals = naive(&pairs);
            let within = within(&pairs, &keep);
            let number = |customer: u32| totals.get(&customer).copied().unwrap_or(0);

            let mut sorted: Vec<u64> = within.iter().map(number).collect();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let expected: RoaringBitmap = match sorted.get(k.max(1) as usize - 1) {
                Some(&kth) if k > 0 => within.iter().filter(|&c| number(c) >= kth).collect(),
                _ if k > 0 => within.clone(),
                _ => RoaringBitmap::new(),
            };
            prop_assert_eq!(counts.top(&within, k), expected);

            let at_most: RoaringBitmap = within.iter().filter(|&c| number(c) <= value).collect();
            prop_assert_eq!(counts.at_most(&within, value), at_most);
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
