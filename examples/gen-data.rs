//! Generates the old system's data files, `products_list.csv` and `purchases.csv`, with
//! realistic but entirely synthetic content.
//!
//! ```text
//! cargo run --release --example gen-data -- --purchases 10000 --customers 4000 --seed 42 --out data
//! ```
//!
//! The catalog is fixed; the purchases are drawn from a `ChaCha8` generator seeded with `--seed`,
//! so the same flags always produce byte-identical files. Customers come from their own random
//! stream, so changing `--purchases` keeps the same customer ids for a given seed and pool size.
//!
//! The shapes are meant to give the analytics something to find: three branches of unequal size,
//! a few loyal customers who account for a large share of the purchases, products of very
//! different popularity, busier weekends and evening peaks.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Datelike, NaiveDate, Weekday};
use clap::Parser;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    about = "Generates products_list.csv and purchases.csv with synthetic, reproducible data"
)]
struct Args {
    /// How many purchases (rows of purchases.csv) to write.
    #[arg(long, default_value_t = 10_000)]
    purchases: u64,

    /// The size of the customer pool the purchases are drawn from (at least 1); a skewed
    /// distribution makes a few customers loyal and most of them occasional.
    #[arg(
        long,
        default_value_t = 4_000,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    customers: usize,

    /// The seed of the random generator: the same flags give byte-identical files.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// The directory the two files are written to; it is created if missing.
    #[arg(long, default_value = "data")]
    out: PathBuf,
}

/// A product of the fixed catalog.
struct Product {
    /// The name, as the purchases list it; it must contain no comma and no double quote.
    name: &'static str,
    /// The unit price in cents: integer arithmetic keeps every total exact.
    price_cents: u64,
    /// How often the product lands in a basket, relative to the others.
    popularity: u64,
}

/// Shorthand for the catalog's rows.
const fn product(name: &'static str, price_cents: u64, popularity: u64) -> Product {
    Product {
        name,
        price_cents,
        popularity,
    }
}

/// The catalog, in file order: product ids are implied by the position, from 1. Staples are
/// far more popular than treats, so the "most sold" reports have a clear head and a long tail.
const CATALOG: [Product; 30] = [
    product("milk", 150, 95),
    product("bread", 200, 90),
    product("eggs", 300, 70),
    product("butter", 275, 35),
    product("cheese", 420, 40),
    product("yogurt", 85, 45),
    product("apples", 240, 50),
    product("bananas", 130, 55),
    product("oranges", 290, 30),
    product("tomatoes", 220, 42),
    product("potatoes", 180, 35),
    product("onions", 110, 30),
    product("carrots", 95, 28),
    product("lettuce", 125, 22),
    product("chicken breast", 650, 32),
    product("ground beef", 575, 24),
    product("salmon fillet", 899, 12),
    product("ham", 345, 26),
    product("rice", 190, 25),
    product("pasta", 135, 38),
    product("flour", 105, 14),
    product("sugar", 120, 15),
    product("coffee", 749, 27),
    product("tea", 325, 13),
    product("orange juice", 260, 24),
    product("mineral water", 60, 48),
    product("cereal", 415, 18),
    product("chocolate", 199, 30),
    product("olive oil", 899, 11),
    product("toilet paper", 550, 16),
];

/// The branches and their relative sizes: a small one, a large one and a middle one.
const BRANCHES: [(&str, u64); 3] = [("SMKT001", 15), ("SMKT002", 45), ("SMKT003", 40)];

/// Relative frequency of baskets of 1, 2, ... products: mostly small top-up shops.
const BASKET_SIZES: [u64; 6] = [22, 27, 21, 14, 10, 6];

/// The largest basket.
const MAX_BASKET: usize = BASKET_SIZES.len();

// Distinct products are drawn by rejection, which needs more products than a basket holds, and
// the chosen ones are tracked in a `u64` bit set.
const _: () = assert!(MAX_BASKET < CATALOG.len() && CATALOG.len() <= 64);

// The lists are written without escaping, so a comma or a quote in a name would break them.
const _: () = assert!(names_are_plain(&CATALOG));

/// Whether no product name contains a comma or a double quote (a `const fn`, hence the loops).
const fn names_are_plain(catalog: &[Product]) -> bool {
    let mut p = 0;
    while p < catalog.len() {
        let name = catalog[p].name.as_bytes();
        let mut b = 0;
        while b < name.len() {
            if name[b] == b',' || name[b] == b'"' {
                return false;
            }
            b += 1;
        }
        p += 1;
    }
    true
}

/// Opening hours (08:00 to 22:00) and the relative traffic of each hour: a lunch and an
/// after-work peak.
const HOURS: [(u32, u64); 14] = [
    (8, 3),
    (9, 4),
    (10, 5),
    (11, 6),
    (12, 8),
    (13, 7),
    (14, 5),
    (15, 5),
    (16, 6),
    (17, 9),
    (18, 10),
    (19, 8),
    (20, 5),
    (21, 3),
];

