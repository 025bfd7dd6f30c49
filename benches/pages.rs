//! Server time of every staff page with a large data set: seeds a dealership (`dealerscope
//! admin seed`, 10,000 customers and 50,000 recordings by default), starts `dealerscope serve`,
//! and requests each page as a manager and as a salesperson, reading the time the server
//! reports in its `Server-Timing` header (and the wall time seen by the client, for scale).
//!
//! ```text
//! cargo bench --bench pages                         # SQLite in a temporary directory (release)
//! CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo bench --profile dev --bench pages   # without a release build
//! cargo bench --bench pages -- --postgres URL       # a fresh database on that server
//! cargo bench --bench pages -- --customers 1000 --recordings 5000 --runs 10
//! cargo bench --bench pages -- --data-dir DIR       # reuse DIR (SQLite: seeded if empty; kept)
//! ```
//! Fails (exit 1) when a page's median server time is over the 300 ms budget.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUDGET_MS: f64 = 300.0;
const PASSWORD: &str = "bench password";

struct Options {
    customers: usize,
    recordings: usize,
    runs: usize,
    data_dir: Option<PathBuf>,
    postgres: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        customers: 10_000,
        recordings: 50_000,
        runs: 20,
        data_dir: None,
        postgres: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--customers" => o.customers = value().parse().expect("a number"),
            "--recordings" => o.recordings = value().parse().expect("a number"),
            "--runs" => o.runs = value().parse().expect("a number"),
            "--data-dir" => o.data_dir = Some(value().into()),
            "--postgres" => o.postgres = Some(value()),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    o
}

fn dealerscope(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dealerscope"))
        .args(args)
        .env("DEALERSCOPE_PIPELINE", pipeline())
        .stderr(Stdio::inherit())
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "dealerscope {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pipeline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dealership.toml")
}

fn fresh_postgres(base: &str) -> String {
    // The psql client is not needed: the service creates nothing, so make the database with
    // the same driver the tests use.
    let name = format!("dsbench_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(base).await.expect("connect");
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
    });
    let mut url = url::Url::parse(base).expect("a URL");
    url.set_path(&name);
    url.to_string()
}

/// Drops the database the run made (the seeded data set is a few hundred megabytes).
fn drop_postgres(base: &str, url: &str) {
    let name = url::Url::parse(url)
        .expect("a URL")
        .path()
        .trim_start_matches('/')
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(base).await.expect("connect");
        if let Err(e) =
            sqlx::Executor::execute(&mut conn, format!("DROP DATABASE {name}").as_str()).await
        {
            eprintln!("cannot drop {name}: {e}");
        }
    });
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(store: &[String]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dealerscope"))
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "0"])
        .args(store)
        .env("DEALERSCOPE_PIPELINE", pipeline())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("an address").expect("stdout");
    let addr = first
        .strip_prefix("listening on http://")
        .expect("listening on http://...")
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    Server(child, addr)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn sign_in(base: &str, email: &str, password: &str) -> String {
    let mut r = agent()
        .post(&format!("{base}/api/v1/sessions"))
        .send_json(serde_json::json!({ "email": email, "password": password }))
        .expect("sign in");
    let body: serde_json::Value = r.body_mut().read_json().expect("JSON");
    body["token"].as_str().expect("a token").to_string()
}

/// Server and wall milliseconds of one request.
fn time(base: &str, path: &str, session: &str) -> (f64, f64) {
    let started = Instant::now();
    let mut r = agent()
        .get(&format!("{base}{path}"))
        .header("Cookie", &format!("ds_session={session}"))
        .call()
        .expect("request");
    let status = r.status().as_u16();
    let server = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let _ = r.body_mut().read_to_vec();
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(status, 200, "{path}");
    (server, wall)
}

