//! The behaviour every store must have, written once and run against each of them.
//!
//! Each case takes a fresh store (default branches, no products, no purchases) and panics when
//! the store misbehaves. [`conformance_suite!`](crate::conformance_suite) turns them into one
//! `#[tokio::test]` per case; an embedder's own store runs the same suite, in a test file:
//!
//! ```
//! icash_core::conformance_suite!(async { std::sync::Arc::new(icash_core::MemoryStore::new()) });
//! # fn main() {}
//! ```
//!
//! The cases are grouped by what they exercise: [`Purchases`](crate::Purchases) in `purchases`,
//! [`Analytics`](crate::Analytics) in `analytics`, [`ImportSession`](crate::ImportSession) in
//! `import`, idempotency keys in `idempotency`, [`Keys`](crate::Keys) and
//! [`Audit`](crate::Audit) in `keys`, [`Refunds`](crate::Refunds) in `refunds`, prices over time
//! in `prices`, tills that were offline in `offline`, the servers behind a store and reads after
//! writes in `consistency`, branches and their business days in `branches` and
//! `business_dates`, sales over time and the day's report in `sales`; `fixture` holds the catalog and the purchases
//! they share.

mod analytics;
mod branches;
mod business_dates;
mod consistency;
mod fixture;
mod idempotency;
mod import;
mod keys;
mod offline;
mod prices;
mod purchases;
mod refunds;
mod sales;

pub use analytics::*;
pub use branches::*;
pub use business_dates::*;
pub use consistency::*;
pub use idempotency::*;
pub use import::*;
pub use keys::*;
pub use offline::*;
pub use prices::*;
pub use purchases::*;
pub use refunds::*;
pub use sales::*;

/// Generates one `#[tokio::test]` per conformance case. `$make` is an expression evaluated
/// afresh for each test, a future whose output dereferences to the store under test.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            records_a_purchase_and_reads_it_back,
            keeps_a_known_customer_id,
            refuses_an_unknown_product_and_writes_nothing,
            refuses_an_unknown_branch_and_writes_nothing,
            an_unknown_purchase_is_not_found,
            a_price_change_leaves_past_purchases_alone,
            an_empty_store_has_empty_analytics,
            analytics_match_the_fixture,
            lists_page_by_cursor,
            the_loyal_stream_is_the_loyal_list,
            filters_by_branch_and_period,
            money_sums_are_exact,
            an_import_is_invisible_until_committed,
            an_import_runs_only_on_an_empty_store,
            concurrent_purchases_are_all_recorded,
            the_dashboard_gathers_every_analytic,
            a_repeated_key_replays_the_first_purchase,
            a_key_reused_for_another_purchase_is_a_conflict,
            racing_requests_with_one_key_record_one_purchase,
            a_refused_purchase_does_not_use_up_its_key,
            idempotency_keys_are_scoped_to_their_sender,
            a_purchase_names_the_key_that_recorded_it,
            a_key_authenticates_until_revoked,
            a_key_added_with_its_hash_authenticates,
            a_key_name_is_never_reused,
            a_key_for_a_missing_branch_is_refused,
            revoking_an_unknown_key_is_not_found,
            key_changes_are_audited_with_their_actor,
            the_audit_trail_pages,
            a_fresh_store_answers_and_lacks_no_migration,
            a_refund_shows_on_the_receipt_at_the_prices_sold,
            a_refund_without_items_takes_every_line_left,
            a_line_is_never_refunded_twice,
            a_void_keeps_the_purchase_and_counts_it_nowhere,
            a_refunded_purchase_cannot_be_voided,
            refunds_and_voids_are_audited,
            a_repeated_refund_key_replays_the_first_refund,
            racing_refunds_of_one_line_refund_it_once,
            a_void_racing_a_refund_lets_one_win,
            analytics_after_refunds_and_voids_equal_a_recomputation,
            random_refunds_and_voids_keep_every_figure_a_recomputation,
            a_product_is_added_listed_and_audited,
            a_sale_is_priced_at_the_price_in_force_at_its_time,
            a_retired_product_is_refused_at_sale,
            a_product_cannot_be_sold_before_it_was_added,
            a_client_id_is_recorded_once_for_good,
            a_batch_stands_or_falls_per_purchase,
            concurrent_duplicate_batches_record_each_purchase_once,
            a_late_purchase_lands_in_its_hour,
            a_store_names_the_primary_among_its_nodes,
            a_read_with_a_writes_token_sees_the_write,
            branches_have_names_zones_and_business_days,
            data_files_are_read_in_their_branchs_zone,
            business_dates_equal_a_naive_recomputation,
            sales_over_time_equal_a_naive_recomputation,
            the_daily_report_adds_up_to_the_days_statistics,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
