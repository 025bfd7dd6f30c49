//! Running the service: the OpenAPI description, health and Prometheus metrics, and the audio
//! retention period, against the real server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::service::*;

on_both_databases!(
    the_openapi_document_describes_every_api_route,
    metrics_count_requests_jobs_and_failures,
    audio_past_retention_is_deleted_and_the_analysis_kept,
);

fn transcript() -> Vec<u8> {
    std::fs::read(common::root().join("samples/visit-en.txt")).unwrap()
}

const TEXT: (&str, &str) = ("Content-Type", "text/plain; charset=utf-8");

/// `/api/v1/customers/{id}` and `/api/v1/uploads/{}` alike: parameters named or not.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every `/api/v1/...` path written in the web layer's source: routes registered anywhere
/// (the pages' module too) must be in the document.
fn api_paths_in_source() -> BTreeSet<String> {
    fn walk(dir: &std::path::Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("\"/api/v1/").skip(1) {
                    let end = piece.find('"').unwrap_or(piece.len());
                    out.insert(shape(&format!("/api/v1/{}", &piece[..end])));
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&common::root().join("src/web"), &mut out);
    out.remove("/api/v1/openapi.json");
    // A prefix test, not a route.
    out.remove("/api/v1/");
    out
}

fn the_openapi_document_describes_every_api_route(db: Db) {
    let data = Data::new(db);
    let server = Server::start(&data, &["--workers", "0"]);
    let doc = get(&server.url("/api/v1/openapi.json"), None);
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.json["paths"].as_object().expect("paths");
    let documented: BTreeMap<String, BTreeSet<String>> = paths
        .iter()
        .map(|(path, ops)| {
            let methods = ops
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    ["get", "post", "put", "patch", "delete", "head", "options"]
                        .contains(&k.as_str())
                })
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect();
    // The contract's routes, with their methods.
    let expected = [
        ("/api/v1/sessions", &["post"][..]),
        ("/api/v1/recordings", &["post"]),
        ("/api/v1/recordings/{id}", &["get"]),
        ("/api/v1/customers", &["get"]),
        ("/api/v1/customers/{id}", &["delete", "get"]),
        ("/api/v1/customers/{id}/outcome", &["post"]),
        ("/api/v1/customers/{id}/merge", &["post"]),
        ("/api/v1/follow-ups", &["get"]),
        ("/api/v1/forecast", &["get"]),
        ("/api/v1/uploads", &["options", "post"]),
        ("/api/v1/uploads/{id}", &["delete", "get", "head", "patch"]),
    ];
    for (path, methods) in expected {
        let found = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for m in methods {
            assert!(found.contains(*m), "{m} {path} is not documented");
        }
    }
    // Nothing registered under /api/v1 is left out of the document.
    let shapes: BTreeSet<String> = documented.keys().map(|p| shape(p)).collect();
    for path in api_paths_in_source() {
        assert!(
            shapes.contains(&path),
            "{path} appears in src/web but not in the OpenAPI document: register it through the \
             documented API router (src/web/api.rs)"
        );
    }
    // Every documented operation exists on the server: without credentials it is refused,
    // never unrouted.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (path, methods) in &documented {
        let url = server.url(&path.replace("{id}", "x"));
        for method in methods {
            let response = agent
                .run(
                    ureq::http::Request::builder()
                        .method(method.to_uppercase().as_str())
                        .uri(&url)
                        .body(())
                        .unwrap(),
                )
                .unwrap();
            let status = response.status().as_u16();
            assert!(
                status != 404 && status != 405,
                "{method} {path} is documented but answers {status}"
            );
        }
    }
    // Bearer tokens are the documented way in.
    assert!(doc.json["components"]["securitySchemes"]["bearer"].is_object());
}

/// `name{labels} value` lines of the Prometheus text format.
struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    fn parse(text: &str) -> Samples {
        let mut out = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            out.push((name.to_string(), labels, value.parse().expect("a number")));
        }
        Samples(out)
    }

    /// The value of the one series of `name` carrying these labels (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .0
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect();
        assert!(
            matching.len() <= 1,
            "{name} {labels:?} matches several series"
        );
        matching.first().copied().unwrap_or(0.0)
    }
}

fn metrics(server: &Server) -> Samples {
    let mut response = ureq::get(&server.url("/metrics")).call().unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Samples::parse(&response.body_mut().read_to_string().unwrap())
}