fn query_one(url: &str, sql: &str) -> String {
    sqlx::any::install_default_drivers();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("query")
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let o = options();
    let keep = o.data_dir.is_some();
    let dir = o.data_dir.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("page-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = vec!["--data-dir".to_string(), dir.display().to_string()];
    if let Some(base) = &o.postgres {
        store.extend(["--database-url".to_string(), fresh_postgres(base)]);
    }
    let with_store = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(store.iter().cloned());
        all
    };
    let marker = dir.join("bench-dealership");
    let dealership = match std::fs::read_to_string(&marker) {
        Ok(id) if o.postgres.is_none() => id.trim().to_string(),
        _ => {
            let id = dealerscope(&with_store(&["admin", "create-dealership", "Bench Motors"]));
            let id = id.lines().last().unwrap().to_string();
            dealerscope(&with_store(&[
                "admin",
                "create-user",
                "--dealership",
                &id,
                "--email",
                "manager@bench.example",
                "--role",
                "manager",
                "--password",
                PASSWORD,
            ]));
            let started = Instant::now();
            let seeded = dealerscope(&with_store(&[
                "admin",
                "seed",
                "--dealership",
                &id,
                "--customers",
                &o.customers.to_string(),
                "--recordings",
                &o.recordings.to_string(),
            ]));
            eprintln!(
                "{seeded}\n(seed took {:.1} s)",
                started.elapsed().as_secs_f64()
            );
            std::fs::write(&marker, &id).unwrap();
            id
        }
    };
    let server = serve(&store);
    let base = format!("http://{}", server.1);
    let manager = sign_in(&base, "manager@bench.example", PASSWORD);
    let seller_email = format!("seed-sales-1@{dealership}.example");
    let seller = sign_in(&base, &seller_email, "seed password");

    // The heaviest pages: the customer with the most visits, the most common tag's group.
    let url = match store.iter().position(|a| a == "--database-url") {
        Some(i) => store[i + 1].clone(),
        None => format!("sqlite://{}", dir.join("dealerscope.db").display()),
    };
    let heavy = query_one(
        &url,
        "SELECT customer_id FROM recordings GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1",
    );
    let tag = {
        let mut r = agent()
            .get(&format!("{base}/dashboard"))
            .header("Cookie", &format!("ds_session={manager}"))
            .call()
            .expect("dashboard");
        let html = r.body_mut().read_to_string().unwrap();
        // The group filter lists tags most common first, after "all customers".
        html.split("<option value=\"")
            .nth(2)
            .and_then(|s| s.split('"').next())
            .expect("a tag")
            .to_string()
    };
    let pages: Vec<(&str, String, &str)> = vec![
        ("manager", "/dashboard".into(), manager.as_str()),
        ("manager", format!("/dashboard?tag={tag}"), manager.as_str()),
        ("manager", "/recordings".into(), manager.as_str()),
        (
            "manager",
            "/recordings?status=done&from=2020-01-01".into(),
            manager.as_str(),
        ),
        ("manager", "/follow-ups".into(), manager.as_str()),
        ("manager", format!("/customers/{heavy}"), manager.as_str()),
        (
            "manager",
            format!("/dashboard/customers.csv?tag={tag}"),
            manager.as_str(),
        ),
        ("salesperson", "/upload".into(), seller.as_str()),
        ("salesperson", "/recordings".into(), seller.as_str()),
        ("salesperson", "/follow-ups".into(), seller.as_str()),
        (
            "salesperson",
            "/page-api/customers?q=li".into(),
            seller.as_str(),
        ),
    ];
    println!(
        "{} customers / {} recordings, {} runs per page ({})",
        o.customers,
        o.recordings,
        o.runs,
        if o.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "{:<12} {:<48} {:>9} {:>9} {:>9} {:>10}",
        "as", "page", "median", "p95", "max", "wall med."
    );
    let mut over = Vec::new();
    for (who, path, session) in &pages {
        // One warm-up request (first use of prepared statements and caches).
        time(&base, path, session);
        let mut server_ms = Vec::new();
        let mut wall_ms = Vec::new();
        for _ in 0..o.runs.max(1) {
            let (s, w) = time(&base, path, session);
            server_ms.push(s);
            wall_ms.push(w);
        }
        server_ms.sort_by(f64::total_cmp);
        wall_ms.sort_by(f64::total_cmp);
        let median = percentile(&server_ms, 0.5);
        println!(
            "{who:<12} {path:<48} {median:>7.1}ms {:>7.1}ms {:>7.1}ms {:>8.1}ms",
            percentile(&server_ms, 0.95),
            server_ms[server_ms.len() - 1],
            percentile(&wall_ms, 0.5),
        );
        if median > BUDGET_MS {
            over.push(path.clone());
        }
    }
    drop(server);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let (Some(base), Some(i)) = (
        &o.postgres,
        store.iter().position(|a| a == "--database-url"),
    ) {
        drop_postgres(base, &store[i + 1]);
    }
    if !over.is_empty() {
        eprintln!("over the {BUDGET_MS} ms budget: {over:?}");
        std::process::exit(1);
    }
}
