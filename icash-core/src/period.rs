//! The period an analytic is asked for: instants, or business dates reckoned in each branch's
//! own zone from its own start of day.
//!
//! Business dates become one instant range per branch ([`DatedFilter::resolve`]). When every
//! branch the question covers has the same range (one branch, or a chain whose branches share a
//! zone and a start of day), the store answers it as an instant period. Otherwise each branch is
//! asked for its own range: sums (purchases, revenue, refunds, units) add up, and the distinct
//! customers are those of the union, gathered from each branch's customers.

use std::collections::HashMap;

use crate::analytics::{
    CustomerActivity, Dashboard, Filter, LoyalCustomers, LoyalQuery, LoyalStream, ProductSales,
    RankedProduct, Statistics, rank_top_products,
};
use crate::business_day::BusinessDates;
use crate::error::{Result, ValidationError};
use crate::id::{BranchId, CustomerId, ProductId};
use crate::product::Branch;
use crate::store::Store;

/// Business dates, of one branch or (`None`) of every branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatedFilter {
    /// The branch, if only one.
    pub branch: Option<BranchId>,
    /// The business days.
    pub dates: BusinessDates,
}

/// A dated filter as instant ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Every branch covered has this range (the filter names the branch, if one).
    Same(Filter),
    /// Each branch has its own range: one filter per branch, each naming its branch.
    PerBranch(Vec<Filter>),
}

impl DatedFilter {
    /// The instant ranges of these dates at each branch covered, as `branches` (the chain's)
    /// reckon their days. A branch the chain lacks is reckoned in UTC from midnight (it has
    /// no purchases either way). Fails when the dates hold no day of a branch: its clocks
    /// skipped them (as Samoa's skipped a whole day).
    pub fn resolve(&self, branches: &[Branch]) -> Result<Resolved, ValidationError> {
        let covered: Vec<Branch> = match self.branch {
            Some(id) => vec![
                branches
                    .iter()
                    .find(|branch| branch.id() == id)
                    .cloned()
                    .unwrap_or_else(|| Branch::new(id)),
            ],
            None => branches.to_vec(),
        };
        let mut ranges = Vec::with_capacity(covered.len());
        for branch in &covered {
            let (from, to) = self.dates.instants(branch);
            let filter = Filter::new(Some(branch.id()), from, to)
                .map_err(|_| ValidationError::SkippedDates(branch.id()))?;
            ranges.push(filter);
        }
        let same = |a: &Filter, b: &Filter| (a.from(), a.to()) == (b.from(), b.to());
        Ok(match ranges.first() {
            None => Resolved::Same(Filter::ALL),
            Some(first) if ranges.iter().all(|range| same(range, first)) => Resolved::Same(
                Filter::new(self.branch, first.from(), first.to())
                    .expect("the range was accepted for a branch"),
            ),
            Some(_) => Resolved::PerBranch(ranges),
        })
    }
}

/// The period an analytic is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// A branch and instants (the store's own [`Filter`]).
    Instants(Filter),
    /// A branch and business dates.
    Dates(DatedFilter),
}

impl Period {
    /// The branch asked for, if only one.
    pub fn branch(&self) -> Option<BranchId> {
        match self {
            Period::Instants(filter) => filter.branch(),
            Period::Dates(dated) => dated.branch,
        }
    }

    /// The period as instant ranges, reading the branches' settings when it is dated.
    pub async fn resolve(&self, store: &dyn Store) -> Result<Resolved> {
        match self {
            Period::Instants(filter) => Ok(Resolved::Same(*filter)),
            Period::Dates(dated) => Ok(dated.resolve(&store.branches().await?)?),
        }
    }
}

/// Each customer's activity over the union of `filters` (each of one branch, so disjoint):
/// counts and sums add up, the first purchase is the earliest and the last the latest.
async fn activity_over(store: &dyn Store, filters: &[Filter]) -> Result<Vec<CustomerActivity>> {
    let mut merged: HashMap<CustomerId, CustomerActivity> = HashMap::new();
    for filter in filters {
        let everyone = LoyalQuery {
            min_purchases: 1,
            filter: *filter,
            limit: None,
            after: None,
        };
        for entry in store.loyal_customers(&everyone).await?.customers {
            merged
                .entry(entry.customer)
                .and_modify(|kept| {
                    kept.purchase_count += entry.purchase_count;
                    kept.total_spent = kept.total_spent + entry.total_spent;
                    kept.first_purchase = kept.first_purchase.min(entry.first_purchase);
                    kept.last_purchase = kept.last_purchase.max(entry.last_purchase);
                })
                .or_insert(entry);
        }
    }
    Ok(merged.into_values().collect())
}

/// Units per product over the union of `filters`.
async fn product_sales_over(store: &dyn Store, filters: &[Filter]) -> Result<Vec<ProductSales>> {
    let mut merged: HashMap<ProductId, ProductSales> = HashMap::new();
    for filter in filters {
        for sales in store.product_sales(filter).await? {
            merged
                .entry(sales.product)
                .and_modify(|kept| {
                    kept.units_sold += sales.units_sold;
                    kept.units_returned += sales.units_returned;
                })
                .or_insert(sales);
        }
    }
    Ok(merged.into_values().collect())
}