/// The year the purchases span, from January 1st to December 31st.
const YEAR: i32 = 2025;

/// Customer segments: the share of the pool (in percent) and the range of the relative shopping
/// frequency of its members. Most customers come once or twice a year; a few loyal ones come
/// every week or so and make a large part of the purchases.
const SEGMENTS: [(u32, (u64, u64)); 3] = [(65, (1, 2)), (27, (4, 8)), (8, (20, 40))];

/// The random stream customers are drawn from, apart from the purchases' stream so that the
/// customer ids do not depend on how many purchases are generated.
const CUSTOMER_STREAM: u64 = 1;

/// The random stream the purchases are drawn from.
const PURCHASE_STREAM: u64 = 2;

/// A buffer large enough that writing a gigabyte costs few system calls.
const WRITE_BUFFER: usize = 1 << 20;

/// Samples indices in proportion to integer weights, by binary search in cumulative sums.
struct WeightedTable {
    /// `cumulative[i]` is the sum of the weights of indices `0..=i`.
    cumulative: Vec<u64>,
}

impl WeightedTable {
    /// A table over `weights`; at least one weight must be positive.
    fn new(weights: impl IntoIterator<Item = u64>) -> WeightedTable {
        let cumulative: Vec<u64> = weights
            .into_iter()
            .scan(0, |sum, weight| {
                *sum += weight;
                Some(*sum)
            })
            .collect();
        assert!(
            cumulative.last().is_some_and(|&total| total > 0),
            "a weighted table needs a positive weight"
        );
        WeightedTable { cumulative }
    }

    /// The sum of all the weights.
    fn total(&self) -> u64 {
        *self.cumulative.last().expect("the table is not empty")
    }

    /// The index whose share of `0..total` contains `position`.
    fn locate(&self, position: u64) -> usize {
        self.cumulative.partition_point(|&sum| sum <= position)
    }

    /// A random index, each with a probability proportional to its weight.
    fn sample(&self, rng: &mut impl Rng) -> usize {
        self.locate(rng.random_range(0..self.total()))
    }
}

/// The days of the year, with weekends busier than weekdays.
struct Calendar {
    /// Each day as `YYYY-MM-DD`, formatted once rather than for every row.
    dates: Vec<String>,
    /// The relative traffic of each day.
    traffic: WeightedTable,
}

impl Calendar {
    /// The days of `year`.
    fn of_year(year: i32) -> Calendar {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("January 1st exists");
        let days = first.iter_days().take_while(|day| day.year() == year);
        let (dates, weights): (Vec<String>, Vec<u64>) = days
            .map(|day| (day.format("%Y-%m-%d").to_string(), day_traffic(day)))
            .unzip();
        Calendar {
            dates,
            traffic: WeightedTable::new(weights),
        }
    }

    /// The date of row `row` out of `rows`: rows are spread over the days by their traffic, in
    /// order, so the file is roughly chronological (only the times within a day are shuffled).
    fn date_of_row(&self, row: u64, rows: u64) -> &str {
        // u128: `row * total` overflows u64 for very large files.
        let position = u128::from(row) * u128::from(self.traffic.total()) / u128::from(rows);
        let position = u64::try_from(position).expect("below the total");
        &self.dates[self.traffic.locate(position)]
    }
}

/// The relative traffic of a day: Saturday is the big shopping day, Sunday is short hours.
fn day_traffic(day: NaiveDate) -> u64 {
    let weekly = match day.weekday() {
        Weekday::Sat => 14,
        Weekday::Fri => 12,
        Weekday::Sun => 7,
        _ => 9,
    };
    // The weeks before Christmas are the busiest of the year.
    let christmas = if day.month() == 12 && day.day() < 25 {
        4
    } else {
        0
    };
    weekly + christmas
}

/// The customer pool: ids and how often each customer shops.
struct Customers {
    /// Each customer's UUID, formatted once as lowercase hyphenated text.
    ids: Vec<[u8; 36]>,
    /// The relative shopping frequency of each customer.
    frequency: WeightedTable,
}

impl Customers {
    /// A pool of `count` customers, drawn from the customer stream of `seed`.
    fn generate(count: usize, seed: u64) -> Customers {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(CUSTOMER_STREAM);
        let segments = WeightedTable::new(SEGMENTS.map(|(share, _)| u64::from(share)));
        let (ids, weights): (Vec<[u8; 36]>, Vec<u64>) = (0..count)
            .map(|_| {
                let id = customer_id(&mut rng);
                let (_, (low, high)) = SEGMENTS[segments.sample(&mut rng)];
                (id, rng.random_range(low..=high))
            })
            .unzip();
        Customers {
            ids,
            frequency: WeightedTable::new(weights),
        }
    }

    /// The id of a customer picked by shopping frequency.
    fn pick(&self, rng: &mut impl Rng) -> &[u8; 36] {
        &self.ids[self.frequency.sample(rng)]
    }
}

