//! A bounded load test of the service on loopback: the real `dealerscope serve` on a fresh
//! SQLite database, driven by concurrent keep-alive HTTP clients.
//!
//! ```text
//! cargo build --release && cargo run --release --example load -- [--bin target/release/dealerscope]
//!     [--seconds 20] [--connections 8] [--database-url postgres://...]
//! ```
//!
//! Two phases, each `--seconds` long with `--connections` client threads:
//! - `ingest`: `POST /api/v1/recordings` of `samples/visit-en.txt` (a transcript body, so no
//!   speech model runs) with a fresh Idempotency-Key and one of 200 customers' phone numbers,
//!   by a device token. The server runs with `--workers 0`, so this is the ingest path alone
//!   (headers, streaming to the audio store with fsync, customer match, recording and job rows).
//! - `profile`: `GET /api/v1/customers/{id}` by a manager, for a customer with 10 analysed
//!   visits (the profile is rebuilt from the visits on every read, and the read is audited).
//!
//! Every response must have the expected status; the run fails otherwise. Prints requests/s and
//! latency percentiles per phase. Nothing leaves 127.0.0.1, and the run stops by itself.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The dealerscope binary to serve with.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Length of each phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients (threads, one keep-alive connection each).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Run against PostgreSQL (an empty database) instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
}

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = args
        .bin
        .clone()
        .unwrap_or_else(|| Path::new(ROOT).join("target/release/dealerscope"));
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: run `cargo build --release` or pass --bin",
        bin.display()
    );
    let dir = tempfile::tempdir()?;
    let store = Store {
        bin: bin.clone(),
        dir: dir.path().to_path_buf(),
        database_url: args.database_url.clone(),
    };
    let dealership = store.admin(&["create-dealership", "Load Motors"])?;
    store.admin(&[
        "create-user",
        "--dealership",
        &dealership,
        "--email",
        "boss@load.example",
        "--role",
        "manager",
        "--password",
        "load test password",
    ])?;
    let device = store.admin(&[
        "create-device",
        "--dealership",
        &dealership,
        "--name",
        "bench",
    ])?;
    let body = std::fs::read(Path::new(ROOT).join("samples/visit-en.txt"))?;

    // A customer with 10 analysed visits for the profile reads (one worker, then stopped).
    let customer = {
        let server = store.serve(&["--workers", "1"])?;
        let mut ids = Vec::new();
        for n in 0..10 {
            let (status, reply) = push(
                &agent(),
                &server.base,
                &device,
                &format!("seed-{n}"),
                "+1 415 555 0100",
                &body,
            )?;
            anyhow::ensure!(status == 202, "seed push: {status} {reply}");
            ids.push(reply["id"].as_str().unwrap_or_default().to_string());
        }
        let manager = login(&server.base)?;
        let mut customer = String::new();
        for id in &ids {
            customer = wait_done(&server.base, &manager, id)?;
        }
        customer
    };

    let server = store.serve(&["--workers", "0"])?;
    let manager = login(&server.base)?;
    println!(
        "{} connections, {} s per phase, {} ({} byte transcript bodies)",
        args.connections,
        args.seconds,
        if args.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        body.len()
    );
    let phase = Duration::from_secs(args.seconds);
    let ingest = run_phase(args.connections, phase, |worker, n, agent| {
        let key = format!("load-{worker}-{n}");
        let phone = format!("+1 415 555 {:04}", (worker * 7919 + n) % 200);
        let (status, reply) = push(agent, &server.base, &device, &key, &phone, &body)?;
        if status != 202 {
            bail!("ingest: {status} {reply}");
        }
        Ok(())
    })?;
    report("ingest  POST /api/v1/recordings", &ingest, phase);
    let url = format!("{}/api/v1/customers/{customer}", server.base);
    let profile = run_phase(args.connections, phase, |_, _, agent| {
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {manager}"))
            .call()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        if status != 200 {
            bail!("profile: {status} {text}");
        }
        Ok(())
    })?;
    report("profile GET /api/v1/customers/{id}", &profile, phase);
    Ok(())
}

/// Where the server keeps its data, and the binary that runs on it.
struct Store {
    bin: PathBuf,
    dir: PathBuf,
    database_url: Option<String>,
}

impl Store {
    fn location_args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_string(), self.dir.display().to_string()];
        if let Some(url) = &self.database_url {
            args.extend(["--database-url".to_string(), url.clone()]);
        }
        args
    }

    /// Runs `dealerscope admin ...`; returns the last line printed (an id or a token).
    fn admin(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .arg("admin")
            .args(args)
            .args(self.location_args())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)?
            .lines()
            .last()
            .map(|l| l.trim().to_string())
            .context("admin printed nothing")
    }

    fn serve(&self, extra: &[&str]) -> Result<Server> {
        let mut child = Command::new(&self.bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .args(self.location_args())
            .env(
                "DEALERSCOPE_PIPELINE",
                Path::new(ROOT).join("pipelines/dealership.toml"),
            )
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let first = lines.next().context("serve printed nothing")??;
        let addr = first
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line: {first}"))?
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base: addr })
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn push(
    agent: &ureq::Agent,
    base: &str,
    token: &str,
    key: &str,
    phone: &str,
    body: &[u8],
) -> Result<(u16, serde_json::Value)> {
    let mut response = agent
        .post(&format!("{base}/api/v1/recordings"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Idempotency-Key", key)
        .header("X-Customer-Phone", phone)
        .send(body)?;
    let status = response.status().as_u16();
    let reply = response.body_mut().read_json().unwrap_or_default();
    Ok((status, reply))
}

fn login(base: &str) -> Result<String> {
    let mut response = agent().post(&format!("{base}/api/v1/sessions")).send_json(
        serde_json::json!({"email": "boss@load.example", "password": "load test password"}),
    )?;
    let reply: serde_json::Value = response.body_mut().read_json()?;
    reply["token"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no token: {reply}"))
}

/// Waits for a recording to be analysed; returns its customer.
fn wait_done(base: &str, token: &str, id: &str) -> Result<String> {
    let started = Instant::now();
    loop {
        let mut response = agent()
            .get(&format!("{base}/api/v1/recordings/{id}"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()?;
        let rec: serde_json::Value = response.body_mut().read_json()?;
        match rec["status"].as_str() {
            Some("done") => {
                return rec["customer_id"]
                    .as_str()
                    .map(str::to_string)
                    .context("no customer")
            }
            Some("failed") => bail!("seed recording failed: {rec}"),
            _ if started.elapsed() > Duration::from_secs(300) => bail!("seeding timed out"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs `request` from `connections` threads until `length` has passed; returns every
/// request's latency. The first error stops the run.
fn run_phase<F>(connections: usize, length: Duration, request: F) -> Result<Vec<Duration>>
where
    F: Fn(usize, usize, &ureq::Agent) -> Result<()> + Sync,
{
    let end = Instant::now() + length;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|worker| {
                let request = &request;
                scope.spawn(move || -> Result<Vec<Duration>> {
                    let agent = agent();
                    let mut latencies = Vec::new();
                    while Instant::now() < end {
                        let started = Instant::now();
                        request(worker, latencies.len(), &agent)?;
                        latencies.push(started.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        Ok(all)
    })
}

fn report(name: &str, latencies: &[Duration], length: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: f64| {
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(i).copied().unwrap_or_default().as_secs_f64() * 1e3
    };
    println!(
        "{name}: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        sorted.len() as f64 / length.as_secs_f64(),
        at(0.50),
        at(0.99),
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}
