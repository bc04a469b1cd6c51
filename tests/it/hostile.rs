//! Hostile input, generated with proptest: whatever a client sends, the API answers with a 4xx
//! and `{"error": "<sentence>"}`, never a 5xx, and records a purchase only when the request is
//! a valid one.
//!
//! Each test drives `icash::http::api` on an in-memory store through `warp::test`, on one of
//! three stores:
//! - **empty**: the default branches and no products, so no purchase can ever succeed;
//! - **stocked**: products 1 to 5, where a small oracle ([`verdict`]) says which bodies are
//!   valid purchases, and the API must record exactly those;
//! - **with history**: the stocked store after [`HISTORY`] purchases, so that the analytics,
//!   paging and receipts have something to answer with.
//!
//! What is generated: arbitrary JSON (nulls, booleans, numbers from `-0.0` to `1e308` and
//! `u64::MAX`, strings with unicode and control characters, nested arrays and objects whose keys
//! mix random text with the real field names), near-valid purchases with one thing wrong, JSON
//! text built by hand (duplicate keys, numbers no `f64` can hold, deep nesting, raw control
//! characters, invalid UTF-8), thousands of items, empty and oversized bodies, random bytes,
//! wrong, odd or missing `Content-Type`s, random query strings for every endpoint that takes
//! parameters (percent-encoded random bytes too), random receipt ids, and random methods and
//! paths.
//!
//! Run with `cargo test --test it hostile`; `PROPTEST_CASES` changes the number of cases (256 by
//! default). A failure prints the smallest input proptest found. Two leniencies the tests found
//! (items written as arrays, invalid UTF-8 in an ignored field) are fixed and pinned at the end.
//!
//! Properties: never a 5xx; every non-2xx is `application/json`, an object with exactly one key,
//! `error`, a non-empty sentence; the store without products never records a purchase; the
//! stocked store records a purchase exactly when the oracle says so, answers 415 for a body not
//! declared as JSON and 413 for one over 64 KiB; GETs never write; every answer has a request id.

use std::fmt;
use std::sync::Arc;

use icash::core::{Analytics, Catalog, Filter, MemoryStore, Product, ProductId, Purchases};
use icash::http::DEFAULT_BODY_LIMIT;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Number, Value};
use uuid::Uuid;

use crate::api::{self, Answer, Api};

/// The products of the stocked store: ids 1 to 5.
const PRODUCTS: std::ops::RangeInclusive<i64> = 1..=5;
/// The branches every store has ([`icash::core::Branch::defaults`]).
const BRANCHES: std::ops::RangeInclusive<i64> = 1..=3;
/// How many purchases the store with history holds.
const HISTORY: u64 = 40;
/// The field names of a purchase request, mixed into the generated keys.
const REAL_KEYS: [&str; 5] = [
    "supermarket_id",
    "user_id",
    "items",
    "product_id",
    "quantity",
];
/// The query parameters the API reads.
const QUERY_KEYS: [&str; 7] = [
    "supermarket_id",
    "from",
    "to",
    "limit",
    "cursor",
    "min_purchases",
    "max_rank",
];
/// Every GET endpoint that takes query parameters.
const QUERY_ENDPOINTS: [&str; 6] = [
    "/analytics/statistics",
    "/analytics/unique-customers",
    "/analytics/loyal-customers",
    "/analytics/top-products",
    "/dashboard",
    "/cash-register/customers",
];

// ---------------------------------------------------------------------------------------------
// The harness: a store, its API, and a runtime to drive it.

/// The body of `answer` as JSON, or why it is not.
fn json_of(answer: &Answer) -> Result<Value, TestCaseError> {
    serde_json::from_slice(&answer.body).map_err(|error| {
        TestCaseError::fail(format!(
            "a {} answered a body that is not JSON ({error}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ))
    })
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    store: Arc<MemoryStore>,
    api: Api,
}

impl Harness {
    /// The default branches and no products: every purchase must be refused.
    fn empty() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let store = Arc::new(MemoryStore::new());
        let api = api::api(store.clone());
        Harness {
            runtime,
            store,
            api,
        }
    }

    /// Products 1 to 5.
    fn stocked() -> Harness {
        let harness = Harness::empty();
        let products: Vec<Product> = PRODUCTS
            .map(|id| {
                let id = i32::try_from(id).unwrap();
                Product::new(
                    ProductId::new(id).unwrap(),
                    &format!("product {id}"),
                    format!("{id}.25").parse().unwrap(),
                )
                .unwrap()
            })
            .collect();
        harness
            .runtime
            .block_on(harness.store.put_products(&products))
            .unwrap();
        harness
    }

    /// Products 1 to 5 and [`HISTORY`] purchases by seven customers at the three branches,
    /// recorded through the API.
    fn with_history() -> Harness {
        let harness = Harness::stocked();
        let customers: Vec<String> = (1..=7u128)
            .map(|n| Uuid::from_u128(n * 0x0101_0101_0101_0101).to_string())
            .collect();
        for n in 0..HISTORY as usize {
            let products: Vec<Value> = (1..=5)
                .filter(|p| (n + p) % 3 != 0)
                .map(|p| serde_json::json!({"product_id": p}))
                .collect();
            let body = serde_json::json!({
                "supermarket_id": n % 3 + 1,
                "user_id": customers[n % customers.len()],
                "items": products,
            });
            let answer = harness.post(body.to_string(), Some("application/json"));
            assert_eq!(
                answer.status,
                201,
                "{}",
                String::from_utf8_lossy(&answer.body)
            );
        }
        harness
    }

    fn send(&self, request: warp::test::RequestBuilder) -> Answer {
        self.runtime.block_on(api::send(&self.api, request))
    }

    fn get(&self, path: &str) -> Answer {
        self.send(warp::test::request().method("GET").path(path))
    }

    fn post(&self, body: impl AsRef<[u8]>, content_type: Option<&str>) -> Answer {
        let mut request = warp::test::request()
            .method("POST")
            .path("/cash-register/purchase")
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request)
    }

    fn has_purchases(&self) -> bool {
        self.runtime.block_on(self.store.has_purchases()).unwrap()
    }

    fn purchase_count(&self) -> u64 {
        self.runtime
            .block_on(self.store.statistics(&Filter::ALL))
            .unwrap()
            .total_purchases
    }
}

