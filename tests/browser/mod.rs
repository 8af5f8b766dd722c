//! Headless Chromium for the browser tests: Debian's `/usr/bin/chromium` driven through its
//! `/usr/bin/chromedriver` (both installed by `scripts/setup.sh`) with fantoccini, everything
//! on loopback.
//!
//! A test binary takes this module in with `mod browser;` (or `#[path = "../browser/mod.rs"]
//! mod browser;` from a `tests/NAME/main.rs`), starts a [`Browser`] with
//! [`Browser::start`], and calls [`Browser::close`] at its end. Without Chromium or
//! chromedriver the test fails under `CI=true` and is skipped with its reason printed
//! elsewhere. Every wait here is bounded.

// A test binary that takes this module in may use only part of it: what it leaves unused is
// not dead (tests/browser_smoke.rs uses all of it).
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), the same version as [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest a test waits for something a page should show.
pub const WAIT: Duration = Duration::from_secs(10);
/// The longest a single WebDriver command (or chromedriver's and Chromium's start) may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// Scratch directories handed out in this test process.
static NEXT_SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A headless Chromium session; its chromedriver (and so the browser) is killed when dropped.
pub struct Browser {
    client: Client,
    driver: Driver,
    test: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a Chromium session with a fresh
    /// profile. `test` names the test: its screenshots go to `target/screenshots/<test>/`.
    /// `None` (with the reason printed) when Chromium or chromedriver is missing; under
    /// `CI=true` that fails the test instead.
    pub async fn start(test: &str) -> Option<Browser> {
        if let Some(reason) = missing_tools() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{reason}: the browser tests need it under CI; run scripts/setup.sh"
            );
            println!("skipped: {reason} (scripts/setup.sh installs chromium and chromium-driver)");
            return None;
        }
        let driver = Driver::start(test).await;
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(&driver.scratch.join("profile")));
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = match tokio::time::timeout(COMMAND_LIMIT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("no Chromium session: {e}\n{}", driver.log()),
            Err(_) => panic!(
                "no Chromium session within {COMMAND_LIMIT:?}\n{}",
                driver.log()
            ),
        };
        Some(Browser {
            client,
            driver,
            test: test.to_string(),
        })
    }

    /// The fantoccini client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        bounded(&format!("open {url}"), self.client.goto(url)).await;
    }

    /// Clicks the element that `css` selects.
    pub async fn click(&self, css: &str) {
        let element = bounded(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        bounded(&format!("click {css}"), element.click()).await;
    }

    /// The rendered text of the element that `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let element = bounded(&format!("find {css}"), self.client.find(Locator::Css(css))).await;
        bounded(&format!("text of {css}"), element.text()).await
    }

    /// Runs `script` (a function body: it answers with `return`) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        bounded(
            &format!("run {script}"),
            self.client.execute(script, Vec::new()),
        )
        .await
    }

    /// Waits up to `within` until the element that `css` selects exists and shows `expected`;
    /// fails with what it showed last.
    pub async fn wait_for_text(&self, css: &str, expected: &str, within: Duration) {
        let script = "const e = document.querySelector(arguments[0]); \
                      return e === null ? null : e.innerText;";
        let deadline = Instant::now() + within;
        loop {
            let shown = bounded(
                &format!("read {css}"),
                self.client.execute(script, vec![json!(css)]),
            )
            .await;
            if shown.as_str().is_some_and(|s| s.trim() == expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not show {expected:?} within {within:?}: it shows {shown}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to `within` until `condition` (a JavaScript expression) is true in the page.
    pub async fn wait_until(&self, condition: &str, within: Duration) {
        let script = format!("return ({condition}) === true;");
        let deadline = Instant::now() + within;
        while self.eval(&script).await != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "{condition} did not become true within {within:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the window as `target/screenshots/<test>/<name>.png` (`target` being the
    /// build directory, the parent of `CARGO_TARGET_TMPDIR`) and answers its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = bounded("take a screenshot", self.client.screenshot()).await;
        let dir = screenshots_dir().join(&self.test);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        bounded("close the session", client.close()).await;
        drop(driver);
    }
}

/// `target/screenshots`: beside `CARGO_TARGET_TMPDIR` (`target/tmp`) in the build directory.
pub fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the build directory")
        .join("screenshots")
}

/// Why the browser tests cannot run here, if they cannot.
fn missing_tools() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .find(|tool| !Path::new(tool).is_file())
        .map(|tool| format!("{tool} is not installed"))
}

/// Headless Chromium with `profile` as its fresh user data directory. Background networking,
/// component updates, sync and QUIC are off: they would reach out of this machine, whose
/// network refuses them.
fn capabilities(profile: &Path) -> Capabilities {
    let caps = json!({
        "browserName": "chrome",
        "timeouts": { "pageLoad": WAIT.as_millis() as u64, "script": WAIT.as_millis() as u64 },
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// Awaits a WebDriver command for at most [`COMMAND_LIMIT`]; fails the test on an error or
/// when it takes longer.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    command: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(COMMAND_LIMIT, command).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {COMMAND_LIMIT:?}"),
    }
}

/// A running chromedriver in a process group of its own (Chromium joins it), with a scratch
/// directory for Chromium's profile and the driver's log.
struct Driver {
    child: Child,
    port: u16,
    scratch: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port of 127.0.0.1 (without `--allowed-ips` it listens on
    /// loopback only) and waits until its `/status` says it is ready.
    async fn start(test: &str) -> Driver {
        let n = NEXT_SCRATCH.fetch_add(1, Ordering::SeqCst);
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("browser")
            .join(format!("{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(scratch.join("profile")).expect("browser scratch directory");
        let log = std::fs::File::create(scratch.join("chromedriver.log")).expect("driver log");
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("driver log"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{CHROMEDRIVER} does not start: {e}"))
        };
        let mut driver = Driver {
            child,
            port,
            scratch,
        };
        driver.wait_ready().await;
        driver
    }

    /// Polls `/status` until chromedriver answers ready, for at most [`COMMAND_LIMIT`].
    async fn wait_ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            let probe = url.clone();
            let answer = tokio::task::spawn_blocking(move || {
                ureq::get(&probe)
                    .timeout(Duration::from_secs(2))
                    .call()
                    .ok()?
                    .into_string()
                    .ok()
            })
            .await
            .expect("status probe");
            let ready = answer
                .and_then(|body| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|status| status["value"]["ready"] == Value::Bool(true));
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited ({status})\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within {COMMAND_LIMIT:?}\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// What chromedriver printed, for a failure message.
    fn log(&self) -> String {
        let path = self.scratch.join("chromedriver.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        format!("{}:\n{text}", path.display())
    }
}

impl Drop for Driver {
    /// Kills chromedriver's process group (the driver and any Chromium left running) and
    /// removes the scratch directory, which a failing test keeps for its log.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("browser scratch kept: {}", self.scratch.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// A TCP port of 127.0.0.1 free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
