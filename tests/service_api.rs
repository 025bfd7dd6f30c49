//! The service end to end: the real binary serving on a random port over a fresh database.
//! Every scenario runs on SQLite, and on PostgreSQL when `DEALERSCOPE_TEST_POSTGRES_URL`
//! is set (always under CI).

mod common;

use std::time::Duration;

use common::service::*;

on_both_databases!(
    device_push_is_processed_into_the_analyze_json,
    duplicate_push_returns_the_same_recording,
    truncated_upload_leaves_nothing_behind,
    checksum_mismatch_leaves_nothing_behind,
    oversized_upload_is_refused,
    wrong_and_revoked_tokens_are_refused,
    other_dealerships_recordings_do_not_exist,
    salespeople_see_only_their_own_recordings,
    undecodable_audio_is_stored_and_fails_with_a_reason,
);

fn transcript() -> Vec<u8> {
    std::fs::read(common::root().join("samples/visit-en.txt")).unwrap()
}

const TEXT: (&str, &str) = ("Content-Type", "text/plain; charset=utf-8");

fn device_push_is_processed_into_the_analyze_json(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let body = transcript();
    let sha = sha256_hex(&body);
    let r = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("Idempotency-Key", "rec-0001"),
            ("X-Recorded-At", "2026-11-20T10:30:00Z"),
            ("X-Customer-Phone", "+86 138 0013 8000"),
            ("X-Content-SHA256", &sha),
        ],
        &body,
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.json["status"], "queued");
    let id = r.json["id"].as_str().unwrap().to_string();
    let manager = login(&server, &t.manager_email);
    let done = wait_finished(&server, &manager, &id, Duration::from_secs(60));
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["error"].is_null());
    assert!(done["customer_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("cus_")));
    // The stored analysis is the document `analyze --json` prints for the same transcript
    // on the same day.
    let (_dir, path) = common::write_temp("visit.txt", &body);
    assert_eq!(done["analysis"], common::analyze_json(&path));
    // The audio (here the transcript body) is kept, with its checksum.
    assert_eq!(done["sha256"], sha);
    assert_eq!(data.audio_files().len(), 1);
    // The read was audited.
    let reads = data
        .query_one(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE subject_id = '{id}' AND action = 'read'"
        ))
        .unwrap();
    assert_ne!(reads, "0");
}

fn duplicate_push_returns_the_same_recording(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let headers = [TEXT, ("Idempotency-Key", "device-rec-7")];
    let first = push(&server, Some(&t.device_token), &headers, &transcript());
    assert_eq!(first.status, 202, "{:?}", first.json);
    let again = push(&server, Some(&t.device_token), &headers, &transcript());
    assert_eq!(again.status, 200, "{:?}", again.json);
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "1"
    );
    assert_eq!(data.query_one("SELECT COUNT(*) FROM jobs").unwrap(), "1");
    assert_eq!(data.audio_files().len(), 1);
    // Another source may use the same key for a different recording.
    let manager = login(&server, &t.manager_email);
    let other = push(&server, Some(&manager), &headers, &transcript());
    assert_eq!(other.status, 202);
    assert_ne!(other.json["id"], first.json["id"]);
}

/// Waits for upload clean-up (it runs when the request's task ends) and checks nothing is left.
fn assert_no_upload_left(data: &Data) {
    for _ in 0..50 {
        if data.audio_files().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(data.audio_files(), Vec::<std::path::PathBuf>::new());
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "0"
    );
    assert_eq!(data.query_one("SELECT COUNT(*) FROM jobs").unwrap(), "0");
}

fn truncated_upload_leaves_nothing_behind(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let head = format!(
        "POST /api/v1/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: audio/mpeg\r\nIdempotency-Key: cut-1\r\nContent-Length: 500000",
        t.device_token
    );
    let status = raw_request(&server, &head, &[7u8; 120_000]);
    assert!(
        status.is_none_or(|s| s >= 400),
        "a truncated upload was accepted: {status:?}"
    );
    assert_no_upload_left(&data);
    // The key is free: the complete upload is a new recording.
    let full = push(
        &server,
        Some(&t.device_token),
        &[TEXT, ("Idempotency-Key", "cut-1")],
        &transcript(),
    );
    assert_eq!(full.status, 202, "{:?}", full.json);
}

fn checksum_mismatch_leaves_nothing_behind(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let body = transcript();
    let wrong = sha256_hex(b"something else");
    let r = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("Idempotency-Key", "sum-1"),
            ("X-Content-SHA256", &wrong),
        ],
        &body,
    );
    assert_eq!(r.status, 422, "{:?}", r.json);
    assert!(r.json["error"].as_str().unwrap().contains("SHA-256"));
    assert_no_upload_left(&data);
    let right = sha256_hex(&body);
    let r = push(
        &server,
        Some(&t.device_token),
        &[
            TEXT,
            ("Idempotency-Key", "sum-1"),
            ("X-Content-SHA256", &right),
        ],
        &body,
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
}

