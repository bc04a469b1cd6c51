//! The customers of a period grouped by how many purchases they made there, from the most down,
//! with what each spent there: what the loyal list and its count ask of a [`Tally`]. Made once
//! (splitting the customers by one slice of their counts at a time), it answers "how many made
//! at least `n`" by adding a few lengths, and "who comes first" by taking its first groups and,
//! inside a group, the customers who spent the most ([`Ranking::leaders`]), where the tally
//! would compare every slice over every customer for each question.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;
use uuid::Uuid;

use super::{Counts, Tally};

/// How many customers' [`Seen`] a kept ranking remembers at most: twenty pages of a hundred.
const SEEN_MAX: usize = 2_000;

/// What a loyal page read of one of the ranking's customers beside what the sets say: their
/// id, and their first and last purchase over the ranking's period.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    /// The customer's id.
    pub(crate) id: Uuid,
    /// Their first purchase not voided over the period.
    pub(crate) first: DateTime<Utc>,
    /// Their last purchase not voided over the period.
    pub(crate) last: DateTime<Utc>,
}

/// The customers with a purchase, by their count of purchases (no group is empty, and the
/// counts decrease), and what each spent.
#[derive(Debug, Default)]
pub(crate) struct Ranking {
    groups: Vec<(u32, RoaringBitmap)>,
    /// The cents each customer spent, as the sets say.
    spent: Arc<Counts>,
    /// The cents spent by the customers of purchases added since ([`Ranking::with`]), beyond
    /// `spent`, and who they are.
    added: BTreeMap<u32, u64>,
    added_customers: RoaringBitmap,
    /// What pages read of its customers, while no purchase is added ([`Ranking::seen`]).
    seen: Mutex<HashMap<u32, Seen>>,
}

impl Ranking {
    /// The ranking of `tally`.
    pub(crate) fn of(tally: Tally) -> Ranking {
        let counts = &tally.purchases;
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
        Ranking {
            groups,
            spent: Arc::new(tally.spent),
            added: BTreeMap::new(),
            added_customers: RoaringBitmap::new(),
            seen: Mutex::default(),
        }
    }

    /// This ranking with `more` purchases added (customer, purchases, cents; a customer may
    /// come more than once): each customer concerned moves to the group of their new count.
    pub(crate) fn with(&self, more: &[(u32, u32, u64)]) -> Ranking {
        let mut added: BTreeMap<u32, u32> = BTreeMap::new();
        let mut spent = self.added.clone();
        for &(customer, purchases, cents) in more {
            *added.entry(customer).or_default() += purchases;
            *spent.entry(customer).or_default() += cents;
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
            spent: self.spent.clone(),
            added_customers: spent.keys().copied().collect(),
            added: spent,
            seen: Mutex::default(),
        }
    }

    /// What pages read of `customers`, as far as it is remembered. A ranking kept under the
    /// versions of its period's sets, with no purchase added, stands for exactly the period's
    /// purchases (any purchase written, folded or voided since gives a set a new version or
    /// adds one), so what was read of its customers holds for as long as it is kept; a ranking
    /// with purchases added remembers nothing.
    pub(crate) fn seen(&self, customers: impl Iterator<Item = u32>) -> HashMap<u32, Seen> {
        if !self.added.is_empty() {
            return HashMap::new();
        }
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        customers
            .filter_map(|customer| seen.get(&customer).map(|found| (customer, *found)))
            .collect()
    }

    /// Remembers what a page read of `customers` (see [`Ranking::seen`]), up to [`SEEN_MAX`]
    /// customers.
    pub(crate) fn remember(&self, customers: impl Iterator<Item = (u32, Seen)>) {
        if !self.added.is_empty() {
            return;
        }
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (customer, found) in customers {
            if seen.len() >= SEEN_MAX {
                break;
            }
            seen.insert(customer, found);
        }
    }

    /// The cents `customer` spent.
    pub(crate) fn spent(&self, customer: u32) -> u64 {
        self.spent.get(customer) + self.added.get(&customer).copied().unwrap_or(0)
    }

