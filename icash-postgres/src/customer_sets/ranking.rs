//! The customers of a period grouped by how many purchases they made there, from the most down:
//! what the loyal list and its count ask of the counts. Made once from a [`Counts`] (splitting
//! the customers by one slice at a time), it answers "how many made at least `n`" by adding a
//! few lengths, and "who made the most" by taking its first groups, where the counts would
//! compare every slice over every customer for each question.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use roaring::RoaringBitmap;

use super::Counts;

/// The customers with a purchase, by their count of purchases: no group is empty, and the
/// counts decrease.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Ranking {
    groups: Vec<(u32, RoaringBitmap)>,
}

impl Ranking {
    /// The ranking of `counts`.
    pub(crate) fn of(counts: &Counts) -> Ranking {
        // From the top bit down, each group splits into those with the bit and those without:
        // the first have the larger counts, so the groups stay in decreasing order.
        let mut groups = vec![(0, counts.customers())];
        for (bit, slice) in counts.slices().iter().enumerate().rev() {
            let mut split = Vec::with_capacity(groups.len() * 2);
            for (count, group) in groups {
                let with = &group & slice;
                let without = group - slice;
                if !with.is_empty() {
                    split.push((count | 1 << bit, with));
                }
                if !without.is_empty() {
                    split.push((count, without));
                }
            }
            groups = split;
        }
        Ranking { groups }
    }

    /// This ranking with `more` purchases added (customer, purchases; a customer may come more
    /// than once): each customer concerned moves to the group of their new count.
    pub(crate) fn with(&self, more: &[(u32, u32)]) -> Ranking {
        let mut added: BTreeMap<u32, u32> = BTreeMap::new();
        for &(customer, purchases) in more {
            *added.entry(customer).or_default() += purchases;
        }
        let mut groups: BTreeMap<u32, RoaringBitmap> = self.groups.iter().cloned().collect();
        for (customer, purchases) in added {
            let before = self.count_of(customer);
            if before > 0 {
                groups
                    .get_mut(&before)
                    .expect("the customer's group")
                    .remove(customer);
            }
            groups
                .entry(before + purchases)
                .or_default()
                .insert(customer);
        }
        Ranking {
            groups: groups
                .into_iter()
                .rev()
                .filter(|(_, group)| !group.is_empty())
                .collect(),
        }
    }

    /// `customer`'s count: 0 when they made no purchase.
    fn count_of(&self, customer: u32) -> u32 {
        self.groups
            .iter()
            .find(|(_, group)| group.contains(customer))
            .map_or(0, |(count, _)| *count)
    }

    /// Roughly the bytes it takes in memory.
    pub(crate) fn size(&self) -> u64 {
        self.groups
            .iter()
            .map(|(_, group)| group.serialized_size() as u64)
            .sum()
    }

    /// How many customers made a purchase.
    pub(crate) fn customers(&self) -> u64 {
        self.groups.iter().map(|(_, group)| group.len()).sum()
    }

    /// How many customers made at least `floor` purchases.
    pub(crate) fn at_least(&self, floor: u64) -> u64 {
        self.within(floor..=u64::MAX)
            .map(|(_, group)| group.len())
            .sum()
    }

    /// The sum of every customer's count.
    pub(crate) fn total(&self) -> u64 {
        self.groups
            .iter()
            .map(|(count, group)| u64::from(*count) * group.len())
            .sum()
    }

    /// The groups whose count is in `counts`, from the most purchases down.
    pub(crate) fn within(
        &self,
        counts: RangeInclusive<u64>,
    ) -> impl Iterator<Item = (u32, &RoaringBitmap)> {
        self.groups
            .iter()
            .filter(move |(count, _)| counts.contains(&u64::from(*count)))
            .map(|(count, group)| (*count, group))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Customer numbers and counts: a few customers, so that groups share counts.
    fn pairs() -> impl Strategy<Value = Vec<(u32, u32)>> {
        prop::collection::vec((0u32..200, 1u32..40), 0..120)
    }

    /// Each customer's count, from the pairs.
    fn totals(pairs: &[(u32, u32)]) -> BTreeMap<u32, u32> {
        let mut totals = BTreeMap::new();
        for &(customer, count) in pairs {
            *totals.entry(customer).or_default() += count;
        }
        totals
    }

    /// The ranking as a list: customers with their count, most purchases first.
    fn listed(ranking: &Ranking) -> Vec<(u32, u32)> {
        ranking
            .within(0..=u64::MAX)
            .flat_map(|(count, group)| group.iter().map(move |customer| (count, customer)))
            .collect()
    }

    /// The same list, from the totals.
    fn expected(totals: &BTreeMap<u32, u32>) -> Vec<(u32, u32)> {
        let mut list: Vec<(u32, u32)> = totals.iter().map(|(&c, &n)| (n, c)).collect();
        list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        list
    }

    proptest! {
        #[test]
        fn groups_every_customer_by_their_count(pairs in pairs(), floor in 0u64..50) {
            let totals = totals(&pairs);
            let ranking = Ranking::of(&Counts::from_pairs(pairs.iter().copied()));
            prop_assert_eq!(listed(&ranking), expected(&totals));
            prop_assert_eq!(ranking.customers(), totals.len() as u64);
            prop_assert_eq!(
                ranking.at_least(floor),
                totals.values().filter(|&&n| u64::from(n) >= floor).count() as u64
            );
            prop_assert_eq!(ranking.total(), totals.values().map(|&n| u64::from(n)).sum::<u64>());
        }

        #[test]
        fn purchases_added_move_their_customers(first in pairs(), more in pairs()) {
            let ranking = Ranking::of(&Counts::from_pairs(first.iter().copied()));
            let all: Vec<(u32, u32)> = first.iter().chain(&more).copied().collect();
            prop_assert_eq!(listed(&ranking.with(&more)), expected(&totals(&all)));
        }
    }
}
