//! A property of both stores, generated with proptest: whatever interleaving of purchases (on
//! time and late, alone and in batches, some resent under a client id already recorded) and
//! price changes (dated in the past or the future) a chain goes through, every purchase is
//! priced at the price in force at its sale time, recorded once per client id, and every figure
//! equals a naive recomputation from what was sold.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use icash::core::{
    BatchOutcome, BranchId, ClientId, CustomerRef, Filter, Money, NewPurchase, Origin, PriceChange,
    Product, ProductId, Recorded, Store,
};
use icash::postgres::testing::TestDb;
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use uuid::Uuid;

/// Products 1 to 4, each priced from the start of the history at its id plus 25 cents.
const PRODUCTS: [i32; 4] = [1, 2, 3, 4];

#[derive(Clone, Debug)]
enum Step {
    /// A purchase made `minutes_ago` before the run's start (0: on time), under client id
    /// `client`, sent alone or (`batched`) with the next ones.
    Sale {
        branch: i32,
        items: Vec<i32>,
        minutes_ago: i64,
        client: u8,
        batched: bool,
    },
    /// A new price for `product`, in force from `minutes_ago` before the run's start (negative:
    /// in the future).
    Price {
        product: i32,
        cents: u64,
        minutes_ago: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (
            1..=3i32,
            subsequence(PRODUCTS.to_vec(), 1..=4),
            prop_oneof![Just(0i64), 1..(7 * 24 * 60i64)],
            0..12u8,
            any::<bool>(),
        )
            .prop_map(|(branch, items, minutes_ago, client, batched)| Step::Sale {
                branch,
                items,
                minutes_ago,
                client,
                batched,
            }),
        1 => (1..=4i32, 0..2_000u64, -180..(8 * 24 * 60i64)).prop_map(
            |(product, cents, minutes_ago)| Step::Price { product, cents, minutes_ago }
        ),
    ]
}

/// What the chain sold, recomputed naively from the steps.
#[derive(Default)]
struct Model {
    /// Each product's prices: (in force from, price), `None` from the start.
    prices: HashMap<i32, BTreeMap<Option<DateTime<Utc>>, Money>>,
    recorded: HashSet<u8>,
    /// (branch, sale time, total, items) of every purchase recorded.
    sales: Vec<(i32, DateTime<Utc>, Money, Vec<i32>)>,
}

impl Model {
    fn new() -> Model {
        let mut model = Model::default();
        for id in PRODUCTS {
            let start = format!("{id}.25").parse().unwrap();
            model.prices.insert(id, BTreeMap::from([(None, start)]));
        }
        model
    }

    fn price_at(&self, product: i32, at: DateTime<Utc>) -> Money {
        *self.prices[&product]
            .range(..=Some(at))
            .next_back()
            .expect("every product has a price from the start")
            .1
    }

    /// The total a new sale should have, or `None` when its client id was recorded before.
    fn sell(&mut self, branch: i32, at: DateTime<Utc>, items: &[i32], client: u8) -> Option<Money> {
        if !self.recorded.insert(client) {
            return None;
        }
        let total: Money = items.iter().map(|&id| self.price_at(id, at)).sum();
        self.sales.push((branch, at, total, items.to_vec()));
        Some(total)
    }

    fn matching(
        &self,
        filter: &Filter,
    ) -> impl Iterator<Item = &(i32, DateTime<Utc>, Money, Vec<i32>)> {
        self.sales
            .iter()
            .filter(move |(branch, at, _, _)| filter.matches(BranchId::new(*branch).unwrap(), *at))
    }
}

fn client_id(run: Uuid, client: u8) -> Option<ClientId> {
    Some(ClientId::from_uuid(Uuid::from_u128(
        run.as_u128() ^ u128::from(client),
    )))
}