/// Runs `test` on the cases `strategy` generates (256, or `PROPTEST_CASES`), panicking with
/// the smallest failing input.
fn check<S>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

/// The properties of every answer: never a 5xx, and every refusal is JSON, exactly
/// `{"error": "<a non-empty sentence>"}`.
fn check_answer(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.status < 500,
        "a server error {}: {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    prop_assert!(
        answer
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "a {} refusal is declared as {:?}",
        answer.status,
        answer.header("content-type")
    );
    let body = json_of(answer)?;
    let object = body.as_object();
    prop_assert!(
        object.is_some_and(|object| object.len() == 1),
        "a {} refusal is not an object with one key: {body}",
        answer.status
    );
    let sentence = body.get("error").and_then(Value::as_str);
    prop_assert!(
        sentence.is_some_and(|sentence| !sentence.trim().is_empty()),
        "a {} refusal has no sentence under `error`: {body}",
        answer.status
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The oracle.

/// Whether `content_type` declares JSON: its media type, before any parameter, is
/// `application/json` in any case.
fn declares_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    })
}

/// What the stocked store must do with a body sent as JSON within the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Record it: 201.
    Record,
    /// Refuse it: a 4xx.
    Refuse,
    /// Either: the contract leaves it open.
    Either,
}

/// `true` is [`Verdict::Record`], `false` [`Verdict::Refuse`].
impl From<bool> for Verdict {
    fn from(valid: bool) -> Verdict {
        if valid {
            Verdict::Record
        } else {
            Verdict::Refuse
        }
    }
}

/// The oracle: whether a JSON value is a purchase the stocked store must record. It must be an
/// object (unknown keys are ignored) with `supermarket_id` a branch (1 to 3), `user_id` `"new"`
/// or a UUID, and `items` 1 to 5 objects naming distinct products (1 to 5), each with no
/// `quantity`, a null one, or 1. An item written as an array of its fields (`[1]`) is refused.
fn verdict(value: &Value) -> Verdict {
    let Some(object) = value.as_object() else {
        return Verdict::Refuse;
    };
    let branch_ok = object
        .get("supermarket_id")
        .and_then(Value::as_i64)
        .is_some_and(|id| BRANCHES.contains(&id));
    let customer_ok = object
        .get("user_id")
        .and_then(Value::as_str)
        .is_some_and(|user| user == "new" || Uuid::try_parse(user.trim()).is_ok());
    let Some(items) = object.get("items").and_then(Value::as_array) else {
        return Verdict::Refuse;
    };
    let mut seen = Vec::new();
    let items_ok = !items.is_empty()
        && items.iter().all(|item| {
            let Value::Object(item) = item else {
                return false;
            };
            let (product, quantity) = (item.get("product_id"), item.get("quantity"));
            let quantity_ok = match quantity {
                None | Some(Value::Null) => true,
                Some(quantity) => quantity.as_i64() == Some(1),
            };
            let product = product.and_then(Value::as_i64);
            let product_ok =
                product.is_some_and(|id| PRODUCTS.contains(&id) && !seen.contains(&id));
            seen.extend(product);
            quantity_ok && product_ok
        });
    Verdict::from(branch_ok && customer_ok && items_ok)
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// A body of raw bytes, printed short: a failure with a 64 KiB body stays readable.
#[derive(Clone)]
struct Body {
    bytes: Vec<u8>,
    /// What the stocked store must do with it, when it is sent as JSON within the limit.
    verdict: Verdict,
}

impl Body {
    fn text(text: impl Into<String>, verdict: impl Into<Verdict>) -> Body {
        Body {
            bytes: text.into().into_bytes(),
            verdict: verdict.into(),
        }
    }

    fn invalid(bytes: Vec<u8>) -> Body {
        Body {
            bytes,
            verdict: Verdict::Refuse,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 600;
        let shown = &self.bytes[..self.bytes.len().min(SHOWN)];
        write!(
            f,
            "Body {{ len: {}, verdict: {:?}, bytes: {:?}{} }}",
            self.bytes.len(),
            self.verdict,
            String::from_utf8_lossy(shown),
            if self.bytes.len() > SHOWN { "..." } else { "" }
        )
    }
}

/// Numbers: small ids around the valid ones, the edges of every integer type, and floats from
/// tiny to `1e308`, `-0.0` and whole floats such as `1.0` included.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-3i64..8).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => select(vec![
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
        ])
        .prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
        1 => any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        1 => select(vec![1e308, -1e308, 0.5, 1.0, 2.0, -0.0, 1e-300, f64::MAX, f64::MIN_POSITIVE])
            .prop_map(Value::from),
    ]
}

