//! The page at `/ui/` in a real browser (headless Chromium, see `driver`), against the example
//! server as a process on PostgreSQL: a sale at the till seen in the dashboard, sales made
//! while the gateway is down handed in once each when it is back, a refund from the manager's
//! view in the net revenue, Hebrew right to left, every tab usable at a phone's width, and no
//! error in the browser's console.
//!
//! With `ICASH_SCREENSHOTS` set, the till and the dashboard are written to `docs/screenshots/`
//! for the README.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use icash::postgres::testing::TestDb;

use crate::driver::Browser;
use crate::harness::{Client, Server};
use crate::support::data_dir;

/// A phone's viewport, in CSS pixels.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);
/// The administrator key the servers of these tests register.
const ADMIN_KEY: &str = "icash-browser-test-admin-key-0123456789abcdef";

/// A fresh database, and a data folder with the sample catalog and no purchases, so that the
/// figures are those of the sales the test makes.
struct Setup {
    db: TestDb,
    data: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new() -> Setup {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let db = runtime.block_on(TestDb::new());
        Setup {
            db,
            data: catalog_only(),
            _runtime: runtime,
        }
    }

    /// The server, run open (`ICASH_AUTH=off`) with `env` added.
    fn server(&self, env: &[(&str, &str)]) -> Server {
        Server::start_with(Some(&self.db.url()), self.data.path(), env)
    }

    /// The server with keys required, and `ADMIN_KEY` an administrator's.
    fn server_with_keys(&self) -> Server {
        self.server(&[("ICASH_AUTH", "required"), ("ICASH_ADMIN_KEY", ADMIN_KEY)])
    }
}

/// Ends a test: the console said nothing of level error but the `allowed` messages, and the
/// server stops cleanly.
fn finish(browser: Browser, server: Server, allowed: impl Fn(&str) -> bool) {
    no_console_errors(&browser, allowed);
    drop(browser);
    server.stop();
}

fn catalog_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data_dir().join("products_list.csv"),
        dir.path().join("products_list.csv"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("purchases.csv"),
        "supermarket_id,timestamp,user_id,items_list,total_amount\n",
    )
    .unwrap();
    dir
}

fn page(server: &Server) -> String {
    format!("http://{}/ui/", server.addr())
}

