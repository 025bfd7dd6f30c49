//! A real service for the API tests: a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database when `DEALERSCOPE_TEST_POSTGRES_URL` is set), the admin commands run
//! through the binary, and `dealerscope serve` started on a random port.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{dealerscope, pipeline_path};

/// Runs each named scenario (a `fn(Db)`) as two tests: on SQLite, and on PostgreSQL when
/// configured (always under CI).
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn sqlite() {
                super::$scenario($crate::common::service::Db::Sqlite);
            }
            #[test]
            fn postgres() {
                if let Some(db) = $crate::common::service::Db::postgres() {
                    super::$scenario(db.clone());
                    // A failed scenario's database stays behind for a look.
                    db.remove();
                }
            }
        }
    )*};
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    /// A URL of a freshly created, empty PostgreSQL database.
    Postgres(String),
}

impl Db {
    /// A fresh PostgreSQL database, or `None` (skip) when none is configured locally.
    /// Under CI the variable must be set: a missing database fails the test.
    pub fn postgres() -> Option<Db> {
        let Ok(base) = std::env::var("DEALERSCOPE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but DEALERSCOPE_TEST_POSTGRES_URL is not: .ci/run must start PostgreSQL"
            );
            eprintln!("skipped: DEALERSCOPE_TEST_POSTGRES_URL is not set");
            return None;
        };
        Some(Db::Postgres(fresh_postgres_database(&base)))
    }

    /// Drops a PostgreSQL test database (its server's connections closed first); hundreds of
    /// leftover databases made a local server's crash recovery take minutes.
    pub fn remove(self) {
        let Db::Postgres(url) = self else { return };
        let Ok(base) = std::env::var("DEALERSCOPE_TEST_POSTGRES_URL") else {
            return;
        };
        let name = url::Url::parse(&url).expect("a postgres URL").path()[1..].to_string();
        block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect");
            sqlx::Executor::execute(
                &mut conn,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
            )
            .await
            .expect("drop the test database");
        });
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Creates `dstest_<random>` on the server of `base` and returns its URL.
fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection as _;
    let name = format!("dstest_{}", uuid::Uuid::new_v4().simple());
    block_on(async {
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .expect("connect to DEALERSCOPE_TEST_POSTGRES_URL");
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
    });
    let mut url = url::Url::parse(base).expect("a postgres URL");
    url.set_path(&name);
    url.to_string()
}

/// A dealership with a manager, two salespeople and a device bound to the first salesperson.
pub struct Tenant {
    pub dealership: String,
    pub manager_email: String,
    pub sales_a_email: String,
    pub sales_b_email: String,
    pub device_id: String,
    pub device_token: String,
}

pub const PASSWORD: &str = "correct horse battery";

/// A data directory and database the service, workers and admin commands share.
pub struct Data {
    pub dir: tempfile::TempDir,
    pub db: Db,
    /// Environment variables for the processes `spawn` starts.
    pub env: Vec<(String, String)>,
}

impl Data {
    pub fn new(db: Db) -> Data {
        Data {
            dir: tempfile::tempdir().unwrap(),
            db,
            env: Vec::new(),
        }
    }