/// A version 4 UUID built from the generator's bytes rather than the system's randomness, so
/// that it is reproducible.
fn customer_id(rng: &mut impl RngCore) -> [u8; 36] {
    let mut bytes = [0; 16];
    rng.fill_bytes(&mut bytes);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0; 36];
    id.hyphenated().encode_lower(&mut text);
    text
}

/// The products of one purchase: distinct catalog indices, in the order they were drawn.
struct Basket {
    /// The products, in the first `len` slots: a fixed array avoids an allocation per row.
    items: [usize; MAX_BASKET],
    /// How many products the basket holds.
    len: usize,
}

impl Basket {
    /// A basket of a random size filled with distinct products picked by popularity.
    fn draw(rng: &mut impl Rng, sizes: &WeightedTable, popularity: &WeightedTable) -> Basket {
        let size = sizes.sample(rng) + 1;
        let mut basket = Basket {
            items: [0; MAX_BASKET],
            len: 0,
        };
        let mut chosen = 0u64;
        while basket.len < size {
            // Rejection keeps the popularity weights among the products not yet chosen; with
            // at most six of thirty products it rarely takes more than a couple of draws.
            let product = popularity.sample(rng);
            if chosen & (1 << product) == 0 {
                chosen |= 1 << product;
                basket.items[basket.len] = product;
                basket.len += 1;
            }
        }
        basket
    }

    /// The catalog indices of the products.
    fn items(&self) -> &[usize] {
        &self.items[..self.len]
    }

    /// The total price in cents.
    fn total_cents(&self) -> u64 {
        self.items().iter().map(|&i| CATALOG[i].price_cents).sum()
    }
}

/// Writes an amount of cents in its shortest decimal form: `4.5`, `6`, `12.25`.
fn write_amount(out: &mut impl Write, cents: u64) -> io::Result<()> {
    let (units, fraction) = (cents / 100, cents % 100);
    match fraction {
        0 => write!(out, "{units}"),
        f if f % 10 == 0 => write!(out, "{units}.{}", f / 10),
        f => write!(out, "{units}.{f:02}"),
    }
}

/// Creates `name` in `dir` behind a large write buffer.
fn create(dir: &Path, name: &str) -> io::Result<(PathBuf, BufWriter<File>)> {
    let path = dir.join(name);
    let file = File::create(&path)?;
    Ok((path, BufWriter::with_capacity(WRITE_BUFFER, file)))
}

/// Writes `products_list.csv` and returns its path.
fn write_products(dir: &Path) -> io::Result<PathBuf> {
    let (path, mut out) = create(dir, "products_list.csv")?;
    writeln!(out, "product_name,unit_price")?;
    for product in &CATALOG {
        write!(out, "{},", product.name)?;
        write_amount(&mut out, product.price_cents)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(path)
}

/// Draws the purchases and writes `purchases.csv`; returns its path.
fn write_purchases(dir: &Path, args: &Args, customers: &Customers) -> io::Result<PathBuf> {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    rng.set_stream(PURCHASE_STREAM);
    let calendar = Calendar::of_year(YEAR);
    let branches = WeightedTable::new(BRANCHES.map(|(_, weight)| weight));
    let hours = WeightedTable::new(HOURS.map(|(_, weight)| weight));
    let sizes = WeightedTable::new(BASKET_SIZES);
    let popularity = WeightedTable::new(CATALOG.iter().map(|product| product.popularity));

    let (path, mut out) = create(dir, "purchases.csv")?;
    writeln!(
        out,
        "supermarket_id,timestamp,user_id,items_list,total_amount"
    )?;
    for row in 0..args.purchases {
        let (branch, _) = BRANCHES[branches.sample(&mut rng)];
        let date = calendar.date_of_row(row, args.purchases);
        let (hour, _) = HOURS[hours.sample(&mut rng)];
        let minute = rng.random_range(0..60u32);
        let second = rng.random_range(0..60u32);
        let micros = rng.random_range(0..1_000_000u32);
        let customer = customers.pick(&mut rng);
        let basket = Basket::draw(&mut rng, &sizes, &popularity);

        write!(
            out,
            "{branch},{date}T{hour:02}:{minute:02}:{second:02}.{micros:06},"
        )?;
        out.write_all(customer)?;
        // The list is always quoted, as the old system did, so that a CSV reader sees one field.
        out.write_all(b",\"")?;
        for (position, &item) in basket.items().iter().enumerate() {
            if position > 0 {
                out.write_all(b",")?;
            }
            out.write_all(CATALOG[item].name.as_bytes())?;
        }
        out.write_all(b"\",")?;
        write_amount(&mut out, basket.total_cents())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(path)
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    fs::create_dir_all(&args.out)?;

    let products = write_products(&args.out)?;
    let customers = Customers::generate(args.customers, args.seed);
    let purchases = write_purchases(&args.out, &args, &customers)?;

    eprintln!(
        "wrote {} products to {} and {} purchases by a pool of {} customers to {} in {:.2?}",
        CATALOG.len(),
        products.display(),
        args.purchases,
        args.customers,
        purchases.display(),
        started.elapsed()
    );
    Ok(())
}
