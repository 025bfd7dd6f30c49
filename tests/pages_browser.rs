//! The staff pages in a real headless Chromium against the real `dealerscope serve` on a random
//! port with a fresh SQLite database: signing in and out, the language switch, uploading a
//! transcript and an audio file and watching them be processed, the recordings list and its
//! filters, and the layout on a phone. Screenshots go to `target/screenshots/` for review.
//!
//! Starting Chromium is slow, so one browser runs every scenario in turn (one test); the
//! protocol checks that need no browser are separate tests.

mod common;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::browser::{self, Browser};
use common::service::*;
use fantoccini::Locator;

fn root() -> PathBuf {
    common::root()
}

/// The speech models (tiny.en and VAD), fetched once into `$DEALERSCOPE_MODELS` (default
/// target/tmp/models) like the audio tests do.
fn ready_models() -> PathBuf {
    static FETCHED: Mutex<()> = Mutex::new(());
    let _once = FETCHED.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::var_os("DEALERSCOPE_MODELS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("models"));
    let run = common::dealerscope(&[
        "models",
        "fetch",
        "tiny.en",
        "vad",
        "--models-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "models fetch failed: {}", run.stderr);
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn staff_pages_in_a_real_browser() {
    if !browser::available() {
        return;
    }
    let models = ready_models();
    let data = Data::new(Db::Sqlite);
    let t = data.tenant("North Motors");
    let server = Server::start(
        &data,
        &[
            "--model",
            "tiny.en",
            "--models-dir",
            models.to_str().unwrap(),
        ],
    );
    runtime().block_on(async {
        let b = Browser::start().await;
        // Each step has a time limit: a WebDriver call that never answers fails the test with
        // the step's name instead of hanging it.
        let minute = Duration::from_secs(60);
        b.step(
            "sign in",
            minute,
            sign_in_refuses_a_wrong_password(&b, &server, &t),
        )
        .await;
        b.step(
            "language switch",
            minute,
            language_switch_sticks(&b, &server),
        )
        .await;
        b.step(
            "upload",
            Duration::from_secs(360),
            upload_shows_progress_and_processing(&b, &server, &data),
        )
        .await;
        b.step(
            "customer search",
            Duration::from_secs(180),
            customer_search_finds_the_new_customer(&b, &server, &data),
        )
        .await;
        b.step(
            "recordings list",
            minute,
            recordings_list_filters_and_scopes(&b, &server, &t),
        )
        .await;
        // Signed in as the manager from here on.
        let customer = data
            .query_one_async("SELECT id FROM customers")
            .await
            .expect("the customer");
        b.step(
            "profile",
            Duration::from_secs(120),
            profile_plays_evidence_and_takes_corrections(&b, &server, &customer),
        )
        .await;
        b.step(
            "follow-ups",
            minute,
            follow_up_queue_marks_done(&b, &server),
        )
        .await;
        b.step("dashboard", minute, dashboard_shows_charts(&b, &server, &t))
            .await;
        b.step(
            "phone layout",
            minute,
            phone_layout_fits(&b, &server, &customer),
        )
        .await;
        b.step("sign out", minute, sign_out_ends_the_session(&b, &server))
            .await;
        eprintln!("screenshots: {}", browser::screenshot_dir().display());
    });
}

async fn sign_in(b: &Browser, email: &str, password: &str) {
    b.find("#email").await.send_keys(email).await.unwrap();
    b.find("#password").await.send_keys(password).await.unwrap();
    b.click_to_load("form[action='/login'] button[type=submit]")
        .await;
}

async fn sign_in_refuses_a_wrong_password(b: &Browser, server: &Server, t: &Tenant) {
    // A page that needs a person sends a visitor to sign in, remembering where they went.
    b.client.goto(&server.url("/upload")).await.unwrap();
    assert!(
        b.url().await.contains("/login?next=%2Fupload"),
        "{}",
        b.url().await
    );
    assert_eq!(b.text("h1").await, "Sign in");
    b.screenshot("login-desktop").await;

    sign_in(b, &t.sales_a_email, "not the password").await;
    assert_eq!(b.text("#login-error").await, "Wrong email or password.");
    // The email stays filled in; the password does not.
    assert_eq!(
        b.find("#email")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(t.sales_a_email.as_str())
    );
    assert_eq!(
        b.find("#password")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("")
    );
    b.screenshot("login-error-desktop").await;

    b.find("#email").await.clear().await.unwrap();
    sign_in(b, &t.sales_a_email, PASSWORD).await;
    assert_eq!(b.text("h1").await, "Upload recordings");
    assert!(b.url().await.ends_with("/upload"), "{}", b.url().await);
    let header = b.text("header .who").await;
    assert!(
        header.contains(&format!("Signed in as {}", t.sales_a_email)),
        "{header}"
    );
    assert!(header.contains("Salesperson"), "{header}");
}

async fn language_switch_sticks(b: &Browser, server: &Server) {
    b.click_to_load("button[name=lang][value='zh-CN']").await;
    assert_eq!(b.text("h1").await, "上传录音");
    assert_eq!(
        b.find("html").await.attr("lang").await.unwrap().as_deref(),
        Some("zh-CN")
    );
    assert!(b.text("header .who").await.contains("销售顾问"));
    b.screenshot("upload-zh-desktop").await;
    // The choice is kept for the next page, whatever the browser asks for (English here).
    b.client
        .goto(&server.url("/recordings?status=done"))
        .await
        .unwrap();
    assert_eq!(b.text("h1").await, "我的录音");
    assert_eq!(b.text("label[for=status]").await, "状态");
    // Switching back returns to the same page, filters included.
    b.click_to_load("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "My recordings");
    assert!(
        b.url().await.ends_with("/recordings?status=done"),
        "{}",
        b.url().await
    );
}

/// The status each upload row shows, once all of them are done or failed.
async fn finished_uploads(
    b: &Browser,
    count: usize,
    limit: Duration,
) -> Vec<(String, String, String)> {
    b.until("uploads finished", limit, || async {
        let rows = b
            .client
            .find_all(Locator::Css("#uploads li.upload"))
            .await
            .ok()?;
        let mut out = Vec::new();
        for row in &rows {
            let status = row.attr("data-status").await.ok()??;
            if status != "done" && status != "failed" {
                return None;
            }
            let name = row
                .find(Locator::Css(".name"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let reason = row
                .find(Locator::Css(".reason"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            out.push((name, status, reason));
        }
        (out.len() == count).then_some(out)
    })
    .await
}

async fn upload_shows_progress_and_processing(b: &Browser, server: &Server, data: &Data) {
    b.client.goto(&server.url("/upload")).await.unwrap();
    b.find("#customer-name")
        .await
        .send_keys("Li Wei")
        .await
        .unwrap();
    b.find("#customer-phone")
        .await
        .send_keys("+86 138 0013 8000")
        .await
        .unwrap();
    let transcript = root().join("tests/fixtures/conversations/en/en-h-001.txt");
    let audio = root().join("tests/fixtures/audio/dialogue-en.mp3");
    // A file input takes several paths at once, one a line: the same path as a drop.
    let files = format!("{}\n{}", transcript.display(), audio.display());
    b.find("#files").await.send_keys(&files).await.unwrap();

    b.text_becomes("#customer-picked-text", "Customer: Li Wei · +8613800138000")
        .await;
    let done = finished_uploads(b, 2, Duration::from_secs(300)).await;
    for (name, status, reason) in &done {
        assert_eq!(status, "done", "{name} failed: {reason}");
    }
    // Every bar reached its end, and the status is shown in words.
    // (A progress bar's `value` property is a number, which fantoccini's `prop` cannot read
    // as text: asked through a script.)
    let values = js(
        b,
        "return Array.from(document.querySelectorAll('#uploads progress'), p => p.value);",
    )
    .await;
    assert_eq!(
        values,
        serde_json::json!([100, 100]),
        "every bar reached its end"
    );
    let statuses: Vec<String> = futures_text(b, "#uploads .status").await;
    assert_eq!(statuses, ["Done", "Done"]);
    b.screenshot("upload-done-desktop").await;

    // Both went to the one new customer, and the audio was transcribed (not just stored).
    let customers = data
        .query_one_async("SELECT COUNT(DISTINCT customer_id) FROM recordings")
        .await
        .unwrap();
    assert_eq!(customers, "1");
    let name = data
        .query_one_async("SELECT name FROM customers")
        .await
        .unwrap();
    assert_eq!(name, "Li Wei");
    let audio_analysis = data
        .query_one_async("SELECT analysis FROM recordings WHERE content_type = 'audio/mpeg'")
        .await
        .unwrap();
    let audio_analysis: serde_json::Value = serde_json::from_str(&audio_analysis).unwrap();
    assert!(
        audio_analysis["segments"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{audio_analysis}"
    );
}

async fn futures_text(b: &Browser, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in b.client.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

async fn customer_search_finds_the_new_customer(b: &Browser, server: &Server, data: &Data) {
    b.client.goto(&server.url("/upload")).await.unwrap();
    b.find("#customer-search")
        .await
        .send_keys("li w")
        .await
        .unwrap();
    let choose = b.find("#customer-results button").await;
    assert_eq!(
        b.text("#customer-results li span").await,
        "Li Wei · +8613800138000"
    );
    choose.click().await.unwrap();
    assert_eq!(
        b.text("#customer-picked-text").await,
        "Customer: Li Wei · +8613800138000"
    );
    // Searching by part of the phone number finds them too.
    b.find("#customer-change").await.click().await.unwrap();
    let search = b.find("#customer-search").await;
    search.clear().await.unwrap();
    search.send_keys("0013").await.unwrap();
    b.find("#customer-results button")
        .await
        .click()
        .await
        .unwrap();

    let zh = root().join("tests/fixtures/conversations/zh/zh-h-001.txt");
    b.find("#files")
        .await
        .send_keys(&zh.display().to_string())
        .await
        .unwrap();
    let done = finished_uploads(b, 1, Duration::from_secs(120)).await;
    assert_eq!(done[0].1, "done", "{done:?}");
    assert_eq!(
        data.query_one_async("SELECT COUNT(DISTINCT customer_id) FROM recordings")
            .await
            .unwrap(),
        "1"
    );
    assert_eq!(
        data.query_one_async("SELECT COUNT(*) FROM customers")
            .await
            .unwrap(),
        "1"
    );
}

async fn row_count(b: &Browser) -> usize {
    b.client
        .find_all(Locator::Css("#recordings tbody tr"))
        .await
        .unwrap()
        .len()
}

async fn recordings_list_filters_and_scopes(b: &Browser, server: &Server, t: &Tenant) {
    b.client.goto(&server.url("/recordings")).await.unwrap();
    b.find("#recordings").await;
    assert_eq!(row_count(b).await, 3);
    // A salesperson's list has no salesperson column: they are all theirs.
    let headings = futures_text(b, "#recordings th").await;
    assert_eq!(headings, ["Recorded", "Status", "Duration", "Customer"]);
    let customers = futures_text(b, "#recordings td[data-label=Customer]").await;
    assert!(
        customers.iter().all(|c| c == "Li Wei · +8613800138000"),
        "{customers:?}"
    );
    let durations = futures_text(b, "#recordings td[data-label=Duration]").await;
    assert!(
        durations.iter().any(|d| d.contains(':')),
        "the audio has a duration: {durations:?}"
    );
    b.screenshot("recordings-desktop").await;

    // Filters: status, and dates (files were recorded no later than today).
    b.find("#status")
        .await
        .select_by_value("failed")
        .await
        .unwrap();
    b.click_to_load(".filters button[type=submit]").await;
    assert_eq!(b.text("#no-recordings").await, "No recordings match.");
    assert!(b.url().await.contains("status=failed"));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    b.client
        .goto(&server.url(&format!("/recordings?status=done&from={tomorrow}")))
        .await
        .unwrap();
    b.find("#no-recordings").await;
    b.client
        .goto(&server.url(&format!("/recordings?status=done&to={tomorrow}")))
        .await
        .unwrap();
    b.find("#recordings").await;
    assert_eq!(row_count(b).await, 3);

    // Another salesperson sees none of them; the manager sees them all, with whose they are.
    b.click_to_load("#sign-out").await;
    b.client.goto(&server.url("/recordings")).await.unwrap();
    sign_in(b, &t.sales_b_email, PASSWORD).await;
    assert_eq!(b.text("#no-recordings").await, "No recordings match.");
    b.click_to_load("#sign-out").await;
    b.client.goto(&server.url("/recordings")).await.unwrap();
    sign_in(b, &t.manager_email, PASSWORD).await;
    assert_eq!(b.text("h1").await, "Recordings");
    assert_eq!(row_count(b).await, 3);
    let sellers = futures_text(b, "#recordings td[data-label=Salesperson]").await;
    assert!(sellers.iter().all(|s| *s == t.sales_a_email), "{sellers:?}");
    b.screenshot("recordings-manager-desktop").await;
}

async fn js(b: &Browser, script: &str) -> serde_json::Value {
    b.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn profile_plays_evidence_and_takes_corrections(
    b: &Browser,
    server: &Server,
    customer: &str,
) {
    // The manager reaches the profile from the follow-up queue.
    b.client.goto(&server.url("/follow-ups")).await.unwrap();
    b.click_to_load(&format!("#follow-ups tr[data-id='{customer}'] a"))
        .await;
    assert_eq!(b.text("h1").await, "Li Wei +8613800138000");
    assert!(b.url().await.ends_with(&format!("/customers/{customer}")));
    // Budget (from the audio: the customer states one), priority, stage and the three tag groups.
    assert!(!b.text("#budget-latest").await.is_empty());
    assert!(!b.text("#next-action").await.is_empty());
    assert!(!b.text("#stage").await.is_empty());
    for group in ["fact", "psychological", "behavioral"] {
        b.find(&format!("#tags-{group} h3")).await;
    }
    // Three visits on the timeline; the audio one has a time to play from on every turn, and
    // turns with findings are highlighted.
    assert_eq!(
        b.client
            .find_all(Locator::Css("#visits .visit"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(!b
        .client
        .find_all(Locator::Css(".transcript .turn.speaker-customer"))
        .await
        .unwrap()
        .is_empty());
    assert!(!b
        .client
        .find_all(Locator::Css(".transcript mark"))
        .await
        .unwrap()
        .is_empty());
    b.screenshot("profile-desktop").await;

    // Play the evidence quote that starts latest: the player jumps to its moment and plays.
    let quotes = b
        .client
        .find_all(Locator::Css("button.quote.play-at"))
        .await
        .unwrap();
    assert!(!quotes.is_empty(), "a quote from the audio recording");
    let mut latest = (0.0f64, None);
    for q in quotes {
        let start: f64 = q
            .attr("data-start")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        if latest.1.is_none() || start > latest.0 {
            latest = (start, Some(q));
        }
    }
    let (start, quote) = (latest.0, latest.1.unwrap());
    quote.click().await.unwrap();
    let (time, paused) = b
        .until(
            "the player plays the quote",
            Duration::from_secs(30),
            || async {
                let state = js(
                    b,
                    "const p = document.getElementById('player'); \
                 return [p.currentTime, p.paused, p.readyState, p.error && p.error.code];",
                )
                .await;
                let time = state[0].as_f64()?;
                let paused = state[1].as_bool()?;
                (!paused && time >= start - 0.05).then_some((time, paused))
            },
        )
        .await;
    assert!(!paused);
    assert!(
        time >= start - 0.05 && time < start + 5.0,
        "player at {time} s, quote at {start} s"
    );
    // It keeps playing: time moves on from the quote.
    b.until("the player advances", Duration::from_secs(15), || async {
        let now = js(b, "return document.getElementById('player').currentTime;")
            .await
            .as_f64()?;
        (now > time + 0.2).then_some(())
    })
    .await;
    js(b, "document.getElementById('player').pause(); return null;").await;

    // The manager rejects one tag: it is marked, the API profile shows the verdict, and the
    // customer drops out of that tag's group.
    let tag = b.find(".tag").await;
    let tag_id = tag.attr("data-tag").await.unwrap().unwrap();
    let reject = tag
        .find(Locator::Css("button[value=rejected]"))
        .await
        .unwrap();
    b.navigates(async { reject.click().await.unwrap() }).await;
    let marked = b
        .find(&format!(".tag.verdict-rejected[data-tag='{tag_id}']"))
        .await;
    assert!(
        marked
            .text()
            .await
            .unwrap()
            .contains("Rejected by manager@north-motors.example"),
        "{}",
        marked.text().await.unwrap()
    );
    let session = b
        .client
        .get_named_cookie("ds_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let api = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&session),
    );
    let shown = api.json["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tag_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(shown["correction"]["verdict"], "rejected", "{shown}");
    b.screenshot("profile-corrected-desktop").await;
}

async fn follow_up_queue_marks_done(b: &Browser, server: &Server) {
    b.client.goto(&server.url("/follow-ups")).await.unwrap();
    let row = b.find("#follow-ups tbody tr").await;
    let cells = row.text().await.unwrap();
    assert!(cells.contains("Li Wei"), "{cells}");
    b.screenshot("follow-ups-desktop").await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.screenshot("follow-ups-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();
    let done = row.find(Locator::Css("button[value=done]")).await.unwrap();
    b.navigates(async { done.click().await.unwrap() }).await;
    assert_eq!(
        b.text("#no-follow-ups").await,
        "Nothing to follow up. Well done."
    );
}

async fn dashboard_shows_charts(b: &Browser, server: &Server, t: &Tenant) {
    b.client.goto(&server.url("/dashboard")).await.unwrap();
    assert_eq!(b.text("h1").await, "Dashboard");
    // Charts are drawn: a bar per stage, and per week (an earlier column and 12 weeks).
    let bars = |css: &'static str| async move {
        b.client.find_all(Locator::Css(css)).await.unwrap().len()
    };
    assert_eq!(bars("#chart-stages rect").await, 6);
    assert_eq!(bars("#chart-weeks rect").await, 13);
    b.find("#chart-objections").await;
    b.find("#chart-competitors").await;
    // Sales A made the three recordings.
    let activity = futures_text(b, "#activity-table tbody tr").await;
    let a = activity
        .iter()
        .find(|r| r.contains(&t.sales_a_email))
        .unwrap_or_else(|| panic!("{activity:?}"));
    assert_eq!(a.split_whitespace().nth(1), Some("3"), "recordings: {a}");
    b.screenshot("dashboard-desktop").await;

    // A tag group, and its CSV.
    let option = b.find("#tag option:nth-child(2)").await;
    let tag = option.attr("value").await.unwrap().unwrap();
    b.find("#tag").await.select_by_value(&tag).await.unwrap();
    b.click_to_load("#groups button[type=submit]").await;
    assert!(b.text("#group-table").await.contains("Li Wei"));
    let href = b
        .find("#export-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let session = b
        .client
        .get_named_cookie("ds_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let mut csv = ureq::get(&server.url(&href))
        .header("Cookie", &format!("ds_session={session}"))
        .call()
        .unwrap();
    let text = csv.body_mut().read_to_string().unwrap();
    assert!(text.starts_with("id,name,phone,salesperson,"), "{text}");
    assert!(text.contains("Li Wei"), "{text}");

    // In Chinese too.
    b.click_to_load("button[name=lang][value='zh-CN']").await;
    assert_eq!(b.text("h1").await, "看板");
    b.screenshot("dashboard-zh-desktop").await;
    b.click_to_load("button[name=lang][value=en]").await;
}

async fn phone_layout_fits(b: &Browser, server: &Server, customer: &str) {
    b.client.set_window_size(390, 844).await.unwrap();
    let profile = format!("/customers/{customer}");
    for (path, name) in [
        ("/recordings", "recordings-phone"),
        ("/upload", "upload-phone"),
        (profile.as_str(), "profile-phone"),
        ("/follow-ups", "follow-ups-done-phone"),
        ("/dashboard", "dashboard-phone"),
    ] {
        b.client.goto(&server.url(path)).await.unwrap();
        b.find("h1").await;
        // Nothing wider than the screen: no sideways scrolling on a phone.
        let fits = js(
            b,
            "return document.documentElement.scrollWidth <= window.innerWidth",
        )
        .await;
        assert_eq!(
            fits,
            serde_json::Value::Bool(true),
            "{path} scrolls sideways on a phone"
        );
        b.screenshot(name).await;
    }
    b.client.set_window_size(1280, 900).await.unwrap();
}

async fn sign_out_ends_the_session(b: &Browser, server: &Server) {
    let session = b
        .client
        .get_named_cookie("ds_session")
        .await
        .expect("the session cookie")
        .value()
        .to_string();
    assert_eq!(
        get(&server.url("/api/v1/recordings/rec_none"), Some(&session)).status,
        404
    );
    b.click_to_load("#sign-out").await;
    assert_eq!(b.text("h1").await, "Sign in");
    b.client.goto(&server.url("/recordings")).await.unwrap();
    assert!(b.url().await.contains("/login"), "{}", b.url().await);
    // The token the cookie held is revoked, not just forgotten by the browser.
    assert_eq!(
        get(&server.url("/api/v1/recordings/rec_none"), Some(&session)).status,
        401
    );
}

// --- the session protocol, without a browser ----------------------------------------------

/// A response's status, `Set-Cookie` values (name=value) and body.
struct Raw {
    status: u16,
    cookies: Vec<(String, String)>,
    body: String,
}

fn send(req: ureq::RequestBuilder<ureq::typestate::WithBody>, body: &str) -> Raw {
    raw(req.send(body.as_bytes()).expect("request sent"))
}

fn raw(mut r: ureq::http::Response<ureq::Body>) -> Raw {
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Raw {
        status: r.status().as_u16(),
        cookies,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn cookie<'a>(r: &'a Raw, name: &str) -> &'a str {
    &r.cookies
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .1
}

/// Signs in through the form; returns (session, csrf) cookies.
fn form_sign_in(server: &Server, email: &str) -> (String, String) {
    let page = raw(agent().get(&server.url("/login")).call().unwrap());
    let csrf = cookie(&page, "ds_csrf").to_string();
    assert!(
        page.body.contains(&format!("value=\"{csrf}\"")),
        "the form repeats the token"
    );
    let form = format!(
        "email={}&password={}&csrf={csrf}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let signed = send(
        agent()
            .post(&server.url("/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", &format!("ds_csrf={csrf}")),
        &form,
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    // Signing in replaces the token a visitor had.
    let new_csrf = cookie(&signed, "ds_csrf").to_string();
    assert_ne!(new_csrf, csrf);
    (cookie(&signed, "ds_session").to_string(), new_csrf)
}

#[test]
fn forms_without_the_csrf_token_are_refused() {
    let data = Data::new(Db::Sqlite);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let form = format!(
        "email={}&password={}",
        t.manager_email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    // No token at all, and a token that is not the cookie's: both refused, nobody signed in.
    for (cookie_header, field) in [("", ""), ("ds_csrf=abc", "&csrf=abd")] {
        let mut req = agent()
            .post(&server.url("/login"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if !cookie_header.is_empty() {
            req = req.header("Cookie", cookie_header);
        }
        let r = send(req, &format!("{form}{field}"));
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.cookies.iter().all(|(k, _)| k != "ds_session"));
        assert!(r.body.contains("This form had expired"));
    }
    // Signing out needs the token too: without it the session stays valid.
    let (session, csrf) = form_sign_in(&server, &t.manager_email);
    let out = send(
        agent()
            .post(&server.url("/logout"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", &format!("ds_session={session}; ds_csrf={csrf}")),
        "csrf=wrong",
    );
    assert_eq!(out.status, 403);
    assert_eq!(
        get(&server.url("/api/v1/recordings/rec_none"), Some(&session)).status,
        404
    );
}

#[test]
fn page_session_reaches_the_api_only_with_the_csrf_header() {
    let data = Data::new(Db::Sqlite);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let (session, csrf) = form_sign_in(&server, &t.sales_a_email);
    let push = |csrf_header: Option<&str>| {
        let mut req = agent()
            .post(&server.url("/api/v1/recordings"))
            .header("Content-Type", "text/plain")
            .header("Cookie", &format!("ds_session={session}; ds_csrf={csrf}"));
        if let Some(h) = csrf_header {
            req = req.header("X-CSRF-Token", h);
        }
        send(req, "Salesperson: Welcome in!\nCustomer: Just looking.\n")
    };
    // A cross-site form can make the browser send the cookies, but not the header.
    assert_eq!(push(None).status, 401);
    assert_eq!(push(Some("not-the-token")).status, 401);
    let accepted = push(Some(&csrf));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = serde_json::from_str::<serde_json::Value>(&accepted.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Pushed as the signed-in salesperson.
    let owner = data.query_one(&format!("SELECT u.email FROM recordings r JOIN users u ON u.id = r.salesperson_id WHERE r.id = '{id}'"));
    assert_eq!(owner.as_deref(), Some(t.sales_a_email.as_str()));
}
