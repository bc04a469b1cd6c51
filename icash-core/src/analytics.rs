//! The owner's analytics: what each figure means, its defaults, and the orderings and ranking
//! that every store must follow.
//!
//! Stores compute the aggregates (counts and sums per customer, product or branch) where the
//! data is; this module defines the queries, the result types, and the rules applied on top
//! (competition ranking) so that they are written once.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use rust_decimal::Decimal;

use crate::error::{Result, ValidationError};
use crate::id::{BranchId, CustomerId, ProductId};
use crate::money::Money;

/// A customer is loyal with at least this many purchases, unless a query says otherwise.
pub const DEFAULT_LOYAL_MIN_PURCHASES: u32 = 3;
/// The top products are those ranked this or better, unless a query says otherwise.
pub const DEFAULT_TOP_PRODUCTS_MAX_RANK: u32 = 3;
/// How many customers the customers list shows, unless a query says otherwise.
pub const DEFAULT_TOP_CUSTOMERS: u32 = 20;

/// Which purchases an analytic looks at: optionally one branch, and a period from an instant
/// (inclusive) to an instant (exclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    branch: Option<BranchId>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Filter {
    /// Every purchase.
    pub const ALL: Filter = Filter {
        branch: None,
        from: None,
        to: None,
    };

    /// A filter; a period whose end is not after its start is refused as empty.
    pub fn new(
        branch: Option<BranchId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Filter, ValidationError> {
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(ValidationError::EmptyPeriod);
        }
        Ok(Filter { branch, from, to })
    }

    /// The branch purchases must be made at, if any.
    pub fn branch(&self) -> Option<BranchId> {
        self.branch
    }

    /// The first instant of the period (inclusive), if any.
    pub fn from(&self) -> Option<DateTime<Utc>> {
        self.from
    }

    /// The instant the period ends before (exclusive), if any.
    pub fn to(&self) -> Option<DateTime<Utc>> {
        self.to
    }

    /// Whether a purchase made at `branch` at `at` is looked at.
    pub fn matches(&self, branch: BranchId, at: DateTime<Utc>) -> bool {
        self.branch.is_none_or(|wanted| wanted == branch)
            && self.from.is_none_or(|from| at >= from)
            && self.to.is_none_or(|to| at < to)
    }
}

/// What a customer did over the purchases a filter looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerActivity {
    /// The customer.
    pub customer: CustomerId,
    /// How many purchases they made.
    pub purchase_count: u64,
    /// The exact sum of those purchases' totals.
    pub total_spent: Money,
    /// When the first of them was made.
    pub first_purchase: DateTime<Utc>,
    /// When the last of them was made.
    pub last_purchase: DateTime<Utc>,
}

impl CustomerActivity {
    /// The order of the loyal customers list: most purchases first, then most spent, then by
    /// customer id so that the order is total and pages never overlap.
    pub fn loyal_order(&self, other: &CustomerActivity) -> Ordering {
        other
            .purchase_count
            .cmp(&self.purchase_count)
            .then(other.total_spent.cmp(&self.total_spent))
            .then(self.customer.cmp(&other.customer))
    }

    /// Where this entry stands in the loyal order, for fetching the page after it.
    pub fn cursor(&self) -> LoyalCursor {
        LoyalCursor {
            purchase_count: self.purchase_count,
            total_spent: self.total_spent,
            customer: self.customer,
        }
    }
}

/// A position in the loyal customers order: the page after it starts with the next customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoyalCursor {
    /// The purchase count of the last customer already seen.
    pub purchase_count: u64,
    /// Their total spent.
    pub total_spent: Money,
    /// Their id.
    pub customer: CustomerId,
}

impl LoyalCursor {
    /// Whether `entry` comes after this position in the loyal order.
    pub fn precedes(&self, entry: &CustomerActivity) -> bool {
        (entry.purchase_count, entry.total_spent, self.customer)
            .cmp(&(self.purchase_count, self.total_spent, entry.customer))
            .is_lt()
    }
}

/// Which loyal customers to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoyalQuery {
    /// The fewest purchases that make a customer loyal.
    pub min_purchases: u32,
    /// Which purchases count.
    pub filter: Filter,
    /// At most this many entries; all of them when `None`.
    pub limit: Option<u32>,
    /// Start after this position (the previous page's last entry).
    pub after: Option<LoyalCursor>,
}

