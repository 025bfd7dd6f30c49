//! Durable jobs on the real databases: claims never overlap, a lost lease cannot commit, and a
//! worker process killed mid-job has its job finished exactly once by another after the lease
//! expires. Each scenario runs on SQLite, and on PostgreSQL when configured (always in CI).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::service::*;
use dealerscope::store::accounts::Principal;
use dealerscope::store::recordings::NewRecording;
use dealerscope::store::{Location, Store};

on_both_databases!(
    concurrent_claims_never_share_a_job,
    a_lost_lease_cannot_commit,
    two_worker_processes_process_each_recording_once,
    killed_worker_job_finishes_exactly_once_after_lease_expiry,
);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

async fn open(data: &Data) -> Store {
    let location = Location {
        data_dir: data.dir.path().to_path_buf(),
        database_url: match &data.db {
            Db::Sqlite => None,
            Db::Postgres(url) => Some(url.clone()),
        },
        object_store: None,
    };
    Store::open(&location).await.expect("store opens")
}

/// Records `n` recordings (bodies are not needed to claim jobs) pushed by a fresh device.
async fn queue_recordings(store: &Store, n: usize) -> Vec<String> {
    let dealership = store.create_dealership("Claims Motors").await.unwrap();
    let (device, _token) = store
        .create_device(&dealership, "bench", None)
        .await
        .unwrap();
    let by = Principal::Device {
        id: device,
        dealership_id: dealership,
        salesperson_id: None,
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let new = NewRecording {
            id: dealerscope::store::new_id("rec"),
            idempotency_key: Some(format!("k{i}")),
            sha256: "0".repeat(64),
            size: 1,
            content_type: "text/plain".into(),
            object_key: format!("recordings/none/{i}"),
            recorded_at: chrono::Utc::now(),
            customer: Default::default(),
        };
        store.insert_recording(&by, &new).await.unwrap();
        ids.push(new.id);
    }
    ids
}

fn concurrent_claims_never_share_a_job(db: Db) {
    let data = Data::new(db);
    runtime().block_on(async {
        let store = open(&data).await;
        let ids = queue_recordings(&store, 60).await;
        let claimers = (0..6).map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(lease) = store
                    .claim_job(&format!("claimer-{n}"), Duration::from_secs(600))
                    .await
                    .expect("claim")
                {
                    mine.push(lease.recording_id);
                }
                mine
            })
        });
        let mut all = Vec::new();
        for c in claimers.collect::<Vec<_>>() {
            all.extend(c.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().cloned().collect();
        assert_eq!(all.len(), unique.len(), "a job was claimed twice");
        assert_eq!(unique, ids.into_iter().collect::<HashSet<_>>());
    });
}

fn a_lost_lease_cannot_commit(db: Db) {
    let data = Data::new(db);
    let config = dealerscope::config::PipelineConfig::load(&common::pipeline_path()).unwrap();
    // A real analysis (completing a job rebuilds its customer's profile from it), marked by its
    // duration to tell the attempts apart.
    let analysis = |marker: f64| {
        let mut doc = common::analyze_json(&common::root().join("samples/visit-en.txt"));
        doc["duration_s"] = serde_json::json!(marker);
        doc.to_string()
    };
    runtime().block_on(async {
        let store = open(&data).await;
        let ids = queue_recordings(&store, 1).await;
        let first = store
            .claim_job("slow", Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The first lease expired: another worker takes the job over.
        let second = store
            .claim_job("fresh", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.job_id, first.job_id);
        assert_eq!(second.attempt, 2);
        assert!(!store
            .heartbeat(&first, Duration::from_secs(60))
            .await
            .unwrap());
        assert!(!store
            .complete_job(&first, &analysis(1.0), &config)
            .await
            .unwrap());
        assert!(!store.fail_job(&first, "late failure", false).await.unwrap());
        assert!(store
            .complete_job(&second, &analysis(2.0), &config)
            .await
            .unwrap());
        // Done is final: even the holder cannot write twice.
        assert!(!store
            .complete_job(&second, &analysis(3.0), &config)
            .await
            .unwrap());
        let rec = store.recording(&ids[0]).await.unwrap().unwrap();
        assert_eq!(rec.analysis.unwrap()["duration_s"], 2.0);
        assert!(rec.error.is_none());
    });
}

fn two_worker_processes_process_each_recording_once(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let body = std::fs::read(common::root().join("samples/visit-en.txt")).unwrap();
    let ids: Vec<String> = (0..12)
        .map(|i| {
            let key = format!("k{i}");
            let r = push(
                &server,
                Some(&t.device_token),
                &[("Content-Type", "text/plain"), ("Idempotency-Key", &key)],
                &body,
            );
            assert_eq!(r.status, 202);
            r.json["id"].as_str().unwrap().to_string()
        })
        .collect();
    let _workers: Vec<_> = (0..2)
        .map(|_| Running(data.spawn(&["worker", "--workers", "2"])))
        .collect();
    let manager = login(&server, &t.manager_email);
    for id in &ids {
        let done = wait_finished(&server, &manager, id, Duration::from_secs(120));
        assert_eq!(done["status"], "done", "{done}");
    }
    // Every job was claimed exactly once (a second claim would have counted a second attempt).
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM jobs WHERE attempts <> 1")
            .unwrap(),
        "0"
    );
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .unwrap(),
        "12"
    );
}

/// A two-voice dialogue: loading the model and transcribing take long enough that the
/// worker is still at it when killed.
fn dialogue_audio() -> Vec<u8> {
    std::fs::read(common::root().join("tests/fixtures/audio/dialogue-en.mp3")).unwrap()
}

fn killed_worker_job_finishes_exactly_once_after_lease_expiry(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let r = push(
        &server,
        Some(&t.device_token),
        &[("Content-Type", "audio/mpeg")],
        &dialogue_audio(),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let worker_args = [
        "worker",
        "--workers",
        "1",
        "--lease-secs",
        "3",
        "--model",
        "tiny.en",
    ];

    let mut doomed = Running(data.spawn(&worker_args));
    let owner = format!("{}-0", doomed.0.id());
    let started = Instant::now();
    loop {
        let holder = data.query_one(&format!(
            "SELECT lease_owner FROM jobs WHERE recording_id = '{id}' AND status = 'running'"
        ));
        if holder.as_deref() == Some(owner.as_str()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the worker never claimed the job"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL while it holds the lease: no clean-up, no chance to release anything.
    doomed.0.kill().unwrap();
    doomed.0.wait().unwrap();
    let status = data
        .query_one(&format!("SELECT status FROM recordings WHERE id = '{id}'"))
        .unwrap();
    assert_eq!(
        status, "processing",
        "the worker finished before it could be killed"
    );

    let rescuer = Running(data.spawn(&worker_args));
    let manager = login(&server, &t.manager_email);
    let done = wait_finished(&server, &manager, &id, Duration::from_secs(900));
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["analysis"]["segments"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    // Exactly two claims (the killed one and the rescue) and one result, by the rescuer.
    assert_eq!(done["attempts"], 2);
    assert_eq!(
        data.query_one(&format!(
            "SELECT lease_owner FROM jobs WHERE recording_id = '{id}'"
        )),
        Some(format!("{}-0", rescuer.0.id()))
    );
}
