//! `dealerscope demo`, the README's first command: it must come up with an admin it names and
//! the sample recordings processed (the English one transcribed from audio by the real model),
//! and a second start must reuse the data rather than duplicate it.

mod common;

use std::io::{BufRead as _, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::service::*;

on_both_databases!(demo_serves_the_processed_samples_and_names_its_sign_in);

/// What the demo printed before serving.
struct Demo {
    server: Server,
    /// `(recording id, sample file)` per "demo: recording ..." line.
    recordings: Vec<(String, String)>,
    email: String,
    password: String,
    sign_in_url: String,
}

fn start_demo(data: &Data) -> Demo {
    // tiny.en keeps the test quick; the product's default is the pipeline's model (base).
    let mut child = data.spawn(&["demo", "--listen", "127.0.0.1:0", "--model", "tiny.en"]);
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first start may have to fetch models into $DEALERSCOPE_MODELS.
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(900))
            .expect("the demo prints its sign-in before serving")
    };
    let first = next();
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    let (mut recordings, mut email, mut password, mut sign_in_url) = (Vec::new(), None, None, None);
    while password.is_none() {
        let line = next();
        if let Some(rest) = line.strip_prefix("demo: recording ") {
            let (id, rest) = rest.split_once(' ').unwrap();
            let file = rest
                .strip_prefix('(')
                .and_then(|r| r.split_once(')'))
                .unwrap()
                .0;
            assert!(
                rest.contains(") done"),
                "a sample was not processed: {line}"
            );
            recordings.push((id.to_string(), file.to_string()));
        } else if let Some(url) = line.strip_prefix("sign in at ") {
            sign_in_url = Some(url.to_string());
        } else if let Some(e) = line.trim().strip_prefix("email:") {
            email = Some(e.trim().to_string());
        } else if let Some(p) = line.trim().strip_prefix("password:") {
            password = Some(p.trim().to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Demo {
        server: Server {
            child,
            base: format!("http://{addr}"),
            addr,
        },
        recordings,
        email: email.expect("an email line"),
        password: password.unwrap(),
        sign_in_url: sign_in_url.expect("a sign-in line"),
    }
}

fn sign_in(demo: &Demo, password: &str) -> Reply {
    post_json(
        &demo.server.url("/api/v1/sessions"),
        None,
        &serde_json::json!({ "email": demo.email, "password": password }),
    )
}

fn demo_serves_the_processed_samples_and_names_its_sign_in(db: Db) {
    let data = Data::new(db);
    let demo = start_demo(&data);
    assert_eq!(demo.sign_in_url, demo.server.url("/login"));
    assert_eq!(get(&demo.sign_in_url, None).status, 200);
    let files: Vec<&str> = demo.recordings.iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(files, ["visit-en.mp3", "visit-zh.txt"]);

    let signed_in = sign_in(&demo, &demo.password);
    assert_eq!(signed_in.status, 201, "{:?}", signed_in.json);
    let token = signed_in.json["token"].as_str().unwrap().to_string();

    let mut customers = Vec::new();
    for (id, file) in &demo.recordings {
        let rec = get(
            &demo.server.url(&format!("/api/v1/recordings/{id}")),
            Some(&token),
        );
        assert_eq!(rec.status, 200, "{:?}", rec.json);
        assert_eq!(rec.json["status"], "done", "{file}: {}", rec.json);
        let segments = rec.json["analysis"]["segments"].as_array().unwrap();
        assert!(segments.len() >= 4, "{file}: {segments:?}");
        customers.push(rec.json["customer_id"].as_str().unwrap().to_string());
    }
    // The English sample is audio: the analysis came from transcribing it.
    let en = get(
        &demo
            .server
            .url(&format!("/api/v1/recordings/{}", demo.recordings[0].0)),
        Some(&token),
    );
    assert_eq!(en.json["content_type"], "audio/mpeg");
    assert_eq!(en.json["analysis"]["language"], "en");
    assert!(en.json["analysis"]["duration_s"].as_f64().unwrap() > 5.0);
    // Each sample made its customer, whose profile the admin can open.
    assert_ne!(customers[0], customers[1]);
    for customer in &customers {
        let profile = get(
            &demo.server.url(&format!("/api/v1/customers/{customer}")),
            Some(&token),
        );
        assert_eq!(profile.status, 200, "{:?}", profile.json);
        assert!(
            profile.json["priority"]["tier"].is_string(),
            "{}",
            profile.json
        );
    }
    let listed = get(&demo.server.url("/api/v1/customers"), Some(&token));
    assert_eq!(listed.json["customers"].as_array().unwrap().len(), 2);
    let first_password = demo.password.clone();
    let first_recordings = demo.recordings.clone();
    drop(demo);

    // A second start reuses the dealership, the admin and the recordings, with a new password.
    let again = start_demo(&data);
    assert_eq!(again.recordings, first_recordings);
    assert_ne!(again.password, first_password);
    assert_eq!(sign_in(&again, &first_password).status, 401);
    let token = sign_in(&again, &again.password).json["token"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = get(&again.server.url("/api/v1/customers"), Some(&token));
    assert_eq!(listed.json["customers"].as_array().unwrap().len(), 2);
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM dealerships").unwrap(),
        "1"
    );
}