impl LoyalQuery {
    /// The list this query asks for out of `activity`, every customer's over the purchases
    /// its filter admits: those with at least `min_purchases`, in
    /// [`CustomerActivity::loyal_order`], after the cursor, at most `limit` of them, and how
    /// many there are in all.
    pub fn select(&self, activity: impl IntoIterator<Item = CustomerActivity>) -> LoyalCustomers {
        let mut loyal: Vec<CustomerActivity> = activity
            .into_iter()
            .filter(|entry| entry.purchase_count >= u64::from(self.min_purchases))
            .collect();
        let count = loyal.len() as u64;
        loyal.sort_by(CustomerActivity::loyal_order);
        let customers = loyal
            .into_iter()
            .filter(|entry| self.after.is_none_or(|cursor| cursor.precedes(entry)))
            .take(self.limit.map_or(usize::MAX, |limit| limit as usize))
            .collect();
        LoyalCustomers { count, customers }
    }
}

impl Default for LoyalQuery {
    fn default() -> LoyalQuery {
        LoyalQuery {
            min_purchases: DEFAULT_LOYAL_MIN_PURCHASES,
            filter: Filter::ALL,
            limit: None,
            after: None,
        }
    }
}

/// The loyal customers: how many there are in all, and the requested page of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoyalCustomers {
    /// How many customers are loyal (whatever the page).
    pub count: u64,
    /// The page, in [`CustomerActivity::loyal_order`].
    pub customers: Vec<CustomerActivity>,
}

/// The loyal customers as a stream, for lists too long to gather in memory (see
/// [`Analytics::loyal_customers_stream`](crate::Analytics::loyal_customers_stream)).
pub struct LoyalStream {
    /// How many customers are loyal (whatever the page).
    pub count: u64,
    /// The page, in [`CustomerActivity::loyal_order`], as the store reads it. An error ends it.
    pub customers: BoxStream<'static, Result<CustomerActivity>>,
}

impl LoyalStream {
    /// A stream over a page already gathered.
    pub fn gathered(loyal: LoyalCustomers) -> LoyalStream {
        LoyalStream {
            count: loyal.count,
            customers: stream::iter(loyal.customers.into_iter().map(Ok)).boxed(),
        }
    }
}

impl std::fmt::Debug for LoyalStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoyalStream")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// A customer and how many purchases they made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerPurchases {
    /// The customer.
    pub customer: CustomerId,
    /// How many purchases they made.
    pub purchase_count: u64,
}

impl CustomerPurchases {
    /// The order of the customers list: most purchases first, then by customer id.
    pub fn top_order(&self, other: &CustomerPurchases) -> Ordering {
        other
            .purchase_count
            .cmp(&self.purchase_count)
            .then(self.customer.cmp(&other.customer))
    }
}

/// Which customers to list in the customers list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopCustomersQuery {
    /// At most this many entries.
    pub limit: u32,
    /// Start after this entry (the previous page's last), in [`CustomerPurchases::top_order`].
    pub after: Option<CustomerPurchases>,
}

impl Default for TopCustomersQuery {
    fn default() -> TopCustomersQuery {
        TopCustomersQuery {
            limit: DEFAULT_TOP_CUSTOMERS,
            after: None,
        }
    }
}

/// How many units of a product were sold, and how many were handed back.
///
/// A period counts the units sold by the purchases made in it and the units returned by the
/// refunds made in it, as the statistics count refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSales {
    /// The product.
    pub product: ProductId,
    /// Its name.
    pub name: String,
    /// Units sold (by purchases not voided).
    pub units_sold: u64,
    /// Units returned by refunds.
    pub units_returned: u64,
}

impl ProductSales {
    /// Units sold minus units returned: what the best sellers are ranked by. A period may
    /// return more units than it sells.
    pub fn net_units(&self) -> i64 {
        i64::try_from(self.units_sold).unwrap_or(i64::MAX)
            - i64::try_from(self.units_returned).unwrap_or(i64::MAX)
    }
}

/// A product's place among the best sellers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankedProduct {
    /// Its competition rank: 1 for the best seller, equal sales share a rank, and the next
    /// rank skips as many places as were shared (1, 1, 3).
    pub rank: u32,
    /// What it sold.
    pub sales: ProductSales,
}

