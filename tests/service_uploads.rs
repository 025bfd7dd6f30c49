//! Resumable uploads (tus 1.0.0) against the real server: a recording sent in chunks over a
//! connection that drops mid-chunk ends up exactly as one push of the same body would.

mod common;

use std::time::Duration;

use common::service::*;

on_both_databases!(
    an_upload_resumes_after_a_dropped_connection_and_equals_a_push,
    an_upload_is_checked_like_a_push_and_a_bad_one_leaves_nothing,
    an_unfinished_upload_expires_with_its_bytes_and_a_finished_one_stays,
);

fn transcript() -> Vec<u8> {
    std::fs::read(common::root().join("samples/visit-en.txt")).unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Status and the headers a tus client reads.
struct TusReply {
    status: u16,
    offset: Option<u64>,
    location: Option<String>,
    recording: Option<String>,
    /// `Upload-Expires`.
    expires: Option<String>,
    json: serde_json::Value,
}

fn tus_reply(mut r: ureq::http::Response<ureq::Body>) -> TusReply {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (offset, location, recording, expires) = (
        header("upload-offset").map(|o| o.parse().unwrap()),
        header("location"),
        header("x-recording-id"),
        header("upload-expires"),
    );
    assert_eq!(
        header("tus-resumable").as_deref(),
        Some("1.0.0"),
        "every answer names the tus version, errors too"
    );
    let text = r.body_mut().read_to_string().unwrap_or_default();
    TusReply {
        status: r.status().as_u16(),
        offset,
        location,
        recording,
        expires,
        json: serde_json::from_str(&text).unwrap_or_default(),
    }
}

fn create(server: &Server, token: &str, length: usize, headers: &[(&str, &str)]) -> TusReply {
    let mut req = agent()
        .post(&server.url("/api/v1/uploads"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", &length.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    tus_reply(req.send_empty().unwrap())
}

fn patch(server: &Server, token: &str, location: &str, offset: usize, chunk: &[u8]) -> TusReply {
    tus_reply(
        agent()
            .patch(&server.url(location))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", &offset.to_string())
            .send(chunk)
            .unwrap(),
    )
}

fn head(server: &Server, token: &str, location: &str) -> TusReply {
    tus_reply(
        agent()
            .head(&server.url(location))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Tus-Resumable", "1.0.0")
            .call()
            .unwrap(),
    )
}

fn staged_files(data: &Data) -> usize {
    std::fs::read_dir(data.dir.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn an_upload_resumes_after_a_dropped_connection_and_equals_a_push(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &[]);
    let body = transcript();
    let sha = sha256_hex(&body);
    let meta = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Recorded-At", "2026-11-20T10:30:00Z"),
        ("X-Customer-Phone", "+1 415 555 0199"),
        ("X-Content-SHA256", sha.as_str()),
    ];
    let mut upload_meta = meta.to_vec();
    upload_meta.push(("Idempotency-Key", "long-visit-1"));
    let created = create(&server, &t.device_token, body.len(), &upload_meta);
    assert_eq!(created.status, 201, "{:?}", created.json);
    assert_eq!(created.offset, Some(0));
    let location = created.location.expect("a Location");

    let first = patch(&server, &t.device_token, &location, 0, &body[..400]);
    assert_eq!((first.status, first.offset), (204, Some(400)));
    assert!(first.recording.is_none());

    // The Wi-Fi drops 200 bytes into a 400-byte chunk.
    let cut = format!(
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 400\r\nContent-Length: 400",
        t.device_token
    );
    let status = raw_request(&server, &cut, &body[400..600]);
    assert!(status.is_none_or(|s| s >= 400), "{status:?}");
    // The client asks where to go on: what arrived was kept.
    let asked = head(&server, &t.device_token, &location);
    assert_eq!(asked.status, 200);
    assert_eq!(asked.offset, Some(600));
    // Going on from anywhere else is refused with the right offset.
    let stale = patch(&server, &t.device_token, &location, 400, &body[400..800]);
    assert_eq!((stale.status, stale.offset), (409, Some(600)));
    // Another device cannot see the upload.
    let other = data.admin(&[
        "create-device",
        "--dealership",
        &t.dealership,
        "--name",
        "desk 2",
    ]);
    assert_eq!(head(&server, &other, &location).status, 404);

    let last = patch(&server, &t.device_token, &location, 600, &body[600..]);
    assert_eq!(last.status, 204, "{:?}", last.json);
    assert_eq!(last.offset, Some(body.len() as u64));
    let rec_id = last.recording.expect("the last chunk names the recording");
    assert_eq!(staged_files(&data), 0, "the staging file is gone");
    // Asking again (the answer to the last chunk was lost) says it is complete.
    let again = head(&server, &t.device_token, &location);
    assert_eq!(again.offset, Some(body.len() as u64));
    assert_eq!(again.recording.as_deref(), Some(rec_id.as_str()));
    // The same key again is the same recording, like a repeated push.
    let repeated = create(&server, &t.device_token, body.len(), &upload_meta);
    assert_eq!(repeated.status, 200, "{:?}", repeated.json);
    assert_eq!(repeated.json["id"], rec_id.as_str());

    // One push of the same body, for comparison.
    let mut push_headers = meta.to_vec();
    push_headers.push(("Idempotency-Key", "one-push"));
    let pushed = push(&server, Some(&t.device_token), &push_headers, &body);
    assert_eq!(pushed.status, 202, "{:?}", pushed.json);
    let manager = login(&server, &t.manager_email);
    let via_upload = wait_finished(&server, &manager, &rec_id, Duration::from_secs(60));
    let via_push = wait_finished(
        &server,
        &manager,
        pushed.json["id"].as_str().unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(via_upload["status"], "done", "{via_upload}");
    for field in [
        "sha256",
        "size_bytes",
        "content_type",
        "customer_id",
        "recorded_at",
        "analysis",
        "device_id",
    ] {
        assert_eq!(via_upload[field], via_push[field], "{field}");
    }
    assert_eq!(via_upload["sha256"], sha.as_str());
}

fn an_upload_is_checked_like_a_push_and_a_bad_one_leaves_nothing(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0", "--max-upload-mb", "1"]);
    let options = agent()
        .run(
            ureq::http::Request::builder()
                .method("OPTIONS")
                .uri(server.url("/api/v1/uploads"))
                .body(())
                .unwrap(),
        )
        .unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(options.headers()["tus-version"], "1.0.0");
    assert_eq!(
        options.headers()["tus-max-size"],
        (1u64 << 20).to_string().as_str()
    );

    // Beyond the size limit before any byte is sent; no length at all; no token.
    assert_eq!(
        create(&server, &t.device_token, (1 << 20) + 1, &[]).status,
        413
    );
    let no_length = tus_reply(
        agent()
            .post(&server.url("/api/v1/uploads"))
            .header("Authorization", &format!("Bearer {}", t.device_token))
            .send_empty()
            .unwrap(),
    );
    assert_eq!(no_length.status, 400);
    assert_eq!(
        tus_reply(
            agent()
                .post(&server.url("/api/v1/uploads"))
                .header("Upload-Length", "10")
                .send_empty()
                .unwrap()
        )
        .status,
        401
    );

    // A body that does not match its declared checksum is refused at the end, and nothing of
    // it stays: no recording, no audio, no staged bytes, no upload.
    let body = transcript();
    let wrong = sha256_hex(b"something else");
    let created = create(
        &server,
        &t.device_token,
        body.len(),
        &[("Content-Type", "text/plain"), ("X-Content-SHA256", &wrong)],
    );
    assert_eq!(created.status, 201);
    let location = created.location.unwrap();
    assert_eq!(
        patch(&server, &t.device_token, &location, 0, &body[..500]).status,
        204
    );
    // A chunk that would run past the declared length is refused and not kept.
    let mut too_long = body[500..].to_vec();
    too_long.extend_from_slice(b"extra");
    assert_eq!(
        patch(&server, &t.device_token, &location, 500, &too_long).status,
        400
    );
    assert_eq!(head(&server, &t.device_token, &location).offset, Some(500));
    let last = patch(&server, &t.device_token, &location, 500, &body[500..]);
    assert_eq!(last.status, 422, "{:?}", last.json);
    assert_eq!(head(&server, &t.device_token, &location).status, 404);
    assert_eq!(staged_files(&data), 0);
    assert!(data.audio_files().is_empty());
    assert_eq!(
        data.query_one("SELECT COUNT(*) FROM recordings").unwrap(),
        "0"
    );

    // Abandoning an upload (tus termination) drops its bytes.
    let created = create(
        &server,
        &t.device_token,
        body.len(),
        &[("Content-Type", "text/plain")],
    );
    let location = created.location.unwrap();
    assert_eq!(
        patch(&server, &t.device_token, &location, 0, &body[..100]).status,
        204
    );
    assert_eq!(staged_files(&data), 1);
    let deleted = agent()
        .delete(&server.url(&location))
        .header("Authorization", &format!("Bearer {}", t.device_token))
        .header("Tus-Resumable", "1.0.0")
        .call()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(staged_files(&data), 0);
    assert_eq!(head(&server, &t.device_token, &location).status, 404);
}

/// A recorder that gives up halfway leaves nothing behind once the upload expires; an upload
/// that finished is kept as the record of its recording.
fn an_unfinished_upload_expires_with_its_bytes_and_a_finished_one_stays(db: Db) {
    let data = Data::new(db);
    let t = data.tenant("North Motors");
    let server = Server::start(&data, &["--workers", "0", "--upload-expiry-secs", "3"]);
    let options = agent()
        .run(
            ureq::http::Request::builder()
                .method("OPTIONS")
                .uri(server.url("/api/v1/uploads"))
                .body(())
                .unwrap(),
        )
        .unwrap();
    let extensions = options.headers()["tus-extension"].to_str().unwrap();
    assert!(
        extensions.split(',').any(|e| e == "expiration"),
        "{extensions}"
    );

    let body = transcript();
    let started = chrono::Utc::now();
    let abandoned = create(
        &server,
        &t.device_token,
        body.len(),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(abandoned.status, 201);
    let expires = abandoned.expires.expect("Upload-Expires on creation");
    let expires = chrono::NaiveDateTime::parse_from_str(&expires, "%a, %d %b %Y %H:%M:%S GMT")
        .unwrap_or_else(|e| panic!("{expires}: {e}"))
        .and_utc();
    let ahead = (expires - started).num_seconds();
    assert!((2..=4).contains(&ahead), "expires {ahead} s after creation");
    let abandoned = abandoned.location.unwrap();
    let half = patch(&server, &t.device_token, &abandoned, 0, &body[..300]);
    assert_eq!(half.status, 204);
    assert!(half.expires.is_some(), "a PATCH names the expiry too");

    let finished = create(
        &server,
        &t.device_token,
        body.len(),
        &[("Content-Type", "text/plain")],
    );
    let finished = finished.location.unwrap();
    let whole = patch(&server, &t.device_token, &finished, 0, &body);
    let recording = whole.recording.expect("recorded");
    assert!(whole.expires.is_none(), "a finished upload does not expire");
    assert_eq!(staged_files(&data), 1);

    // After the expiry the unfinished upload is gone, its staged bytes deleted by the upkeep.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while staged_files(&data) > 0 || head(&server, &t.device_token, &abandoned).status != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the unfinished upload was not expired"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let resumed = patch(&server, &t.device_token, &abandoned, 300, &body[300..]);
    assert_eq!(resumed.status, 404);
    let kept = head(&server, &t.device_token, &finished);
    assert_eq!(kept.status, 200);
    assert_eq!(kept.recording.as_deref(), Some(recording.as_str()));
}
