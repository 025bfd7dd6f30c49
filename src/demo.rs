//! `dealerscope demo`: the service on SQLite with a demo dealership, an admin, and the sample
//! recordings already processed, so a first run shows profiles straight away.
//!
//! The samples go through the same path as a recorder's push (`POST /api/v1/recordings` over
//! HTTP, then a queued job and an in-process worker), so the demo shows what the product does
//! rather than a shortcut. Idempotency keys make a second start reuse the first one's recordings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::store::accounts::Role;
use crate::store::recordings::{Recording, Status};
use crate::store::Store;

pub const DEALERSHIP: &str = "Demo Motors";
pub const ADMIN_EMAIL: &str = "admin@demo.example";

/// A sample recording and the customer it is pushed for.
struct Sample {
    file: &'static str,
    content_type: &'static str,
    customer_phone: &'static str,
    customer_name: &'static str,
}

const SAMPLES: [Sample; 2] = [
    Sample {
        file: "visit-en.mp3",
        content_type: "audio/mpeg",
        customer_phone: "+1 415 555 0142",
        customer_name: "Sam Carter",
    },
    Sample {
        file: "visit-zh.txt",
        content_type: "text/plain; charset=utf-8",
        customer_phone: "+86 138 0013 8000",
        customer_name: "Wang Lei",
    },
];

/// The demo's data directory when none is given: `$XDG_DATA_HOME/dealerscope/demo`
/// (`~/.local/share/dealerscope/demo`).
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })
        .context("neither XDG_DATA_HOME nor HOME is set: pass --data-dir")?;
    Ok(data_home.join("dealerscope").join("demo"))
}

/// Creates the demo dealership and admin (or gives the admin a new password when they exist),
/// pushes the samples from `samples_dir` to the service at `base_url`, waits until they are
/// processed, and prints where to sign in.
pub async fn prepare(store: &Store, base_url: &str, samples_dir: &Path) -> anyhow::Result<()> {
    let password = random_password()?;
    // The password is stored only as an argon2 hash, so a later start cannot show the earlier
    // one: it sets a new one instead.
    if store.user_dealership(ADMIN_EMAIL).await?.is_some() {
        store.set_password(ADMIN_EMAIL, &password).await?;
    } else {
        let dealership = store.create_dealership(DEALERSHIP).await?;
        store
            .create_user(&dealership, ADMIN_EMAIL, Role::Admin, &password)
            .await?;
    }
    let token = store
        .login(ADMIN_EMAIL, &password)
        .await?
        .context("the demo admin cannot sign in with the password just set")?;

    let mut pushed = Vec::new();
    for sample in &SAMPLES {
        let path = samples_dir.join(sample.file);
        let body = match tokio::fs::read(&path).await {
            Ok(body) => body,
            Err(e) => {
                eprintln!("demo: skipping {}: {e}", path.display());
                continue;
            }
        };
        let id = push(base_url, &token, sample, body).await?;
        pushed.push((sample.file, id));
    }
    if pushed.iter().any(|(file, _)| file.ends_with(".mp3")) {
        eprintln!(
            "demo: transcribing the sample recording (the first run downloads the speech models, about 220 MB)"
        );
    }
    for (file, id) in &pushed {
        let rec = wait_processed(store, id).await?;
        println!("{}", describe(store, file, &rec).await?);
    }
    println!("sign in at {base_url}/login");
    println!("  email:    {ADMIN_EMAIL}");
    println!("  password: {password}");
    println!("API description: {base_url}/api/v1/openapi.json");
    Ok(())
}

/// Pushes one sample like a recorder would; returns the recording's id.
async fn push(
    base_url: &str,
    token: &str,
    sample: &Sample,
    body: Vec<u8>,
) -> anyhow::Result<String> {
    let url = format!("{base_url}/api/v1/recordings");
    let request = ureq::post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", sample.content_type)
        .header("Idempotency-Key", &format!("demo-{}", sample.file))
        .header("X-Customer-Phone", sample.customer_phone)
        .header("X-Customer-Name", sample.customer_name);
    let file = sample.file;
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut response = request
            .send(&body[..])
            .with_context(|| format!("cannot push {file} to {url}"))?;
        let receipt: serde_json::Value = response
            .body_mut()
            .read_json()
            .with_context(|| format!("the push of {file} got no receipt"))?;
        receipt["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the push of {file} got no id: {receipt}"))
    })
    .await?
}

async fn wait_processed(store: &Store, id: &str) -> anyhow::Result<Recording> {
    loop {
        let rec = store
            .recording(id)
            .await?
            .with_context(|| format!("recording {id} vanished"))?;
        if matches!(rec.status, Status::Done | Status::Failed) {
            return Ok(rec);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One line per sample: its recording, its outcome, and its customer's priority.
async fn describe(store: &Store, file: &str, rec: &Recording) -> anyhow::Result<String> {
    if rec.status == Status::Failed {
        return Ok(format!(
            "demo: recording {} ({file}) failed: {}",
            rec.id,
            rec.error.as_deref().unwrap_or("no reason given")
        ));
    }
    let mut line = format!("demo: recording {} ({file}) done", rec.id);
    if let Some(customer) = &rec.customer_id {
        line.push_str(&format!(", customer {customer}"));
        if let Some(c) = store.customer(customer).await? {
            if let (Some(score), Some(tier)) = (c.priority_score, &c.tier) {
                line.push_str(&format!(", priority {score} ({tier})"));
            }
            if let Some(action) = &c.next_action {
                line.push_str(&format!(", next: {action}"));
            }
        }
    }
    Ok(line)
}

/// 16 random characters from an alphabet without look-alikes (no 0/O, 1/l/I).
fn random_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    // 256 is not a multiple of 56: a negligible bias for a demo password.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}
