//! The end-to-end harness: the app on emulated clusters, served on port 0, and headless
//! Chromium driven through ChromeDriver (Debian's `chromium` and `chromium-driver`), with
//! waits on what the page shows, each with a deadline.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::process::{Child, Command};

/// The app serving on 127.0.0.1:0 against emulated clusters: the shared fixture, which serves
/// through `App::serve` (the production accept loop) as the API tests do.
pub use fluxboard_test_support::TestApp as Served;
pub use fluxboard_test_support::{DEADLINE, Serving, free_port, poll_every, poll_until};

/// How often a wait asks the browser again (each check is a WebDriver round trip).
const BROWSER_POLL: Duration = Duration::from_millis(50);

/// The screen a browser test looks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// A desktop window of 1400x1000.
    Desktop,
    /// A phone: 390x844 CSS pixels, device pixel ratio 3, touch (Chromium's mobile emulation).
    Phone,
    /// A window of this many CSS pixels (a wall screen: 1920x1080, 3840x2160).
    Window(u32, u32),
}

/// Headless Chromium under ChromeDriver; both stop when this is dropped.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// ChromeDriver in a process group of its own, with the Chromium it starts: dropping it kills
/// the whole group, so no Chromium outlives its test (killing ChromeDriver alone would leave its
/// browser running).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
}