/// Ranks products by units sold minus units returned ([`ProductSales::net_units`]) with
/// competition ranking and keeps every product ranked `max_rank` or better.
///
/// Inside a rank products are ordered by id. A product whose net units are none is not ranked:
/// it is not a best seller, however few products sold.
pub fn rank_top_products(mut sales: Vec<ProductSales>, max_rank: u32) -> Vec<RankedProduct> {
    sales.retain(|s| s.net_units() > 0);
    sales.sort_by(|a, b| {
        b.net_units()
            .cmp(&a.net_units())
            .then(a.product.cmp(&b.product))
    });
    let mut ranked: Vec<RankedProduct> = Vec::with_capacity(sales.len());
    for (place, entry) in sales.into_iter().enumerate() {
        let rank = match ranked.last() {
            Some(previous) if previous.sales.net_units() == entry.net_units() => previous.rank,
            _ => u32::try_from(place + 1).unwrap_or(u32::MAX),
        };
        if rank > max_rank {
            break;
        }
        ranked.push(RankedProduct { rank, sales: entry });
    }
    ranked
}

/// How many refunds were made and what they paid back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefundTotals {
    /// How many refunds.
    pub count: u64,
    /// The exact sum of their amounts.
    pub amount: Money,
}

impl std::ops::Add for RefundTotals {
    type Output = RefundTotals;

    fn add(self, other: RefundTotals) -> RefundTotals {
        RefundTotals {
            count: self.count + other.count,
            amount: self.amount + other.amount,
        }
    }
}

impl std::iter::Sum for RefundTotals {
    fn sum<I: Iterator<Item = RefundTotals>>(iter: I) -> RefundTotals {
        iter.fold(RefundTotals::default(), |sum, each| sum + each)
    }
}

/// What one branch sold.
///
/// Purchases and revenue count the purchases not voided made in the filter's period; refunds
/// count the refunds made in the period (by their own instant, whenever the purchase was
/// made), of purchases made at the branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchStatistics {
    /// The branch.
    pub branch: BranchId,
    /// How many purchases were made there.
    pub purchase_count: u64,
    /// The exact sum of their totals.
    pub revenue: Money,
    /// The refunds of its purchases.
    pub refunds: RefundTotals,
}

impl BranchStatistics {
    /// Revenue minus the refunds' amount; negative over a period whose refunds (of purchases
    /// made before it) pay back more than it sold.
    pub fn net_revenue(&self) -> Decimal {
        self.revenue.amount() - self.refunds.amount.amount()
    }
}

/// The chain's figures over the purchases a filter looks at (see [`BranchStatistics`] for
/// what counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// How many distinct customers made a purchase.
    pub unique_customers: u64,
    /// How many purchases there were.
    pub total_purchases: u64,
    /// The exact sum of their totals.
    pub total_revenue: Money,
    /// The refunds made.
    pub refunds: RefundTotals,
    /// Per branch, every branch of the chain that the filter admits, in id order (a branch
    /// without purchases shows zeros).
    pub by_branch: Vec<BranchStatistics>,
}

impl Statistics {
    /// The chain's figures from its branches' and its distinct customers.
    pub fn from_branches(unique_customers: u64, by_branch: Vec<BranchStatistics>) -> Statistics {
        Statistics {
            unique_customers,
            total_purchases: by_branch.iter().map(|b| b.purchase_count).sum(),
            total_revenue: by_branch.iter().map(|b| b.revenue).sum(),
            refunds: by_branch.iter().map(|b| b.refunds).sum(),
            by_branch,
        }
    }

    /// Revenue minus the refunds' amount (see [`BranchStatistics::net_revenue`]).
    pub fn net_revenue(&self) -> Decimal {
        self.total_revenue.amount() - self.refunds.amount.amount()
    }
}

/// How many loyal customers the dashboard lists.
pub const DASHBOARD_LOYAL_CUSTOMERS: u32 = 10;

/// The owner's dashboard: every analytic at once, over the same purchases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dashboard {
    /// How many distinct customers made a purchase.
    pub unique_customers: u64,
    /// The loyal customers' count and the first [`DASHBOARD_LOYAL_CUSTOMERS`] of them.
    pub loyal_customers: LoyalCustomers,
    /// The best sellers ranked [`DEFAULT_TOP_PRODUCTS_MAX_RANK`] or better.
    pub top_products: Vec<RankedProduct>,
    /// The chain's figures.
    pub statistics: Statistics,
}

impl Dashboard {
    /// The dashboard's loyal customers over `filter`: the first [`DASHBOARD_LOYAL_CUSTOMERS`] of
    /// those with [`DEFAULT_LOYAL_MIN_PURCHASES`] purchases or more.
    pub fn loyal_query(filter: &Filter) -> LoyalQuery {
        LoyalQuery {
            min_purchases: DEFAULT_LOYAL_MIN_PURCHASES,
            filter: *filter,
            limit: Some(DASHBOARD_LOYAL_CUSTOMERS),
            after: None,
        }
    }