/// A UUID in one of the forms `Uuid::try_parse` reads, sometimes padded or in capitals.
fn uuid_text() -> impl Strategy<Value = String> {
    (any::<u128>(), 0..6u8).prop_map(|(n, form)| {
        let id = Uuid::from_u128(n);
        match form {
            0 => id.hyphenated().to_string(),
            1 => id.simple().to_string(),
            2 => id.braced().to_string(),
            3 => id.urn().to_string(),
            4 => id.hyphenated().to_string().to_uppercase(),
            _ => format!(" {id}\t"),
        }
    })
}

/// Text: any unicode, control characters, words the API reads, and UUID-like strings.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        1 => "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{feff}]{0,8}",
        1 => select(vec!["new", "NEW", " new", "new ", "", "null", "1", "0", "-1", "true"])
            .prop_map(str::to_owned),
        1 => uuid_text(),
        1 => "[0-9a-fA-F-]{30,40}",
    ]
}

/// Object keys: the real field names, or random text.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => select(REAL_KEYS.to_vec()).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

/// Any JSON value, nested up to 8 levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8).prop_map(object),
        ]
    })
}

fn product_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (-1i64..8).prop_map(Value::from),
        1 => number(),
        1 => (1i64..6).prop_map(|id| Value::String(id.to_string())),
        1 => Just(Value::Null),
    ]
}

fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(Value::from(1)),
        2 => Just(Value::Null),
        2 => (-2i64..4).prop_map(Value::from),
        1 => number(),
        1 => Just(Value::String("1".to_owned())),
    ]
}

/// One item: mostly an object with `product_id`, sometimes `quantity` and extra keys,
/// sometimes any JSON at all.
fn item() -> impl Strategy<Value = Value> {
    let extra = prop::collection::vec((text(), json()), 0..2);
    prop_oneof![
        6 => (
            prop::option::weighted(0.9, product_id()),
            prop::option::of(quantity()),
            extra,
        )
            .prop_map(|(product, quantity, extra)| {
                let mut item: Map<String, Value> = extra.into_iter().collect();
                if let Some(product) = product {
                    item.insert("product_id".to_owned(), product);
                }
                if let Some(quantity) = quantity {
                    item.insert("quantity".to_owned(), quantity);
                }
                Value::Object(item)
            }),
        1 => json(),
    ]
}

/// 1 to 5 distinct existing products, each as `{"product_id": n}` with maybe a `quantity` of 1
/// or null: the items of a valid purchase.
fn clean_items() -> impl Strategy<Value = Value> {
    subsequence(PRODUCTS.collect::<Vec<_>>(), 1..=5)
        .prop_shuffle()
        .prop_flat_map(|ids| {
            let count = ids.len();
            (
                Just(ids),
                prop::collection::vec(select(vec![None, Some(Value::Null), Some(1.into())]), count),
            )
        })
        .prop_map(|(ids, quantities)| {
            Value::Array(
                ids.into_iter()
                    .zip(quantities)
                    .map(|(id, quantity)| {
                        let mut item = Map::new();
                        item.insert("product_id".to_owned(), id.into());
                        if let Some(quantity) = quantity {
                            item.insert("quantity".to_owned(), quantity);
                        }
                        Value::Object(item)
                    })
                    .collect(),
            )
        })
}

/// A purchase request, valid or near-valid: each field right, wrong, of the wrong type, or
/// missing, with extra keys, and now and then thousands of items or no object at all.
fn purchase_like() -> impl Strategy<Value = Value> {
    let branch = prop_oneof![
        6 => (-1i64..6).prop_map(Value::from),
        1 => number(),
        1 => (1i64..4).prop_map(|id| Value::String(id.to_string())),
        1 => Just(Value::Null),
    ];
    let customer = prop_oneof![
        3 => Just(Value::String("new".to_owned())),
        3 => uuid_text().prop_map(Value::String),
        2 => text().prop_map(Value::String),
        1 => number(),
        1 => Just(Value::Null),
    ];
    let items = prop_oneof![
        6 => clean_items(),
        3 => prop::collection::vec(item(), 0..8).prop_map(Value::Array),
        1 => prop::collection::vec((1i64..3000).prop_map(|id| object([("product_id".to_owned(), id.into())])), 1000..3000)
            .prop_map(Value::Array),
        1 => json(),
    ];
    let fields = (
        prop::option::weighted(0.95, branch),
        prop::option::weighted(0.95, customer),
        prop::option::weighted(0.95, items),
        prop::collection::vec((text(), json()), 0..3),
    )
        .prop_map(|(branch, customer, items, extra)| {
            let mut request: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in [
                ("supermarket_id", branch),
                ("user_id", customer),
                ("items", items),
            ] {
                if let Some(value) = value {
                    request.insert(name.to_owned(), value);
                }
            }
            Value::Object(request)
        });
    prop_oneof![9 => fields, 1 => json()]
}