fn oversized_upload_is_refused(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0", "--max-upload-mb", "1"]);
    // Declared too large: refused before the body is read.
    let head = format!(
        "POST /api/v1/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: audio/wav\r\nContent-Length: 5000000",
        t.device_token
    );
    assert_eq!(raw_request(&server, &head, b""), Some(413));
    // Chunked, so the size is only known while streaming.
    let chunk = vec![1u8; 256 * 1024];
    let mut body = Vec::new();
    for _ in 0..8 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /api/v1/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: audio/wav\r\nTransfer-Encoding: chunked",
        t.device_token
    );
    assert_eq!(raw_request(&server, &head, &body), Some(413));
    assert_no_upload_left(&data);
}

fn wrong_and_revoked_tokens_are_refused(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let body = transcript();
    assert_eq!(push(&server, None, &[TEXT], &body).status, 401);
    assert_eq!(
        push(&server, Some("dsd_not-a-token"), &[TEXT], &body).status,
        401
    );
    let ok = push(&server, Some(&t.device_token), &[TEXT], &body);
    assert_eq!(ok.status, 202);
    let id = ok.json["id"].as_str().unwrap();
    assert_eq!(
        get(&server.url(&format!("/api/v1/recordings/{id}")), None).status,
        401
    );
    let wrong_password = post_json(
        &server.url("/api/v1/sessions"),
        None,
        &serde_json::json!({ "email": t.manager_email, "password": "not the password" }),
    );
    assert_eq!(wrong_password.status, 401);
    data.admin(&["revoke-device", &t.device_id]);
    assert_eq!(
        push(&server, Some(&t.device_token), &[TEXT], &body).status,
        401
    );
    assert_eq!(
        get(
            &server.url(&format!("/api/v1/recordings/{id}")),
            Some(&t.device_token)
        )
        .status,
        401
    );
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "1"
    );
}

fn other_dealerships_recordings_do_not_exist(db: Db) {
    let data = Data::new(db);
    let north = data.tenant("North Motors");
    let south = data.tenant("South Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    let r = push(&server, Some(&north.device_token), &[TEXT], &transcript());
    let id = r.json["id"].as_str().unwrap();
    let url = server.url(&format!("/api/v1/recordings/{id}"));
    let north_manager = login(&server, &north.manager_email);
    assert_eq!(get(&url, Some(&north_manager)).status, 200);
    for token in [
        login(&server, &south.manager_email),
        south.device_token.clone(),
    ] {
        let denied = get(&url, Some(&token));
        assert!(matches!(denied.status, 403 | 404), "{denied:?}");
        assert!(denied.json.get("status").is_none(), "leaked: {denied:?}");
    }
    // The other dealership's customer ids are not theirs to attach recordings to either.
    let customer = r.json["customer_id"].as_str().unwrap();
    let south_push = push(
        &server,
        Some(&south.device_token),
        &[TEXT, ("X-Customer-Id", customer)],
        &transcript(),
    );
    assert_eq!(south_push.status, 202);
    assert_ne!(south_push.json["customer_id"].as_str(), Some(customer));
}

fn salespeople_see_only_their_own_recordings(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0"]);
    // The device is bound to salesperson A.
    let r = push(&server, Some(&t.device_token), &[TEXT], &transcript());
    let url = server.url(&format!(
        "/api/v1/recordings/{}",
        r.json["id"].as_str().unwrap()
    ));
    let a = login(&server, &t.sales_a_email);
    let b = login(&server, &t.sales_b_email);
    assert_eq!(get(&url, Some(&a)).status, 200);
    assert_eq!(get(&url, Some(&b)).status, 404);
    // B's own upload is B's.
    let mine = push(&server, Some(&b), &[TEXT], &transcript());
    let mine_url = server.url(&format!(
        "/api/v1/recordings/{}",
        mine.json["id"].as_str().unwrap()
    ));
    assert_eq!(get(&mine_url, Some(&b)).status, 200);
    assert_eq!(get(&mine_url, Some(&a)).status, 404);
}

fn undecodable_audio_is_stored_and_fails_with_a_reason(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let r = push(
        &server,
        Some(&t.device_token),
        &[("Content-Type", "audio/mpeg")],
        b"this is not an mp3 at all, just bytes",
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap();
    let manager = login(&server, &t.manager_email);
    let done = wait_finished(&server, &manager, id, Duration::from_secs(60));
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap();
    assert!(!error.is_empty());
    assert!(done.get("analysis").is_none());
    // Stored all the same.
    assert_eq!(data.audio_files().len(), 1);
    // A bad recording is not retried.
    assert_eq!(done["attempts"], 1);
}