/// The catalog, as the API gives it to `client`: `(id, name, price)`.
fn products(client: &Client) -> Vec<(i64, String, f64)> {
    client
        .request("GET", "/cash-register/products", None)
        .unwrap()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_i64().unwrap(),
                p["name"].as_str().unwrap().to_owned(),
                p["price"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Writes the README's screenshot `name`, of a window `height` high, when `ICASH_SCREENSHOTS`
/// asks for it; the window gets its size back.
fn screenshot(browser: &Browser, name: &str, height: u32) {
    if std::env::var_os("ICASH_SCREENSHOTS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        browser.resize(DESKTOP.0, height);
        browser.screenshot(&PathBuf::from(&dir).join(format!("{name}.png")));
        browser.resize(DESKTOP.0, DESKTOP.1);
    }
}

/// Asserts the console said nothing of level error, but for the `allowed` messages.
fn no_console_errors(browser: &Browser, allowed: impl Fn(&str) -> bool) {
    let errors: Vec<String> = browser
        .console_errors()
        .into_iter()
        .filter(|message| !allowed(message))
        .collect();
    assert!(errors.is_empty(), "the browser's console: {errors:#?}");
}

/// Waits until the till shows its products.
fn till_ready(browser: &Browser) {
    browser.wait_for(
        "the products on the till",
        "return document.querySelectorAll('#products button.product').length > 0;",
    );
}

/// The text of the dashboard figure labelled `label`, once loaded.
fn figure(browser: &Browser, id: &str) -> String {
    browser
        .wait_for(
            &format!("the figure {id}"),
            &format!("return document.getElementById('{id}').textContent;"),
        )
        .as_str()
        .unwrap()
        .to_owned()
}

fn money(amount: f64) -> String {
    format!("{amount:.2}")
}

/// Waits for the dashboard's figures to be those of `purchases` purchases.
fn dashboard_shows(browser: &Browser, purchases: u64) {
    browser.wait_for(
        &format!("the dashboard's {purchases} purchases"),
        &format!(
            "return document.getElementById('dash-status').textContent === '' && \
             document.getElementById('fig-purchases').textContent === '{purchases}';"
        ),
    );
}

#[test]
fn a_sale_at_the_till_shows_in_the_dashboards_figures_and_chart() {
    let setup = Setup::new();
    let server = setup.server_with_keys();
    let api = server.client_with_key(ADMIN_KEY);
    let catalog = products(&api);
    let browser = Browser::start(DESKTOP.0, DESKTOP.1);
    browser.open(&page(&server));

    // The gateway asks for keys: the page asks for one, and keeps it for the tab.
    browser.fill("API key", ADMIN_KEY);
    browser.click("button", "Sign in");
    till_ready(&browser);
    assert!(
        browser.text("#who").contains("admin"),
        "{}",
        browser.text("#who")
    );

    browser.choose("Branch", "SMKT002");
    let bought = [&catalog[0], &catalog[2]];
    for (_, name, _) in bought {
        browser.click("button", name);
    }
    let total: f64 = bought.iter().map(|(_, _, price)| price).sum();
    assert_eq!(browser.text("#basket-total"), money(total));
    screenshot(&browser, "till", DESKTOP.1);
    browser.click("button", "Record purchase");
    let title = browser.wait_for(
        "the receipt",
        "const r = document.getElementById('receipt'); \
         return !r.hidden && document.getElementById('receipt-title').textContent;",
    );
    let receipt_id: i64 = title
        .as_str()
        .unwrap()
        .trim_start_matches("Receipt ")
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("a receipt number: {title}"));
    let receipt = api
        .request(
            "GET",
            &format!("/cash-register/purchases/{receipt_id}"),
            None,
        )
        .unwrap()
        .json();
    assert_eq!(receipt["supermarket_id"], 2);
    assert_eq!(receipt["recorded_by"], "admin");
    assert_eq!(browser.text("#receipt-total"), money(total));

    browser.click("tab", "Dashboard");
    dashboard_shows(&browser, 1);
    assert_eq!(figure(&browser, "fig-revenue"), money(total));
    assert_eq!(figure(&browser, "fig-net-revenue"), money(total));
    assert_eq!(figure(&browser, "fig-unique"), "1");
    assert_eq!(figure(&browser, "fig-loyal"), "0");
    let top = browser.text("#top-table");
    assert!(
        top.contains(&bought[0].1) && top.contains(&bought[1].1),
        "{top}"
    );

    // The branches compared: SMKT002 with the sale's revenue.
    let branches = browser.run(
        "return [...document.querySelectorAll('#branches-table tbody tr')] \
         .map(row => [...row.cells].map(cell => cell.textContent));",
        vec![],
    );
    assert!(
        branches
            .as_array()
            .unwrap()
            .contains(&json!(["SMKT002", "1", money(total), money(total)])),
        "{branches}"
    );
    // Sales over time: the day of the sale, drawn.
    let day = browser.wait_for(
        "the sales chart's figures",
        "return [...document.querySelectorAll('#sales-table tbody tr')] \
         .map(row => [...row.cells].map(cell => cell.textContent)) \
         .find(cells => cells[1] === '1');",
    );
    assert_eq!(day[2], json!(money(total)), "{day}");
    for chart in ["sales-chart", "branches-chart"] {
        let drawn = browser.run(
            "const c = document.querySelector(`#${arguments[0]} canvas`); \
             return c !== null && c.width > 0 && c.height > 0;",
            vec![json!(chart)],
        );
        assert_eq!(drawn, json!(true), "{chart} is drawn");
    }
    screenshot(&browser, "dashboard", 1500);
    finish(browser, server, |_| false);
}

#[test]
fn sales_made_while_the_gateway_is_down_are_recorded_once_each_when_it_is_back() {
    let setup = Setup::new();
    let server = setup.server(&[]);
    let addr = server.addr().to_owned();
    let catalog = products(&server.client());
    let browser = Browser::start(DESKTOP.0, DESKTOP.1);
    browser.open(&page(&server));
    till_ready(&browser);
    assert_eq!(browser.text("#waiting"), "Sales waiting to be sent: 0");

    server.stop();
    for (_, name, _) in &catalog[..2] {
        browser.click("button", name);
        browser.click("button", "Record purchase");
        browser.wait_for(
            "the sale kept in the browser",
            "return !document.getElementById('receipt').hidden && \
             document.getElementById('receipt-title').textContent === 'Sale saved in this browser';",
        );
        browser.click("button", "New sale");
    }
    assert_eq!(browser.text("#waiting"), "Sales waiting to be sent: 2");

    let server = setup.server(&[("ICASH_ADDR", &addr)]);
    browser.wait_for(
        "no sale waiting",
        "return document.getElementById('waiting').textContent === 'Sales waiting to be sent: 0';",
    );
    let statistics = server.get("/analytics/statistics");
    assert_eq!(statistics["total_purchases"], 2, "{statistics}");
    let expected: f64 = catalog[..2].iter().map(|(_, _, price)| price).sum();
    assert!(
        (statistics["total_revenue"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{statistics}"
    );
    // Each went out once, by its own id: a resend would have been answered with the same
    // purchase, and a second recording counted above.
    assert_eq!(
        browser.run("return localStorage.getItem('icash.waiting');", vec![]),
        json!("[]")
    );
    // While the gateway was down, the browser could not connect: that, and only that.
    finish(browser, server, |message| {
        message.contains("net::ERR_CONNECTION_REFUSED")
    });
}

#[test]
fn a_refund_from_the_managers_view_shows_in_the_net_revenue() {
    let setup = Setup::new();
    let server = setup.server(&[]);
    let catalog = products(&server.client());
    let items: Vec<Value> = catalog[..3]
        .iter()
        .map(|(id, _, _)| json!({"product_id": id}))
        .collect();
    let (status, purchase) = server.request(
        "POST",
        "/cash-register/purchase",
        Some(&json!({"supermarket_id": 1, "user_id": "new", "items": items}).to_string()),
    );
    assert_eq!(status, 201, "{purchase}");
    let total = purchase["total_amount"].as_f64().unwrap();
    let (_, returned, price) = &catalog[1];

    let browser = Browser::start(DESKTOP.0, DESKTOP.1);
    browser.open(&page(&server));
    browser.click("tab", "Manager");
    browser.fill("Receipt number", &purchase["purchase_id"].to_string());
    browser.click("button", "Find receipt");
    browser.click("checkbox", &format!("{returned} · {}", money(*price)));
    browser.click("button", "Refund selected items");
    browser.wait_for(
        "the refund",
        &format!(
            "return document.getElementById('manager-status').textContent === 'Refunded {}.';",
            money(*price)
        ),
    );
    let receipt = server.get(&format!(
        "/cash-register/purchases/{}",
        purchase["purchase_id"]
    ));
    assert_eq!(receipt["refunds"][0]["items"][0]["name"], json!(returned));

    browser.click("tab", "Dashboard");
    dashboard_shows(&browser, 1);
    assert_eq!(figure(&browser, "fig-revenue"), money(total));
    assert_eq!(figure(&browser, "fig-net-revenue"), money(total - price));
    finish(browser, server, |_| false);
}

#[test]
fn hebrew_reads_right_to_left_and_every_tab_fits_a_phone() {
    let setup = Setup::new();
    let server = setup.server(&[]);
    let catalog = products(&server.client());
    let (status, _) = server.request(
        "POST",
        "/cash-register/purchase",
        Some(r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#),
    );
    assert_eq!(status, 201);
    let browser = Browser::start(PHONE.0, PHONE.1);
    browser.open(&page(&server));
    till_ready(&browser);
    let fits = |what: &str| assert!(!browser.overflows(), "{what} is wider than a phone");
    fits("the till");
    browser.click("button", &catalog[0].1);
    fits("the till with a basket");
    browser.click("tab", "Manager");
    fits("the manager's view");
    browser.click("tab", "Dashboard");
    dashboard_shows(&browser, 1);
    fits("the dashboard");

    browser.choose("Language", "עברית");
    let root = browser.run(
        "return [document.documentElement.lang, document.documentElement.dir, \
         getComputedStyle(document.body).direction];",
        vec![],
    );
    assert_eq!(root, json!(["he", "rtl", "rtl"]));
    fits("the Hebrew dashboard");
    browser.click("tab", "קופה");
    assert_eq!(
        browser.text("#waiting"),
        "מכירות הממתינות לשליחה: 0",
        "the page's words are Hebrew"
    );
    // The basket sits left of the products, mirrored.
    let mirrored = browser.run(
        "const products = document.querySelector('#products').getBoundingClientRect(); \
         const first = document.querySelector('#products button').getBoundingClientRect(); \
         return first.right > products.left + products.width / 2;",
        vec![],
    );
    assert_eq!(mirrored, json!(true), "the first product is on the right");
    fits("the Hebrew till");
    browser.click("tab", "מנהל");
    fits("the Hebrew manager's view");

    // The language is kept: English again after a switch back.
    browser.choose("שפה", "English");
    assert_eq!(browser.text("#tab-dashboard"), "Dashboard");
    finish(browser, server, |_| false);
}

#[test]
fn a_till_key_has_its_branch_fixed_and_sees_no_dashboard() {
    let setup = Setup::new();
    let server = setup.server_with_keys();
    let admin = server.client_with_key(ADMIN_KEY);
    let created = admin
        .request(
            "POST",
            "/admin/keys",
            Some(r#"{"name": "branch-3-till", "role": "till", "supermarket_id": 3}"#),
        )
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let till_key = created.json()["api_key"].as_str().unwrap().to_owned();

    let browser = Browser::start(DESKTOP.0, DESKTOP.1);
    browser.open(&page(&server));
    browser.fill("API key", "not-a-key");
    browser.click("button", "Sign in");
    browser.wait_for(
        "the refusal of an unknown key",
        "return document.getElementById('sign-in-error').textContent;",
    );
    // That refusal is the one error the console may show.
    let refused = browser.console_errors();
    assert!(refused.iter().all(|m| m.contains("401")), "{refused:#?}");

    browser.fill("API key", &till_key);
    browser.click("button", "Sign in");
    till_ready(&browser);
    let branch = browser.run(
        "const s = document.getElementById('till-branch'); return [s.value, s.disabled];",
        vec![],
    );
    assert_eq!(branch, json!(["3", true]), "a till's branch is fixed");
    let tabs = browser.run(
        "return [...document.querySelectorAll('[role=tab]')].filter(t => !t.hidden) \
         .map(t => t.textContent);",
        vec![],
    );
    assert_eq!(tabs, json!(["Till"]));
    finish(browser, server, |_| false);
}