/// A body made of a JSON value, compact or pretty.
fn json_body(value: Value) -> impl Strategy<Value = Body> {
    any::<bool>().prop_map(move |pretty| {
        let text = if pretty {
            serde_json::to_string_pretty(&value)
        } else {
            serde_json::to_string(&value)
        };
        Body::text(text.unwrap(), verdict(&value))
    })
}

/// `"key":value` pairs joined into an object.
fn raw_object(pairs: &[(String, String)]) -> String {
    let fields: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{key:?}:{value}"))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// A valid purchase written by hand with a key repeated: a real key (refused, even with the
/// same value twice) or an unknown one (ignored, so the purchase stays valid), at the top or in
/// an item, in any order.
fn duplicate_keys() -> impl Strategy<Value = Body> {
    (
        1i64..=3,
        subsequence(PRODUCTS.collect::<Vec<_>>(), 1..=5),
        0..5u8,
        select(vec![
            "supermarket_id",
            "user_id",
            "items",
            "product_id",
            "quantity",
        ]),
        "[a-z_]{1,8}",
        any::<bool>(),
        any::<prop::sample::Index>(),
    )
        .prop_flat_map(
            |(branch, products, kind, real_key, unknown_key, same_value, at)| {
                let mut items: Vec<Vec<(String, String)>> = products
                    .iter()
                    .map(|id| vec![("product_id".to_owned(), id.to_string())])
                    .collect();
                let mut top = vec![
                    ("supermarket_id".to_owned(), branch.to_string()),
                    ("user_id".to_owned(), "\"new\"".to_owned()),
                ];
                let in_item = at.index(items.len());
                let valid = match kind {
                    // A real top-level key twice.
                    0 => {
                        let key = ["supermarket_id", "user_id", "items"][at.index(3)];
                        let value = match (key, same_value) {
                            ("supermarket_id", true) => branch.to_string(),
                            ("supermarket_id", false) => (branch % 3 + 1).to_string(),
                            ("user_id", _) => "\"new\"".to_owned(),
                            _ => "[{\"product_id\":1}]".to_owned(),
                        };
                        top.push((key.to_owned(), value));
                        false
                    }
                    // A real item key twice.
                    1 => {
                        let key = if real_key == "quantity" {
                            items[in_item].push(("quantity".to_owned(), "1".to_owned()));
                            "quantity"
                        } else {
                            "product_id"
                        };
                        let value = if key == "quantity" {
                            "1".to_owned()
                        } else {
                            products[in_item].to_string()
                        };
                        items[in_item].push((key.to_owned(), value));
                        false
                    }
                    // An unknown key twice, at the top or in an item.
                    2 | 3 => {
                        let unknown = format!("x_{unknown_key}");
                        let pairs = if kind == 2 {
                            &mut top
                        } else {
                            &mut items[in_item]
                        };
                        pairs.push((unknown.clone(), "1".to_owned()));
                        pairs.push((unknown, "\"two\"".to_owned()));
                        true
                    }
                    _ => true,
                };
                let items = format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|item| raw_object(item))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                top.push(("items".to_owned(), items));
                (Just(top).prop_shuffle(), Just(valid))
            },
        )
        .prop_map(|(top, valid)| Body::text(raw_object(&top), valid))
}

/// A valid purchase with one number written in a way JSON or the API does not take (or a
/// harmless variation): `1e400`, thirty digits, `1.0`, `-0`, `01`, `+1`, hex, `NaN`...
fn odd_numbers() -> impl Strategy<Value = Body> {
    const ALWAYS_BAD: [&str; 16] = [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "1.0",
        "1e0",
        "1E0",
        "-0",
        "01",
        "+1",
        "0x1",
        "NaN",
        "Infinity",
        "1.",
        ".1",
        "\"1\"",
        "true",
    ];
    let tokens = prop_oneof![
        3 => select(ALWAYS_BAD.to_vec()).prop_map(|token| (token.to_owned(), [false; 3])),
        // [as supermarket_id, as product_id, as quantity]
        1 => select(vec![
            ("1", [true, true, true]),
            (" 2 ", [true, true, false]),
            ("\n3\t", [true, true, false]),
            ("5", [false, true, false]),
            ("null", [false, false, true]),
            ("0", [false, false, false]),
            ("-1", [false, false, false]),
            ("2147483648", [false, false, false]),
            ("-2147483649", [false, false, false]),
            ("9223372036854775808", [false, false, false]),
            ("18446744073709551616", [false, false, false]),
        ])
        .prop_map(|(token, valid)| (token.to_owned(), valid)),
    ];
    (tokens, 0..3usize).prop_map(|((token, valid), at)| {
        let mut values = ["1".to_owned(), "1".to_owned(), "1".to_owned()];
        values[at] = token;
        let [branch, product, quantity] = values;
        Body::text(
            format!(
                "{{\"supermarket_id\":{branch},\"user_id\":\"new\",\"items\":[{{\"product_id\":{product},\"quantity\":{quantity}}}]}}"
            ),
            valid[at],
        )
    })
}