/// Runs `steps` on `store` and checks every answer and figure against the model.
async fn check(store: &dyn Store, steps: &[Step]) -> Result<(), TestCaseError> {
    let products: Vec<Product> = PRODUCTS
        .iter()
        .map(|&id| {
            Product::new(
                ProductId::new(id).unwrap(),
                &format!("p{id}"),
                format!("{id}.25").parse().unwrap(),
            )
            .unwrap()
        })
        .collect();
    store.put_products(&products).await.unwrap();
    let start = Utc::now();
    let run = Uuid::new_v4();
    let mut model = Model::new();
    let mut batch: Vec<(NewPurchase, Option<Money>)> = Vec::new();
    for step in steps {
        match step {
            Step::Price {
                product,
                cents,
                minutes_ago,
            } => {
                // The purchases waiting for a batch go first, at the prices of their turn.
                flush(store, &mut batch).await?;
                let change = PriceChange::new(
                    Money::from_cents(*cents),
                    start - Duration::minutes(*minutes_ago),
                );
                store
                    .change_price(
                        ProductId::new(*product).unwrap(),
                        &change,
                        &Origin::system(),
                    )
                    .await
                    .unwrap();
                model
                    .prices
                    .get_mut(product)
                    .unwrap()
                    .insert(Some(change.effective_from), change.price);
            }
            Step::Sale {
                branch,
                items,
                minutes_ago,
                client,
                batched,
            } => {
                let at = start - Duration::minutes(*minutes_ago);
                let items_ids = items
                    .iter()
                    .map(|&id| ProductId::new(id).unwrap())
                    .collect();
                let purchase = NewPurchase::new(
                    BranchId::new(*branch).unwrap(),
                    CustomerRef::New,
                    items_ids,
                    at,
                )
                .unwrap()
                .with_client_id(client_id(run, *client));
                let at = purchase.at();
                let expected = model.sell(*branch, at, items, *client);
                if *batched {
                    batch.push((purchase, expected));
                    continue;
                }
                flush(store, &mut batch).await?;
                let recorded = store.record(purchase, None).await.unwrap();
                match expected {
                    Some(total) => {
                        prop_assert!(matches!(recorded, Recorded::Created(_)));
                        prop_assert_eq!(recorded.purchase().total(), total);
                    }
                    None => prop_assert!(matches!(recorded, Recorded::Resent(_))),
                }
            }
        }
    }
    flush(store, &mut batch).await?;

    let week = Filter::new(
        None,
        Some(start - Duration::days(2)),
        Some(start - Duration::hours(3)),
    )
    .unwrap();
    let mut filters = vec![Filter::ALL, week];
    for branch in 1..=3 {
        filters.push(Filter::new(Some(BranchId::new(branch).unwrap()), None, None).unwrap());
        filters.push(
            Filter::new(
                Some(BranchId::new(branch).unwrap()),
                Some(start - Duration::days(1)),
                None,
            )
            .unwrap(),
        );
    }
    for filter in &filters {
        let statistics = store.statistics(filter).await.unwrap();
        let expected: Vec<_> = model.matching(filter).collect();
        prop_assert_eq!(
            statistics.total_purchases,
            expected.len() as u64,
            "{:?}",
            filter
        );
        prop_assert_eq!(
            statistics.total_revenue,
            expected.iter().map(|s| s.2).sum::<Money>(),
            "{:?}",
            filter
        );
        for branch in &statistics.by_branch {
            let own: Vec<_> = expected
                .iter()
                .filter(|s| s.0 == branch.branch.get())
                .collect();
            prop_assert_eq!(branch.purchase_count, own.len() as u64);
            prop_assert_eq!(branch.revenue, own.iter().map(|s| s.2).sum::<Money>());
        }
        let mut units: HashMap<i32, u64> = HashMap::new();
        for sale in &expected {
            for &item in &sale.3 {
                *units.entry(item).or_default() += 1;
            }
        }
        let sold: HashMap<i32, u64> = store
            .product_sales(filter)
            .await
            .unwrap()
            .into_iter()
            .map(|sales| (sales.product.get(), sales.units_sold))
            .filter(|(_, units)| *units > 0)
            .collect();
        prop_assert_eq!(sold, units, "{:?}", filter);
    }
    Ok(())
}

/// Sends the purchases waiting for a batch, checking each outcome.
async fn flush(
    store: &dyn Store,
    batch: &mut Vec<(NewPurchase, Option<Money>)>,
) -> Result<(), TestCaseError> {
    if batch.is_empty() {
        return Ok(());
    }
    let (purchases, expected): (Vec<_>, Vec<_>) = std::mem::take(batch).into_iter().unzip();
    let outcomes = store.record_batch(purchases).await.unwrap();
    for (outcome, expected) in outcomes.iter().zip(expected) {
        match (outcome, expected) {
            (BatchOutcome::Recorded(id), Some(total)) => {
                prop_assert_eq!(store.purchase(*id).await.unwrap().total(), total);
            }
            (BatchOutcome::AlreadyRecorded(_), None) => {}
            (outcome, expected) => {
                prop_assert!(false, "{:?} where {:?} was expected", outcome, expected)
            }
        }
    }
    Ok(())
}

fn run(cases: u32, store: impl Fn(&tokio::runtime::Runtime) -> (Box<dyn Store>, Option<TestDb>)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let (store, db) = store(&runtime);
            let result = runtime.block_on(check(store.as_ref(), &steps));
            drop(store);
            drop(db);
            result
        })
        .unwrap();
}

#[test]
fn every_purchase_is_priced_at_its_sale_time_in_memory() {
    run(64, |_| (Box::new(icash::core::MemoryStore::new()), None));
}

#[test]
fn every_purchase_is_priced_at_its_sale_time_on_postgres() {
    run(12, |runtime| {
        let db = runtime.block_on(TestDb::new());
        (Box::new(db.store().clone()), Some(db))
    });
}
