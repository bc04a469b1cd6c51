//! A headless Chromium driven over WebDriver (fantoccini, through Debian's `chromedriver`),
//! for the tests of the page at `/ui/`: it finds controls as a person would, by role and
//! accessible name, and keeps what the browser's console said.
//!
//! `ICASH_WEBDRIVER_URL` names a WebDriver server to use instead of starting `chromedriver`.
//! Without it, `chromedriver` and `chromium` must be installed: a test fails, naming the Debian
//! packages, rather than skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long the page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Where Debian installs the browser and its driver (`chromium`, `chromium-driver`).
const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER: [&str; 1] = ["/usr/bin/chromedriver"];

/// A browser session, with the chromedriver it started (stopped when dropped).
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
}

fn installed(candidates: &[&str], name: &str) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need {name}: install Debian's packages with \
                 `apt-get install -y chromium chromium-driver` (or set ICASH_WEBDRIVER_URL to a \
                 WebDriver server)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Chromium's log of the page's console and network errors (the `browser` log that
/// `goog:loggingPrefs` turns on), which WebDriver itself does not define.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::Method, Option<String>) {
        (
            hyper::Method::POST,
            Some(r#"{"type": "browser"}"#.to_owned()),
        )
    }
}

impl Browser {
    /// A new headless Chromium with a fresh profile, its window `width` by `height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let profile = tempfile::tempdir().expect("a profile folder");
        let (webdriver, driver) = match std::env::var("ICASH_WEBDRIVER_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let chromedriver = installed(&CHROMEDRIVER, "chromedriver");
                let port = free_port();
                let child = Command::new(chromedriver)
                    .arg(format!("--port={port}"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("chromedriver starts");
                (format!("http://127.0.0.1:{port}"), Some(child))
            }
        };
        let chromium = installed(&CHROMIUM, "chromium");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let client = runtime.block_on(async {
            // chromedriver listens a moment after it starts.
            let deadline = Instant::now() + PATIENCE;
            loop {
                let connector = HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(capabilities.clone())
                    .connect(&webdriver)
                    .await
                {
                    Ok(client) => break client,
                    Err(error) if Instant::now() < deadline => {
                        let _ = error;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(error) => panic!("no WebDriver session at {webdriver}: {error}"),
                }
            }
        });
        let browser = Browser {
            runtime,
            client: Some(client),
            driver,
            _profile: profile,
        };
        browser.resize(width, height);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Sets the window's size: its viewport is then about `width` wide.
    pub fn resize(&self, width: u32, height: u32) {
        self.runtime
            .block_on(self.client().set_window_size(width, height))
            .expect("the window resizes");
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// Runs `script` (a function body; its arguments are `arguments[i]`) in the page.
    pub fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|error| panic!("the script failed: {error}\n{script}"))
    }

    /// Asks `found` until it finds something, and returns it; panics with `what` and what
    /// the page shows when it finds nothing within [`PATIENCE`].
    fn poll<T>(&self, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = found() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen within {PATIENCE:?}; the page shows {}",
                self.state()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `script` returns a truthy value in the page, and returns it.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        self.poll(what, || {
            let value = self.run(script, vec![]);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(text) => !text.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            truthy.then_some(value)
        })
    }

    /// The XPath of a visible element of `role` (a tag or an ARIA role) whose accessible
    /// name is `name`: its `aria-label`, its text, or its `<label>`'s text.
    fn xpath(role: &str, name: &str) -> String {
        let name = xpath_literal(name);
        let by_role = match role {
            "button" => "(self::button or @role='button')".to_owned(),
            "tab" => "@role='tab'".to_owned(),
            "textbox" => "(self::input[not(@type) or @type='text' or @type='password' or @type='date'] or self::textarea)".to_owned(),
            "combobox" => "self::select".to_owned(),
            "checkbox" => "self::input[@type='checkbox']".to_owned(),
            other => format!("(self::{other} or @role='{other}')"),
        };
        format!(
            "//*[{by_role}][@aria-label={name} or normalize-space(.)={name} or \
             @id=//label[normalize-space(.)={name}]/@for]"
        )
    }

    /// Waits for the control of `role` named `name` to be shown and enabled.
    fn control(&self, role: &str, name: &str) -> fantoccini::elements::Element {
        let xpath = Browser::xpath(role, name);
        self.poll(
            &format!("a {role} named {name:?}, shown and enabled"),
            || {
                let found = self.runtime.block_on(async {
                    for element in self.client().find_all(Locator::XPath(&xpath)).await? {
                        if element.is_displayed().await? && element.is_enabled().await? {
                            return Ok::<_, fantoccini::error::CmdError>(Some(element));
                        }
                    }
                    Ok(None)
                });
                found.ok().flatten()
            },
        )
    }

    /// Clicks the control of `role` named `name` once it is shown and enabled.
    pub fn click(&self, role: &str, name: &str) {
        let control = self.control(role, name);
        self.runtime
            .block_on(control.click())
            .unwrap_or_else(|error| panic!("cannot click the {role} {name:?}: {error}"));
    }

    /// Types `text` into the field labelled `label`, replacing what it held.
    pub fn fill(&self, label: &str, text: &str) {
        let field = self.control("textbox", label);
        self.runtime.block_on(async {
            field.clear().await.expect("the field clears");
            field
                .send_keys(text)
                .await
                .expect("the field takes the text");
        });
    }

    /// Chooses the option `option` (its text) of the list labelled `label`.
    pub fn choose(&self, label: &str, option: &str) {
        let list = self.control("combobox", label);
        self.runtime
            .block_on(list.select_by_label(option))
            .unwrap_or_else(|error| panic!("cannot choose {option:?} in {label:?}: {error}"));
    }

    /// Where the browser is and what it shows, for a failure's message.
    fn state(&self) -> String {
        self.run(
            "return location.href + ' (' + document.readyState + '):\\n' + document.body.innerText;",
            vec![],
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
            + &format!("\nits console: {:#?}", self.console_errors())
    }

    /// The text of the first element `css` selects, as shown.
    pub fn text(&self, css: &str) -> String {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(css)],
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Whether the page is wider than the window: something a person would scroll sideways
    /// to reach.
    pub fn overflows(&self) -> bool {
        self.run(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .as_bool()
        .unwrap_or(true)
    }

    /// The console's errors since the last call (messages of level `SEVERE`).
    pub fn console_errors(&self) -> Vec<String> {
        let log = self
            .runtime
            .block_on(self.client().issue_cmd(BrowserLog))
            .expect("chromedriver gives the browser's log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Writes a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        std::fs::write(path, png)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

/// `text` as an XPath 1.0 string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