/// Bodies nobody should accept: empty or blank, deeply nested, raw control characters in a
/// string, invalid UTF-8 in a field the API reads, truncated or with trailing garbage, and
/// random bytes.
fn broken_bodies() -> impl Strategy<Value = Body> {
    let valid = r#"{"supermarket_id":1,"user_id":"new","items":[{"product_id":1}]}"#;
    prop_oneof![
        1 => "[ \t\r\n]{0,16}".prop_map(|blank| Body::text(blank, false)),
        1 => (100usize..30_000, select(vec!["[", "{\"a\":", "[{\"items\":"]), any::<bool>()).prop_map(
            |(depth, open, in_items)| {
                // Deep, but within the size limit, so that the parser sees it.
                let nested = open.repeat(depth.min(60_000 / open.len()));
                let text = if in_items {
                    format!("{{\"supermarket_id\":1,\"user_id\":\"new\",\"items\":{nested}")
                } else {
                    nested
                };
                Body::text(text, false)
            }
        ),
        1 => "[\\x00-\\x1f]{1,4}".prop_map(|control| Body::text(
            format!("{{\"supermarket_id\":1,\"user_id\":\"new{control}\",\"items\":[{{\"product_id\":1}}]}}"),
            false
        )),
        1 => (prop::collection::vec(0x80u8..=0xff, 1..4), 0..2u8).prop_map(|(bad, at)| {
            let mut bytes = Vec::new();
            if at == 0 {
                bytes.extend_from_slice(b"{\"supermarket_id\":1,\"user_id\":\"ne");
                bytes.extend_from_slice(&bad);
                bytes.extend_from_slice(b"w\",\"items\":[{\"product_id\":1}]}");
            } else {
                bytes.extend_from_slice(b"{\"supermarket_id\":1,\"");
                bytes.extend_from_slice(&bad);
                bytes.extend_from_slice(b"user_id\":\"new\",\"items\":[{\"product_id\":1}]}");
            }
            Body::invalid(bytes)
        }),
        1 => (1..valid.len()).prop_map(move |cut| Body::text(&valid[..cut], false)),
        1 => select(vec![" x", "}", ",", "{}", "[]", " null", "\u{0}"])
            .prop_map(move |tail| Body::text(format!("{valid}{tail}"), false)),
        2 => prop::collection::vec(any::<u8>(), 0..2048).prop_map(Body::invalid),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(|bytes| {
            let mut body = b"{".to_vec();
            body.extend(bytes);
            Body::invalid(body)
        }),
    ]
}

/// A valid purchase with an unknown field nested thousands of levels deep: the API may refuse
/// it or ignore the field, but must not overflow its stack.
fn deep_unknown_field() -> impl Strategy<Value = Body> {
    (100usize..30_000, select(vec!["[", "{\"a\":"])).prop_map(|(depth, open)| {
        let depth = depth.min(60_000 / (open.len() + 1));
        let close = if open == "[" { "]" } else { "}" };
        Body::text(
            format!(
                "{{\"supermarket_id\":1,\"x\":{}1{},\"user_id\":\"new\",\"items\":[{{\"product_id\":1}}]}}",
                open.repeat(depth),
                close.repeat(depth)
            ),
            Verdict::Either,
        )
    })
}

/// Thousands of items as text: repeated, distinct and unknown, or not items at all.
fn thousands_of_items() -> impl Strategy<Value = Body> {
    (1000usize..6000, 0..3u8).prop_map(|(count, kind)| {
        let items: Vec<String> = (0..count)
            .map(|n| match kind {
                0 => format!("{{\"product_id\":{}}}", n % 5 + 1),
                1 => format!("{{\"product_id\":{}}}", n + 1),
                _ => n.to_string(),
            })
            .collect();
        Body::text(
            format!(
                "{{\"supermarket_id\":1,\"user_id\":\"new\",\"items\":[{}]}}",
                items.join(",")
            ),
            false,
        )
    })
}

/// A purchase over the 64 KiB limit: padded with blanks, or with a long extra string, so the
/// body is otherwise a valid purchase.
fn oversized() -> impl Strategy<Value = Body> {
    let limit = usize::try_from(DEFAULT_BODY_LIMIT).unwrap();
    (limit + 1..limit * 3, any::<bool>()).prop_map(|(size, blanks)| {
        let valid = r#""supermarket_id":1,"user_id":"new","items":[{"product_id":1}]"#;
        let padding = size.saturating_sub(valid.len() + 12).max(1);
        let text = if blanks {
            format!("{{{valid}{}}}", " ".repeat(padding))
        } else {
            format!("{{{valid},\"note\":\"{}\"}}", "x".repeat(padding))
        };
        // Valid JSON and a valid purchase: only its size makes it refused.
        Body::text(text, true)
    })
}

/// Every kind of body.
fn any_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => purchase_like().prop_flat_map(json_body),
        2 => json().prop_flat_map(json_body),
        2 => duplicate_keys(),
        2 => odd_numbers(),
        3 => broken_bodies(),
        1 => deep_unknown_field(),
        1 => thousands_of_items(),
        1 => oversized(),
    ]
}