    /// `--data-dir DIR [--database-url URL]`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        if let Db::Postgres(url) = &self.db {
            args.extend(["--database-url".to_string(), url.clone()]);
        }
        args
    }

    /// Runs `dealerscope admin ...` and returns its last line (the id or token).
    pub fn admin(&self, args: &[&str]) -> String {
        let mut all: Vec<String> = vec!["admin".into()];
        all.extend(args.iter().map(|s| s.to_string()));
        all.extend(self.args());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = dealerscope(&refs);
        assert_eq!(run.code, 0, "admin {args:?} failed: {}", run.stderr);
        run.stdout
            .lines()
            .last()
            .expect("a last line")
            .trim()
            .to_string()
    }

    pub fn tenant(&self, name: &str) -> Tenant {
        let dealership = self.admin(&["create-dealership", name]);
        let slug = name.to_lowercase().replace(' ', "-");
        let email = |who: &str| format!("{who}@{slug}.example");
        for (who, role) in [
            ("manager", "manager"),
            ("sales-a", "salesperson"),
            ("sales-b", "salesperson"),
        ] {
            self.admin(&[
                "create-user",
                "--dealership",
                &dealership,
                "--email",
                &email(who),
                "--role",
                role,
                "--password",
                PASSWORD,
            ]);
        }
        let device_token = self.admin(&[
            "create-device",
            "--dealership",
            &dealership,
            "--name",
            "front desk",
            "--salesperson",
            &email("sales-a"),
        ]);
        let device_id = self.device_id(&dealership);
        Tenant {
            dealership,
            manager_email: email("manager"),
            sales_a_email: email("sales-a"),
            sales_b_email: email("sales-b"),
            device_id,
            device_token,
        }
    }

    fn device_id(&self, dealership: &str) -> String {
        self.query_one(&format!(
            "SELECT id FROM devices WHERE dealership_id = '{dealership}' ORDER BY created_at DESC LIMIT 1"
        ))
        .expect("the device exists")
    }

    /// [`Data::query_one`] from inside an async test (which cannot start a second runtime).
    pub async fn query_one_async(&self, sql: &str) -> Option<String> {
        let (dir, db, sql) = (
            self.dir.path().to_path_buf(),
            self.db.clone(),
            sql.to_string(),
        );
        tokio::task::spawn_blocking(move || query_one(&dir, &db, &sql))
            .await
            .expect("the query thread")
    }

    /// Runs one query returning one text (or integer, as text) value, straight on the database.
    pub fn query_one(&self, sql: &str) -> Option<String> {
        query_one(self.dir.path(), &self.db, sql)
    }

    /// Files under the audio directory, staging files included.
    pub fn audio_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.path().join("audio"), &mut out);
        out
    }

    /// Starts a `dealerscope` child process (serve or worker) with these extra arguments.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(self.args());
        Command::new(env!("CARGO_BIN_EXE_dealerscope"))
            .args(&all)
            .env("DEALERSCOPE_PIPELINE", pipeline_path())
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts")
    }
}

/// A child process killed when dropped (a failing test leaves no worker behind).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `dealerscope serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub addr: String,
}

impl Server {
    pub fn start(data: &Data, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = data.spawn(&args);
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("serve prints its address")
            .expect("readable stdout");
        let addr = first
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base: format!("http://{addr}"),
            addr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: serde_json::Value,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    }
}

pub fn get(url: &str, token: Option<&str>) -> Reply {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.call().expect("request sent"))
}

pub fn delete(url: &str, token: Option<&str>) -> Reply {
    let mut req = agent().delete(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.call().expect("request sent"))
}

pub fn post_json(url: &str, token: Option<&str>, body: &serde_json::Value) -> Reply {
    let mut req = agent().post(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.send_json(body).expect("request sent"))
}

pub fn put_json(url: &str, token: Option<&str>, body: &serde_json::Value) -> Reply {
    let mut req = agent().put(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.send_json(body).expect("request sent"))
}

/// Pushes a recording body with the given headers.
pub fn push(server: &Server, token: Option<&str>, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = agent().post(&server.url("/api/v1/recordings"));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.send(body).expect("request sent"))
}

pub fn login(server: &Server, email: &str) -> String {
    let r = post_json(
        &server.url("/api/v1/sessions"),
        None,
        &serde_json::json!({ "email": email, "password": PASSWORD }),
    );
    assert_eq!(r.status, 201, "login {email}: {:?}", r.json);
    r.json["token"].as_str().unwrap().to_string()
}

/// Sends a request by hand: `head` (request line and headers, no blank line), then `body`,
/// then closes the writing side. Returns the status, or `None` if the server closed without one.
pub fn raw_request(server: &Server, head: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.write_all(format!("{head}\r\n\r\n").as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
}

/// Polls a recording until it leaves queued/processing, or panics after `limit`.
pub fn wait_finished(server: &Server, token: &str, id: &str, limit: Duration) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let r = get(
            &server.url(&format!("/api/v1/recordings/{id}")),
            Some(token),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        let status = r.json["status"].as_str().unwrap_or_default().to_string();
        if status == "done" || status == "failed" {
            return r.json;
        }
        assert!(
            started.elapsed() < limit,
            "recording {id} still {status} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// One value of one query, on a connection of its own.
fn query_one(dir: &Path, db: &Db, sql: &str) -> Option<String> {
    use sqlx::Row as _;
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("dealerscope.db").display()),
        Db::Postgres(url) => url.clone(),
    };
    sqlx::any::install_default_drivers();
    block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
        let row = sqlx::query(sql)
            .fetch_optional(&mut conn)
            .await
            .expect("query");
        row.map(|r| {
            r.try_get::<String, _>(0)
                .or_else(|_| r.try_get::<i64, _>(0).map(|n| n.to_string()))
                .unwrap_or_default()
        })
    })
}