/// The statistics over the union of `filters`.
async fn statistics_over(store: &dyn Store, filters: &[Filter]) -> Result<Statistics> {
    let mut by_branch = Vec::with_capacity(filters.len());
    for filter in filters {
        by_branch.extend(store.statistics(filter).await?.by_branch);
    }
    by_branch.sort_by_key(|row| row.branch);
    let unique = activity_over(store, filters).await?.len() as u64;
    Ok(Statistics::from_branches(unique, by_branch))
}

/// How many distinct customers made a purchase over `period`.
pub async fn unique_customers(store: &dyn Store, period: &Period) -> Result<u64> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => store.unique_customers(&filter).await,
        Resolved::PerBranch(filters) => Ok(activity_over(store, &filters).await?.len() as u64),
    }
}

/// The loyal customers `query` asks for over `period` (which replaces `query.filter`).
pub async fn loyal_customers(
    store: &dyn Store,
    period: &Period,
    query: &LoyalQuery,
) -> Result<LoyalCustomers> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => {
            store
                .loyal_customers(&LoyalQuery { filter, ..*query })
                .await
        }
        Resolved::PerBranch(filters) => Ok(query.select(activity_over(store, &filters).await?)),
    }
}

/// [`loyal_customers`] as a stream, which the store reads as it goes when one range answers.
pub async fn loyal_customers_stream(
    store: &dyn Store,
    period: &Period,
    query: &LoyalQuery,
) -> Result<LoyalStream> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => {
            store
                .loyal_customers_stream(&LoyalQuery { filter, ..*query })
                .await
        }
        Resolved::PerBranch(filters) => Ok(LoyalStream::gathered(
            query.select(activity_over(store, &filters).await?),
        )),
    }
}

/// The best-selling products over `period`, ranked.
pub async fn top_products(
    store: &dyn Store,
    period: &Period,
    max_rank: u32,
) -> Result<Vec<RankedProduct>> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => store.top_products(&filter, max_rank).await,
        Resolved::PerBranch(filters) => Ok(rank_top_products(
            product_sales_over(store, &filters).await?,
            max_rank,
        )),
    }
}

/// Units sold per product over `period`.
pub async fn product_sales(store: &dyn Store, period: &Period) -> Result<Vec<ProductSales>> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => store.product_sales(&filter).await,
        Resolved::PerBranch(filters) => product_sales_over(store, &filters).await,
    }
}

/// The statistics over `period`.
pub async fn statistics(store: &dyn Store, period: &Period) -> Result<Statistics> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => store.statistics(&filter).await,
        Resolved::PerBranch(filters) => statistics_over(store, &filters).await,
    }
}

/// The dashboard over `period`. When the branches' ranges differ, its parts are read one after
/// another rather than in one snapshot.
pub async fn dashboard(store: &dyn Store, period: &Period) -> Result<Dashboard> {
    match period.resolve(store).await? {
        Resolved::Same(filter) => store.dashboard(&filter).await,
        Resolved::PerBranch(filters) => {
            let statistics = statistics_over(store, &filters).await?;
            let activity = activity_over(store, &filters).await?;
            let loyal = Dashboard::loyal_query(&Filter::ALL).select(activity);
            let sales = product_sales_over(store, &filters).await?;
            Ok(Dashboard::from_parts(statistics, loyal, sales))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::business_day::{DayStart, TimeZone};

    fn branch(id: i32, zone: &str) -> Branch {
        let id = BranchId::new(id).unwrap();
        Branch::with_settings(
            id,
            "b",
            zone.parse::<TimeZone>().unwrap(),
            DayStart::MIDNIGHT,
        )
        .unwrap()
    }

    fn day(date: &str, branch: Option<i32>) -> DatedFilter {
        DatedFilter {
            branch: branch.map(|id| BranchId::new(id).unwrap()),
            dates: BusinessDates::day(date.parse().unwrap()),
        }
    }

    #[test]
    fn branches_alike_share_one_range_and_others_get_their_own() {
        let alike = [branch(1, "Asia/Kolkata"), branch(2, "Asia/Kolkata")];
        let Ok(Resolved::Same(filter)) = day("2025-05-01", None).resolve(&alike) else {
            panic!("one range")
        };
        assert_eq!(filter.branch(), None);
        assert_eq!(filter.from(), Some("2025-04-30T18:30:00Z".parse().unwrap()));
        let apart = [branch(1, "Asia/Kolkata"), branch(2, "UTC")];
        let Ok(Resolved::PerBranch(filters)) = day("2025-05-01", None).resolve(&apart) else {
            panic!("a range per branch")
        };
        assert_eq!(filters.len(), 2);
        assert_eq!(
            filters[1].from(),
            Some("2025-05-01T00:00:00Z".parse().unwrap())
        );
        let Ok(Resolved::Same(one)) = day("2025-05-01", Some(2)).resolve(&apart) else {
            panic!("one branch, one range")
        };
        assert_eq!(one.branch(), Some(BranchId::new(2).unwrap()));
    }

    #[test]
    fn a_day_the_clocks_skipped_is_refused_with_a_sentence() {
        // Samoa moved across the date line: 2011-12-30 never happened in Apia.
        let apia = [branch(1, "Pacific/Apia")];
        let error = day("2011-12-30", None).resolve(&apia).unwrap_err();
        assert_eq!(
            error.to_string(),
            "branch 1 had no business day on these dates: its clocks skipped them"
        );
        assert!(day("2011-12-29", None).resolve(&apia).is_ok());
    }
}