/// A `Content-Type`: mostly JSON in some spelling, else missing, wrong, or random.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => Just(Some("application/json".to_owned())),
        2 => select(vec![
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "Application/Json;charset=\"utf-8\"",
            " application/json ",
            "application/json;",
        ])
        .prop_map(|value| Some(value.to_owned())),
        2 => Just(None),
        2 => select(vec![
            "",
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json-seq",
            "application/problem+json",
            "application/ json",
            "application/json, text/plain",
            "*/*",
            "json",
        ])
        .prop_map(|value| Some(value.to_owned())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

/// The expected fate of a body: recorded (201) by the stocked store, or refused with which
/// status, when it is known.
fn expected_status(body: &Body, content_type: Option<&str>) -> Option<u16> {
    if !declares_json(content_type) {
        Some(415)
    } else if body.bytes.len() as u64 > DEFAULT_BODY_LIMIT {
        Some(413)
    } else if body.verdict == Verdict::Record {
        Some(201)
    } else {
        None
    }
}

// --- Query strings and paths.

/// Percent-encodes every byte but the unreserved ones.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// An RFC 3339 instant from random fields, sometimes out of range or with an odd offset.
fn instant() -> impl Strategy<Value = String> {
    (
        0u32..10_000,
        0u32..14,
        0u32..33,
        0u32..25,
        0u32..61,
        0u32..61,
        select(vec![
            "Z", "z", "+00:00", "%2B02:00", "+02:00", "-05:30", "+24:00", "", "%2B99:99",
        ]),
        select(vec!["T", "t", "%20", "_"]),
        select(vec!["", ".5", ".123456789", ".1234567891234"]),
    )
        .prop_map(
            |(year, month, day, hour, minute, second, offset, separator, fraction)| {
                format!(
                    "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
                )
            },
        )
}

/// A cursor of either list, well-formed or nearly.
fn cursor() -> impl Strategy<Value = String> {
    let count = prop_oneof![
        (0u64..50).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999999".to_owned()),
    ];
    let money = prop_oneof![
        select(vec![
            "0",
            "12.5",
            "12.50",
            "-1",
            "1e9",
            "NaN",
            "0.001",
            "99999999999999999999999999999"
        ])
        .prop_map(str::to_owned),
        (0u64..100_000, 0u32..100).prop_map(|(units, cents)| format!("{units}.{cents:02}")),
    ];
    let customer = prop_oneof![
        any::<u128>().prop_map(|n| Uuid::from_u128(n).simple().to_string()),
        (1..=7u128).prop_map(|n| Uuid::from_u128(n * 0x0101_0101_0101_0101)
            .simple()
            .to_string()),
        "[0-9a-f]{0,40}",
    ];
    prop_oneof![
        (count.clone(), money, customer.clone()).prop_map(|(c, m, u)| format!("{c}_{m}_{u}")),
        (count, customer).prop_map(|(c, u)| format!("{c}_{u}")),
        "[0-9_a-z.]{0,30}",
    ]
}

/// A query value, already encoded for the URL.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-3i64..40).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => select(vec![
            "", "1000", "1001", "4294967295", "4294967296", "2147483647", "2147483648",
            "99999999999999999999", "1e3", "0x10", "%201", "1%20", "+1", "-0", "1.0", "%00",
            "%FF", "%", "%zz", "%C3%A9",
        ])
        .prop_map(str::to_owned),
        3 => instant(),
        3 => cursor(),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| percent_encode(&bytes)),
        1 => any::<String>().prop_map(|text| percent_encode(text.as_bytes())),
        1 => "[A-Za-z0-9._~!$'()*,;:@/?+=-]{0,20}",
    ]
}

/// A query string: known and unknown keys, repeated keys, keys without values, empty pairs.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        6 => select(QUERY_KEYS.to_vec()).prop_map(str::to_owned),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|bytes| percent_encode(&bytes)),
        1 => select(vec!["_", "x", "supermarket_id%5B%5D", "LIMIT", "from%00", "cursor%20"])
            .prop_map(str::to_owned),
    ];
    let pair = prop_oneof![
        8 => (key.clone(), query_value()).prop_map(|(key, value)| format!("{key}={value}")),
        1 => key,
        1 => Just(String::new()),
    ];
    prop::collection::vec(pair, 0..7).prop_map(|pairs| pairs.join("&"))
}

/// A segment for `/cash-register/purchases/{id}`: ids, numbers of every size, text and bytes.
fn receipt_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-2i64..60).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => select(vec![
            "", "0", "00001", "+1", "1.0", "1e3", "0x1", "99999999999999999999", "%31", "%00",
            "..", ".", "1%2F2", "1/2", "1?x=1", "%201", "9223372036854775807",
            "-9223372036854775808",
        ])
        .prop_map(str::to_owned),
        2 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|bytes| percent_encode(&bytes)),
        1 => any::<String>().prop_map(|text| percent_encode(text.as_bytes())),
    ]
}