    /// The `k` customers of `group` who spent the most, those who spent as much as the last of
    /// them, and those who spent exactly `at_most` (so that `k` of them come after a cursor
    /// there), each with what they spent; with `at_most`, only those who spent no more. Customers
    /// of added purchases are compared one by one; the others through the index.
    pub(crate) fn leaders(
        &self,
        group: &RoaringBitmap,
        at_most: Option<u64>,
        k: u64,
    ) -> Vec<(u32, u64)> {
        if k == 0 {
            return Vec::new();
        }
        let mut indexed = group - &self.added_customers;
        let mut added: Vec<(u32, u64)> = (group & &self.added_customers)
            .iter()
            .map(|customer| (customer, self.spent(customer)))
            .collect();
        let mut k = k;
        if let Some(ceiling) = at_most {
            indexed = self.spent.at_most(&indexed, ceiling);
            added.retain(|(_, spent)| *spent <= ceiling);
            let below = match ceiling.checked_sub(1) {
                Some(below) => self.spent.at_most(&indexed, below).len(),
                None => 0,
            };
            let tied = indexed.len() - below;
            k += tied + added.iter().filter(|(_, spent)| *spent == ceiling).count() as u64;
        }
        let mut leaders: Vec<(u32, u64)> = self
            .spent
            .top(&indexed, k)
            .iter()
            .map(|customer| (customer, self.spent.get(customer)))
            .chain(added)
            .collect();
        leaders.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(&(_, last)) = usize::try_from(k - 1).ok().and_then(|at| leaders.get(at)) {
            leaders.retain(|(_, spent)| *spent >= last);
        }
        leaders
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
        let groups: u64 = self
            .groups
            .iter()
            .map(|(_, group)| group.serialized_size() as u64)
            .sum();
        // What pages read of its customers is bounded apart: SEEN_MAX entries.
        groups + self.spent.size() + (SEEN_MAX * std::mem::size_of::<(u32, Seen)>()) as u64
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

    /// Purchases: customer numbers, counts and cents; a few customers and few amounts, so that
    /// customers share counts and what they spent.
    fn rows() -> impl Strategy<Value = Vec<(u32, u32, u64)>> {
        prop::collection::vec(
            (0u32..200, 1u32..40, prop_oneof![150u64..152, 0u64..100_000]),
            0..120,
        )
    }

    /// Each customer's count and cents, from the rows.
    fn totals(rows: &[(u32, u32, u64)]) -> BTreeMap<u32, (u32, u64)> {
        let mut totals: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
        for &(customer, count, cents) in rows {
            let total = totals.entry(customer).or_default();
            total.0 += count;
            total.1 += cents;
        }
        totals
    }

    fn ranking_of(rows: &[(u32, u32, u64)]) -> Ranking {
        Ranking::of(Tally::from_rows(rows.iter().map(
            |&(customer, count, cents)| (customer, u64::from(count), cents),
        )))
    }

    /// The ranking as a list: customers with their count, most purchases first.
    fn listed(ranking: &Ranking) -> Vec<(u32, u32)> {
        ranking
            .within(0..=u64::MAX)
            .flat_map(|(count, group)| group.iter().map(move |customer| (count, customer)))
            .collect()
    }

    /// The same list, from the totals.
    fn expected(totals: &BTreeMap<u32, (u32, u64)>) -> Vec<(u32, u32)> {
        let mut list: Vec<(u32, u32)> = totals.iter().map(|(&c, &(n, _))| (n, c)).collect();
        list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        list
    }

    proptest! {
        #[test]
        fn groups_every_customer_by_their_count(rows in rows(), floor in 0u64..50) {
            let totals = totals(&rows);
            let ranking = ranking_of(&rows);
            prop_assert_eq!(listed(&ranking), expected(&totals));
            prop_assert_eq!(ranking.customers(), totals.len() as u64);
            prop_assert_eq!(
                ranking.at_least(floor),
                totals.values().filter(|&&(n, _)| u64::from(n) >= floor).count() as u64
            );
        }

        #[test]
        fn purchases_added_move_their_customers(first in rows(), more in rows()) {
            let ranking = ranking_of(&first).with(&more);
            let all: Vec<(u32, u32, u64)> = first.iter().chain(&more).copied().collect();
            let totals = totals(&all);
            prop_assert_eq!(listed(&ranking), expected(&totals));
            for (&customer, &(_, cents)) in &totals {
                prop_assert_eq!(ranking.spent(customer), cents);
            }
        }

        #[test]
        fn leaders_are_those_who_spent_the_most(
            first in rows(),
            more in rows(),
            k in 0u64..12,
            ceiling in prop::option::of(prop_oneof![0u64..400, 0u64..200_000]),
        ) {
            let ranking = ranking_of(&first).with(&more);
            let all: Vec<(u32, u32, u64)> = first.iter().chain(&more).copied().collect();
            let totals = totals(&all);
            for (count, group) in ranking.within(0..=u64::MAX) {
                let mut spent: Vec<(u32, u64)> = group
                    .iter()
                    .map(|customer| (customer, totals[&customer].1))
                    .filter(|(_, cents)| ceiling.is_none_or(|ceiling| *cents <= ceiling))
                    .collect();
                spent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                // The first k after those tied at the ceiling, and whoever ties with the last.
                let tied = spent.iter().filter(|(_, cents)| Some(*cents) == ceiling).count();
                let wanted = if k > 0 { k as usize + tied } else { 0 };
                let expected: Vec<(u32, u64)> = match spent.get(wanted.max(1) - 1) {
                    Some(&(_, last)) if wanted > 0 => {
                        spent.iter().copied().filter(|(_, cents)| *cents >= last).collect()
                    }
                    _ if wanted > 0 => spent,
                    _ => Vec::new(),
                };
                prop_assert_eq!(ranking.leaders(group, ceiling, k), expected, "group {}", count);
            }
        }
    }
}