impl Browser {
    /// Starts ChromeDriver on a free port and a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        Browser::start_on(Screen::Desktop).await
    }

    /// [`Browser::start`] with the given screen.
    pub async fn start_on(screen: Screen) -> anyhow::Result<Browser> {
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        if !std::path::Path::new(&driver_path).exists() || !std::path::Path::new(&chromium).exists() {
            bail!(
                "browser tests need Chromium and ChromeDriver ({chromium}, {driver_path}): run `cargo xtask setup` \
                 (or apt-get install chromium chromium-driver)"
            );
        }
        let port = free_port()?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("Failed to start {driver_path}"))?;
        let driver = Driver(driver);
        let profile = tempfile::tempdir()?;
        let (width, height) = match screen {
            Screen::Desktop => (1400, 1000),
            Screen::Phone => (390, 844),
            Screen::Window(w, h) => (w, h),
        };
        let mut caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"), format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        // Exact viewports (a window's size includes the browser's own bars).
        match screen {
            Screen::Desktop => {}
            Screen::Phone => {
                caps["goog:chromeOptions"]["mobileEmulation"] = serde_json::json!({
                    "deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": true, "mobile": true},
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                                  Chrome/130.0 Mobile Safari/537.36",
                });
            }
            Screen::Window(..) => {
                caps["goog:chromeOptions"]["mobileEmulation"] = serde_json::json!({
                    "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": false, "mobile": false},
                });
            }
        }
        let serde_json::Value::Object(caps) = caps else { unreachable!("a JSON object") };
        let url = format!("http://127.0.0.1:{port}");
        let last = RefCell::new(String::new());
        let session = poll_every("ChromeDriver to start a session", DEADLINE, Duration::from_millis(100), || async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => Some(client),
                Err(err) => {
                    *last.borrow_mut() = err.to_string();
                    None
                }
            }
        })
        .await;
        let Ok(client) = session else { bail!("ChromeDriver did not start a session: {}", last.borrow()) };
        Ok(Browser { client, _driver: driver, _profile: profile })
    }

    /// Polls `check` against the page until it returns Some, for at most [`DEADLINE`]; on
    /// timeout a screenshot is kept and the error names `what` and what `last` says was seen.
    async fn wait_until<T, F, Fut>(&self, what: &str, last: &RefCell<String>, check: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        match poll_every(what, DEADLINE, BROWSER_POLL, check).await {
            Ok(found) => Ok(found),
            Err(timed_out) => {
                self.screenshot("timeout").await;
                let last = last.borrow();
                if last.is_empty() { bail!("{timed_out}") } else { bail!("{timed_out}; {last}") }
            }
        }
    }

    /// Waits until the text of the first element matching `css` satisfies `want`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, want: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let last = RefCell::new(String::new());
        self.wait_until(&format!("{what} ({css})"), &last, || async {
            let text = self.client.find(Locator::Css(css)).await.ok()?.text().await.ok()?;
            if want(&text) {
                return Some(text);
            }
            *last.borrow_mut() = format!("last text {text:?}");
            None
        })
        .await
    }

    /// Waits until the page's whole text satisfies `want`.
    pub async fn wait_page(&self, what: &str, want: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        self.wait_text("body", what, want).await.map(|_| ())
    }

    /// Waits for an element and returns it.
    pub async fn wait_element(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.wait_until(css, &RefCell::default(), || async { self.client.find(Locator::Css(css)).await.ok() }).await
    }

    /// Waits until `script` (a function body returning a value) returns `true`; on timeout, fails
    /// with what it returned last.
    pub async fn wait_script(&self, what: &str, script: &str) -> anyhow::Result<()> {
        let last = RefCell::new(String::new());
        self.wait_until(what, &last, || async {
            let returned = match self.client.execute(script, vec![]).await {
                Ok(serde_json::Value::Bool(true)) => return Some(()),
                Ok(other) => other,
                Err(err) => serde_json::Value::String(err.to_string()),
            };
            *last.borrow_mut() = format!("the check returned {returned}");
            None
        })
        .await
    }

    /// Runs `script` (a function body) and reads its result as `T`.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str) -> anyhow::Result<T> {
        let value = self.client.execute(script, vec![]).await?;
        serde_json::from_value(value.clone()).with_context(|| format!("unexpected result {value} of {script}"))
    }

    /// Presses keys as a person would, one after the other, on whatever has the focus
    /// (`fantoccini::key::Key` for special keys; `Shift` is held for the key after it).
    pub async fn press(&self, keys: &[&str]) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
        let shift = fantoccini::key::Key::Shift.chars().next().unwrap_or_default();
        let mut actions = KeyActions::new("keyboard".into());
        let mut held = false;
        for key in keys {
            for value in key.chars() {
                if value == shift {
                    actions = actions.then(KeyAction::Down { value });
                    held = true;
                    continue;
                }
                actions = actions.then(KeyAction::Down { value }).then(KeyAction::Up { value });
                if held {
                    actions = actions.then(KeyAction::Up { value: shift });
                    held = false;
                }
            }
        }
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// Fails unless the page is at most as wide as the screen (nothing pans sideways).
    pub async fn fits_the_width(&self, page: &str) -> anyhow::Result<()> {
        let (scroll, inner): (f64, f64) =
            self.eval("return [document.scrollingElement.scrollWidth, window.innerWidth];").await?;
        if scroll > inner {
            self.screenshot(&format!("too-wide-{page}")).await;
            bail!("{page} is {scroll} px wide on a {inner} px screen: it pans sideways");
        }
        Ok(())
    }

    /// Runs axe-core (the npm package in tests/oidc) on the page and returns its critical and
    /// serious violations, one line each.
    pub async fn axe(&self) -> anyhow::Result<Vec<String>> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "the accessibility test needs the npm package axe-core ({}): run `npm ci` in tests/oidc",
                path.display()
            )
        })?;
        let loaded = self.client.execute("return typeof axe !== 'undefined';", vec![]).await?;
        if loaded != serde_json::Value::Bool(true) {
            self.client.execute(&format!("{source}\nreturn null;"), vec![]).await?;
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
                   .filter(v => v.impact === 'critical' || v.impact === 'serious')
                   .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' -- ' +
                        v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' (' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ')').join('; '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Saves a screenshot under `target/browser-screenshots/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
        std::fs::create_dir_all(&dir).ok()?;
        let png = self.client.screenshot().await.ok()?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).ok()?;
        println!("screenshot: {}", path.display());
        Some(path)
    }
}

/// The OpenID provider of the SSO tests: the npm package `oidc-provider` (tests/oidc), run by
/// Node.js on 127.0.0.1; stopped when dropped.
pub struct OidcProvider {
    _child: Child,
    pub issuer: String,
}

impl OidcProvider {
    /// Starts the provider on `port` with one client whose callback is `redirect_uri`.
    pub async fn start(port: u16, redirect_uri: &str, secret: &str) -> anyhow::Result<OidcProvider> {
        use tokio::io::AsyncBufReadExt as _;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        if !dir.join("node_modules/oidc-provider").exists() {
            bail!("the SSO tests need the npm package oidc-provider: run `cargo xtask setup` (npm ci in tests/oidc)");
        }
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .args([port.to_string().as_str(), redirect_uri, secret])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("Failed to start node (is Node.js installed?)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        tokio::time::timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == "ready" {
                    return Ok(());
                }
            }
            bail!("the OpenID provider exited before it was ready")
        })
        .await
        .context("the OpenID provider did not start in time")??;
        // Keep reading what it prints: a closed pipe would make its next log line crash it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(OidcProvider { _child: child, issuer: format!("http://127.0.0.1:{port}") })
    }
}

/// Seconds since the epoch (as the web app's clock reads it).
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A TCP proxy in front of the app, whose "network" a test can cut and restore: cutting closes
/// every open connection and refuses new ones until restored.
pub struct FlakyNetwork {
    pub url: String,
    up: Arc<tokio::sync::watch::Sender<bool>>,
    target: Arc<std::sync::Mutex<String>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FlakyNetwork {
    /// Proxies 127.0.0.1:<free port> to `target` (host:port).
    pub async fn start(target: String) -> anyhow::Result<FlakyNetwork> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let up = Arc::new(tokio::sync::watch::channel(true).0);
        let state = up.clone();
        let target = Arc::new(std::sync::Mutex::new(target));
        let current = target.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                if !*state.borrow() {
                    drop(client);
                    continue;
                }
                let target = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let mut down = state.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&target).await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Ok(FlakyNetwork { url, up, target, _task: task })
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }

    /// Sends new connections to another server (host:port): a restart, another replica.
    pub fn retarget(&self, target: String) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }
}