/// A request target that `warp::test` accepts, or a panic: a generator bug, not the API's.
fn target(path: String) -> String {
    assert!(
        path.parse::<warp::http::Uri>().is_ok(),
        "the generator made an invalid URI: {path}"
    );
    path
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// On a store with no products, any body with any `Content-Type` is refused with a 4xx and a
/// sentence, and nothing is ever recorded: arbitrary JSON, near-valid purchases, duplicate
/// keys, odd numbers, deep nesting, broken and random bytes, thousands of items, oversized
/// bodies, and a `Content-Length` that lies now and then.
#[test]
fn no_body_records_a_purchase_on_a_store_without_products() {
    let harness = Harness::empty();
    let lie = prop_oneof![
        6 => Just(None),
        1 => (0u64..200_000).prop_map(Some),
    ];
    check(
        (any_body(), content_type(), lie),
        |(body, content_type, lie)| {
            let mut request = warp::test::request()
                .method("POST")
                .path("/cash-register/purchase")
                .body(&body.bytes);
            if let Some(content_type) = &content_type {
                request = request.header("content-type", content_type.as_str());
            }
            if let Some(length) = lie {
                request = request.header("content-length", length.to_string());
            }
            let answer = harness.send(request);
            check_answer(&answer)?;
            prop_assert!(
                (400..500).contains(&answer.status),
                "a purchase on a store without products answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
            if lie.is_none()
                && let Some(expected @ (413 | 415)) =
                    expected_status(&body, content_type.as_deref())
            {
                prop_assert_eq!(answer.status, expected);
            }
            prop_assert!(!harness.has_purchases(), "a purchase was recorded");
            Ok(())
        },
    );
}

/// On a store with products 1 to 5, a body is recorded (201) exactly when the oracle says it
/// is a valid purchase sent as JSON within the limit; a 415 or 413 exactly when its
/// `Content-Type` or size says so; and a 201 answers the purchase that was asked for.
#[test]
fn only_valid_purchases_are_recorded_on_a_stocked_store() {
    let harness = Harness::stocked();
    check((any_body(), content_type()), |(body, content_type)| {
        let before = harness.purchase_count();
        let answer = harness.post(&body.bytes, content_type.as_deref());
        check_answer(&answer)?;
        let expected = expected_status(&body, content_type.as_deref());
        match expected {
            Some(expected) => prop_assert_eq!(
                answer.status,
                expected,
                "answered {}",
                String::from_utf8_lossy(&answer.body)
            ),
            None if body.verdict == Verdict::Refuse => prop_assert!(
                (400..500).contains(&answer.status),
                "an invalid purchase answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ),
            None => prop_assert!(
                answer.status == 201 || (400..500).contains(&answer.status),
                "answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ),
        }
        let recorded = harness.purchase_count() - before;
        prop_assert_eq!(recorded, u64::from(answer.status == 201));
        // What was sent, as far as serde_json reads it (not past its nesting limit).
        let sent = serde_json::from_slice::<Value>(&body.bytes).ok();
        prop_assert!(sent.is_some() || body.verdict != Verdict::Record);
        if let (201, Some(sent)) = (answer.status, sent) {
            let receipt = json_of(&answer)?;
            prop_assert_eq!(&receipt["supermarket_id"], &sent["supermarket_id"]);
            prop_assert_eq!(
                receipt["items"].as_array().map(Vec::len),
                sent["items"].as_array().map(Vec::len)
            );
            let user = sent["user_id"].as_str().unwrap();
            let minted = receipt["user_id"]
                .as_str()
                .and_then(|id| Uuid::try_parse(id).ok());
            prop_assert!(minted.is_some(), "no customer id in {receipt}");
            if user != "new" {
                prop_assert_eq!(minted, Uuid::try_parse(user.trim()).ok());
            }
        }
        Ok(())
    });
}

/// Every GET endpoint that takes parameters, with random query strings (known and unknown
/// keys, repeated keys, good and bad values, percent-encoded random bytes), on a store with
/// history: never a 5xx, a JSON body when it answers, a sentence when it refuses, and nothing
/// written.
#[test]
fn query_strings_never_break_an_endpoint() {
    let harness = Harness::with_history();
    check(
        (select(QUERY_ENDPOINTS.to_vec()), query()),
        |(endpoint, query)| {
            let answer = harness.get(&target(format!("{endpoint}?{query}")));
            check_answer(&answer)?;
            prop_assert!(
                matches!(answer.status, 200 | 400),
                "{endpoint}?{query} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
            if answer.status == 200 {
                json_of(&answer)?;
            }
            prop_assert_eq!(harness.purchase_count(), HISTORY);
            Ok(())
        },
    );
}

/// The same query strings on the empty store: the empty analytics answer, or a sentence.
#[test]
fn query_strings_never_break_an_empty_store() {
    let harness = Harness::empty();
    check(
        (select(QUERY_ENDPOINTS.to_vec()), query()),
        |(endpoint, query)| {
            let answer = harness.get(&target(format!("{endpoint}?{query}")));
            check_answer(&answer)?;
            prop_assert!(matches!(answer.status, 200 | 400));
            prop_assert!(!harness.has_purchases());
            Ok(())
        },
    );
}

/// Random receipt ids: on the store with history, ids 1 to [`HISTORY`] answer their receipt,
/// anything else a 400 or 404 with a sentence; on the empty store, never a receipt.
#[test]
fn receipt_paths_answer_a_receipt_or_a_sentence() {
    let history = Harness::with_history();
    let empty = Harness::empty();
    let suffix = prop_oneof![8 => Just(""), 1 => Just("/"), 1 => Just("/extra")];
    check(
        (receipt_segment(), suffix, any::<bool>()),
        |(segment, suffix, on_empty)| {
            let path = target(format!("/cash-register/purchases/{segment}{suffix}"));
            let harness = if on_empty { &empty } else { &history };
            let answer = harness.get(&path);
            check_answer(&answer)?;
            // The id as the path has it (before any query); warp reads `/purchases/1/` as
            // `/purchases/1`.
            let uri: warp::http::Uri = path.parse().unwrap();
            let id = uri
                .path()
                .strip_prefix("/cash-register/purchases/")
                .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
                .and_then(|id| id.parse::<u64>().ok())
                .filter(|id| (1..=HISTORY).contains(id));
            if let (Some(id), false) = (id, on_empty) {
                prop_assert_eq!(answer.status, 200, "{}", path);
                let receipt = json_of(&answer)?;
                prop_assert_eq!(receipt["purchase_id"].as_u64(), Some(id));
            } else {
                prop_assert!(
                    matches!(answer.status, 400 | 404),
                    "{path} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
            }
            prop_assert!(!empty.has_purchases());
            Ok(())
        },
    );
}

/// Random methods on random paths (real segments, random ones, encoded bytes), with and
/// without an `Origin`, a preflight's headers and a client's request id (sensible or not):
/// never a 5xx, every refusal a sentence (but a `HEAD`'s, which has no body), every answer an `x-request-id` (the client's when it
/// is sensible), and nothing written.
#[test]
fn random_methods_and_paths_are_refused_with_a_sentence() {
    let harness = Harness::with_history();
    let method = select(vec![
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW",
    ]);
    let segment = prop_oneof![
        3 => select(vec![
            "cash-register", "purchase", "purchases", "products", "customers", "analytics",
            "statistics", "unique-customers", "loyal-customers", "top-products", "dashboard",
            "health", "livez", "readyz", "openapi.json", "1", "",
        ])
        .prop_map(str::to_owned),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|bytes| percent_encode(&bytes)),
    ];
    let origin = prop::option::of(select(vec![
        "https://dashboard.example.com",
        "null",
        "http://localhost:3000",
    ]));
    let preflight = prop::option::of((
        select(vec!["GET", "POST", "DELETE", "BREW"]),
        select(vec![
            "",
            "content-type",
            "Content-Type, X-Request-Id",
            "idempotency-key",
            "content-type, x-evil",
        ]),
    ));
    let request_id = prop::option::of(prop_oneof!["[A-Za-z0-9._-]{1,130}", "[ -~]{0,200}",]);
    check(
        (
            method,
            prop::collection::vec(segment, 0..4),
            origin,
            preflight,
            request_id,
        ),
        |(method, segments, origin, preflight, request_id)| {
            let path = target(format!("/{}", segments.join("/")));
            let mut request = warp::test::request().method(method).path(&path);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
                if let Some((method, headers)) = preflight {
                    request = request.header("access-control-request-method", method);
                    if !headers.is_empty() {
                        request = request.header("access-control-request-headers", headers);
                    }
                }
            }
            if let Some(id) = &request_id {
                request = request.header("x-request-id", id.as_str());
            }
            let answer = harness.send(request);
            if method == "HEAD" {
                // A HEAD answer is a GET's status and headers, never a body, a refusal's included.
                prop_assert!(answer.status < 500, "a server error {}", answer.status);
                prop_assert!(answer.body.is_empty(), "a HEAD answer has a body");
            } else {
                check_answer(&answer)?;
            }
            let sensible = |id: &str| {
                (1..=128).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            };
            let answered_id = answer.header("x-request-id");
            prop_assert!(
                answered_id.is_some_and(sensible),
                "the answer's request id {answered_id:?}"
            );
            if let Some(id) = request_id.as_deref().filter(|id| sensible(id)) {
                prop_assert_eq!(answered_id, Some(id));
            }
            prop_assert_eq!(harness.purchase_count(), HISTORY);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Two leniencies these tests found, fixed since, pinned here.

/// An item written as an array of its fields (`[1]`, `[1, 1]`, `[1, null]`) is refused, as a
/// request body written that way is: the document describes items as objects.
#[test]
fn items_written_as_arrays_are_refused() {
    let harness = Harness::stocked();
    for items in [
        "[[1]]",
        "[[1, 1]]",
        "[[1, null]]",
        "[{\"product_id\": 2}, [1]]",
    ] {
        let body = format!(r#"{{"supermarket_id": 1, "user_id": "new", "items": {items}}}"#);
        let answer = harness.post(&body, Some("application/json"));
        assert_eq!(
            answer.status,
            400,
            "{body} answered {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    assert!(!harness.has_purchases());
}

/// A body that is not UTF-8 is not JSON (RFC 8259, section 8.1), even where the invalid bytes
/// are inside a string the API would ignore (an unknown field).
#[test]
fn invalid_utf8_anywhere_is_refused() {
    let harness = Harness::stocked();
    let mut body = br#"{"note": ""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(
        br#"", "supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#,
    );
    let answer = harness.post(&body, Some("application/json"));
    assert_eq!(
        answer.status,
        400,
        "answered {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(!harness.has_purchases());
}