fn metrics_count_requests_jobs_and_failures(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    assert_eq!(get(&server.url("/healthz"), None).status, 200);
    assert_eq!(get(&server.url("/readyz"), None).status, 200);

    let good = push(&server, Some(&t.device_token), &[TEXT], &transcript());
    let bad = push(
        &server,
        Some(&t.device_token),
        &[("Content-Type", "audio/mpeg")],
        b"this is not an mp3 at all",
    );
    assert_eq!((good.status, bad.status), (202, 202));
    let manager = login(&server, &t.manager_email);
    for r in [&good, &bad] {
        wait_finished(
            &server,
            &manager,
            r.json["id"].as_str().unwrap(),
            Duration::from_secs(60),
        );
    }
    assert_eq!(
        get(&server.url("/api/v1/customers/nobody"), Some(&manager)).status,
        404
    );

    let m = metrics(&server);
    assert_eq!(m.value("dealerscope_jobs", &[("status", "done")]), 1.0);
    assert_eq!(m.value("dealerscope_jobs", &[("status", "failed")]), 1.0);
    assert_eq!(m.value("dealerscope_jobs", &[("status", "queued")]), 0.0);
    assert_eq!(m.value("dealerscope_jobs", &[("status", "running")]), 0.0);
    assert_eq!(
        m.value(
            "dealerscope_job_duration_seconds_count",
            &[("outcome", "done")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "dealerscope_job_duration_seconds_count",
            &[("outcome", "failed")]
        ),
        1.0
    );
    assert!(
        m.value(
            "dealerscope_job_duration_seconds_bucket",
            &[("outcome", "done"), ("le", "+Inf")]
        ) == 1.0
    );
    assert_eq!(
        m.value("dealerscope_job_failures_total", &[("retried", "false")]),
        1.0
    );
    let pushes = [
        ("method", "POST"),
        ("route", "/api/v1/recordings"),
        ("status", "202"),
    ];
    assert_eq!(m.value("dealerscope_http_requests_total", &pushes), 2.0);
    // By route template, not by id.
    assert_eq!(
        m.value(
            "dealerscope_http_requests_total",
            &[("route", "/api/v1/customers/{id}"), ("status", "404")]
        ),
        1.0
    );
    assert!(
        m.value(
            "dealerscope_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/v1/recordings")]
        ) >= 2.0
    );

    // A queued job shows as queued: no worker on this second server.
    drop(server);
    let idle = Server::start(&data, &["--workers", "0"]);
    assert_eq!(
        push(&idle, Some(&t.device_token), &[TEXT], &transcript()).status,
        202
    );
    assert_eq!(
        metrics(&idle).value("dealerscope_jobs", &[("status", "queued")]),
        1.0
    );
}

fn audio_past_retention_is_deleted_and_the_analysis_kept(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(
        &data,
        &[
            "--audio-retention-days",
            "30",
            "--retention-sweep-secs",
            "1",
        ],
    );
    let recorded =
        |days_ago: i64| (chrono::Utc::now() - chrono::TimeDelta::days(days_ago)).to_rfc3339();
    let (old_at, new_at) = (recorded(40), recorded(1));
    let old = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("X-Recorded-At", &old_at),
            ("X-Customer-Phone", "+1 415 555 0101"),
        ],
        &transcript(),
    );
    let new = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("X-Recorded-At", &new_at),
            ("X-Customer-Phone", "+1 415 555 0102"),
        ],
        &transcript(),
    );
    let manager = login(&server, &t.manager_email);
    let (old_id, new_id) = (
        old.json["id"].as_str().unwrap(),
        new.json["id"].as_str().unwrap(),
    );
    let before = wait_finished(&server, &manager, old_id, Duration::from_secs(60));
    wait_finished(&server, &manager, new_id, Duration::from_secs(60));

    let started = Instant::now();
    let expired = loop {
        let r = get(
            &server.url(&format!("/api/v1/recordings/{old_id}")),
            Some(&manager),
        );
        if r.json["audio"] == "expired" {
            break r.json;
        }
        assert_eq!(r.json["audio"], "stored");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the audio never expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The analysis stays; the audio is gone from the store.
    assert_eq!(expired["status"], "done");
    assert_eq!(expired["analysis"], before["analysis"]);
    assert!(expired["audio_expired_at"].is_string());
    // Another sweep later, the recent recording keeps its audio.
    std::thread::sleep(Duration::from_millis(2500));
    let recent = get(
        &server.url(&format!("/api/v1/recordings/{new_id}")),
        Some(&manager),
    );
    assert_eq!(recent.json["audio"], "stored");
    assert!(recent.json["audio_expired_at"].is_null());
    assert_eq!(data.audio_files().len(), 1);
    // The customer's profile is still built from the expired recording's analysis.
    let customer = expired["customer_id"].as_str().unwrap();
    let profile = get(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&manager),
    );
    assert_eq!(profile.status, 200);
    assert!(
        !profile.json["tags"].as_array().unwrap().is_empty(),
        "{}",
        profile.json
    );
}