    /// The dashboard from its parts, read over the same filter and the same purchases, the
    /// loyal customers with [`Dashboard::loyal_query`].
    pub fn from_parts(
        statistics: Statistics,
        loyal_customers: LoyalCustomers,
        product_sales: Vec<ProductSales>,
    ) -> Dashboard {
        Dashboard {
            unique_customers: statistics.unique_customers,
            loyal_customers,
            top_products: rank_top_products(product_sales, DEFAULT_TOP_PRODUCTS_MAX_RANK),
            statistics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sales(units: &[(i32, u64)]) -> Vec<ProductSales> {
        units
            .iter()
            .map(|&(id, units_sold)| ProductSales {
                product: ProductId::new(id).unwrap(),
                name: format!("p{id}"),
                units_sold,
                units_returned: 0,
            })
            .collect()
    }

    fn ranks(ranked: &[RankedProduct]) -> Vec<(i32, u32)> {
        ranked
            .iter()
            .map(|r| (r.sales.product.get(), r.rank))
            .collect()
    }

    #[test]
    fn equal_sales_share_a_rank_and_the_next_rank_skips() {
        let ranked = rank_top_products(sales(&[(1, 5), (2, 9), (3, 9), (4, 4), (5, 1)]), 3);
        assert_eq!(ranks(&ranked), [(2, 1), (3, 1), (1, 3)]);
    }

    #[test]
    fn every_product_tied_at_the_last_rank_is_kept() {
        let ranked = rank_top_products(sales(&[(1, 9), (2, 8), (3, 7), (4, 7), (5, 7), (6, 1)]), 3);
        assert_eq!(ranks(&ranked), [(1, 1), (2, 2), (3, 3), (4, 3), (5, 3)]);
    }

    #[test]
    fn units_returned_count_against_units_sold() {
        let mut sold = sales(&[(1, 5), (2, 4), (3, 2)]);
        sold[0].units_returned = 2;
        sold[2].units_returned = 2;
        let ranked = rank_top_products(sold, 3);
        assert_eq!(ranks(&ranked), [(2, 1), (1, 2)]);
    }

    #[test]
    fn a_product_never_sold_is_not_ranked() {
        let ranked = rank_top_products(sales(&[(1, 0), (2, 3), (3, 0)]), 3);
        assert_eq!(ranks(&ranked), [(2, 1)]);
        assert!(rank_top_products(sales(&[(1, 0)]), 3).is_empty());
        assert!(rank_top_products(Vec::new(), 3).is_empty());
    }

    #[test]
    fn loyal_order_is_purchases_then_spend_then_id() {
        let at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let entry = |count, spent: &str, id: u128| CustomerActivity {
            customer: CustomerId::from_uuid(uuid::Uuid::from_u128(id)),
            purchase_count: count,
            total_spent: spent.parse().unwrap(),
            first_purchase: at,
            last_purchase: at,
        };
        let mut entries = [
            entry(3, "9", 1),
            entry(4, "1", 2),
            entry(3, "10", 3),
            entry(3, "9", 0),
        ];
        entries.sort_by(CustomerActivity::loyal_order);
        let order: Vec<u128> = entries
            .iter()
            .map(|e| e.customer.uuid().as_u128())
            .collect();
        assert_eq!(order, [2, 3, 0, 1]);
        let cursor = entries[1].cursor();
        let after: Vec<bool> = entries.iter().map(|e| cursor.precedes(e)).collect();
        assert_eq!(after, [false, false, true, true]);
    }

    #[test]
    fn a_filter_admits_its_branch_and_period() {
        let day = |d| Utc.with_ymd_and_hms(2025, 5, d, 0, 0, 0).unwrap();
        let one = BranchId::new(1).unwrap();
        let two = BranchId::new(2).unwrap();
        let filter = Filter::new(Some(one), Some(day(2)), Some(day(4))).unwrap();
        assert!(filter.matches(one, day(2)));
        assert!(filter.matches(one, day(3)));
        assert!(!filter.matches(one, day(4)), "`to` is exclusive");
        assert!(!filter.matches(one, day(1)));
        assert!(!filter.matches(two, day(3)));
        assert!(Filter::ALL.matches(two, day(1)));
        assert_eq!(
            Filter::new(None, Some(day(4)), Some(day(4))),
            Err(ValidationError::EmptyPeriod)
        );
    }
}
