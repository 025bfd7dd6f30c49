//! A real headless Chromium driven through chromedriver (WebDriver, via fantoccini).
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages
//! (`.ci/run` installs them). Without them the browser tests are skipped locally, and fail
//! under CI.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and the Chromium it starts, in their own process group: dropping this ends
/// both, also when a test fails half-way.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// chromedriver's process group, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started. `--` is needed:
        // without it procps' kill reads `-PGID` as an option, kills nothing and still succeeds,
        // and the wait below then blocked forever on a live chromedriver (the "hang" after a
        // failed step).
        let group = format!("-{}", self.0.id());
        let killed = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            let _ = self.0.kill();
        }
        // Never wait unboundedly in a destructor.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("chromedriver {} did not exit after SIGKILL", self.0.id());
    }
}

/// Whether the browser is installed; under CI its absence is a failure.
pub fn available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing: .ci/run must install chromium and chromium-driver"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is not installed (apt-get install chromium chromium-driver)");
    }
    present
}

/// Where screenshots go for review: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a fresh Chromium profile whose preferred language is English.
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts"),
        );
        let profile = tempfile::tempdir().unwrap();
        let browser = Browser {
            client: connect(port, &profile).await,
            _driver: driver,
            _profile: profile,
        };
        browser
            .client
            .set_window_size(1280, 900)
            .await
            .expect("window size");
        // Navigation and scripts give up instead of waiting forever.
        browser
            .client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        browser
    }

    /// Runs one step of a scenario within `limit`. WebDriver calls have no time limit of their
    /// own (a renderer that stops answering leaves chromedriver waiting forever), so a step
    /// that overruns fails here, named, with a screenshot of where it stood if one can be had.
    pub async fn step<T>(
        &self,
        name: &str,
        limit: Duration,
        step: impl std::future::Future<Output = T>,
    ) -> T {
        use futures_util::FutureExt as _;
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(limit, std::panic::AssertUnwindSafe(step).catch_unwind()).await;
        let failed = match outcome {
            Ok(Ok(v)) => {
                eprintln!("step `{name}`: {:.1} s", started.elapsed().as_secs_f64());
                return v;
            }
            Ok(Err(panic)) => Some(panic),
            Err(_) => None,
        };
        // Where the page stood, for the failure report (bounded: the browser may be stuck).
        let shot = tokio::time::timeout(
            Duration::from_secs(10),
            self.try_screenshot(&format!("failed-{}", name.replace(' ', "-"))),
        )
        .await;
        let url = tokio::time::timeout(Duration::from_secs(5), self.url()).await;
        eprintln!("step `{name}` failed on {url:?}; screenshot {shot:?}");
        match failed {
            Some(panic) => std::panic::resume_unwind(panic),
            None => panic!(
                "step `{name}` did not finish within {limit:?} (a WebDriver call or the page hung)"
            ),
        }
    }

    /// A PNG of the current page in `target/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        self.try_screenshot(name).await.expect("screenshot")
    }

    async fn try_screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}.png"));
        let png = self.client.screenshot().await.map_err(|e| e.to_string())?;
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Runs `action` (a click that submits a form or follows a link) and waits until the next
    /// page replaced this one: a click does not wait for the navigation it starts, so without
    /// this the next look finds the old page (or a stale element of it).
    pub async fn navigates<F: std::future::Future>(&self, action: F) -> F::Output {
        let old = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("a page is open");
        let out = action.await;
        self.until("the next page", Duration::from_secs(30), || async {
            old.tag_name().await.is_err().then_some(())
        })
        .await;
        out
    }

    /// Clicks the element matching `css` and waits for the page it leads to.
    pub async fn click_to_load(&self, css: &str) {
        let target = self.find(css).await;
        self.navigates(async { target.click().await.expect("click") })
            .await;
    }

    /// Waits for an element matching `css`.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => panic!("no `{css}` on {}: {e}", self.url().await),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits until the element matching `css` reads `expected` (text a script fills in).
    pub async fn text_becomes(&self, css: &str, expected: &str) {
        let mut last = String::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last == expected {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "`{css}` reads {last:?}, not {expected:?}, on {}",
            self.url().await
        );
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Polls `probe` until it returns `Some`, or panics after `limit` naming `what`.
    pub async fn until<T, F, Fut>(&self, what: &str, limit: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let started = Instant::now();
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            assert!(
                started.elapsed() < limit,
                "{what}: not after {limit:?} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn connect(port: u16, profile: &tempfile::TempDir) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            // Without the background-networking flags Chromium stalls on a closed network.
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--lang=en-US",
                // The evidence player: no sound card in CI, and playing starts from a click.
                "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                format!("--user-data-dir={}", profile.path().display()),
            ],
            "prefs": { "intl.accept_languages": "en-US,en" },
        }),
    );
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return client,
            // chromedriver takes a moment to listen on this loaded machine.
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a Chromium session through chromedriver: {e}"),
        }
    }
}
