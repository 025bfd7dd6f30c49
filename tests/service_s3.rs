//! Audio in an S3-compatible bucket (`--object-store s3://...`) instead of the data directory:
//! the same pushes, uploads, processing and deletion against a real S3 API, moto's server
//! (installed from PyPI into `target/` on first use; CI has PyPI, so a failed install fails
//! the test there rather than skipping it).

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::service::*;

on_both_databases!(audio_lives_in_the_bucket_and_nothing_is_left_behind);

const MOTO: &str = "moto[server]==5.2.5";
const BUCKET: &str = "showroom-audio";

/// moto's server script, installed once into a virtual environment under target/.
fn moto_server_bin() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto");
    let bin = venv.join("bin/moto_server");
    if !bin.is_file() {
        let run = |cmd: &mut Command| {
            let status = cmd.status().expect("python3 runs");
            assert!(status.success(), "installing {MOTO} failed: {cmd:?}");
        };
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", MOTO]));
    }
    bin
}

/// A moto S3 server on a free loopback port with one empty bucket, stopped when dropped.
struct S3 {
    child: Child,
    endpoint: String,
}

impl S3 {
    fn start() -> S3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto_server_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let s3 = S3 {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        // moto accepts unsigned requests: the bucket is made with a plain PUT.
        while ureq::put(&format!("{}/{BUCKET}", s3.endpoint))
            .send_empty()
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        s3
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The bucket's listing (keys), or its unfinished multipart uploads with `?uploads`.
    fn list(&self, query: &str) -> String {
        ureq::get(&format!("{}/{BUCKET}?{query}", self.endpoint))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    fn keys(&self) -> Vec<String> {
        self.list("list-type=2")
            .split("<Key>")
            .skip(1)
            .map(|k| k.split("</Key>").next().unwrap().to_string())
            .collect()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn audio_lives_in_the_bucket_and_nothing_is_left_behind(db: Db) {
    let s3 = S3::start();
    let mut data = Data::new(db);
    data.env = s3.env();
    let t = data.tenant("North Motors");
    let store = format!("s3://{BUCKET}/dealerscope");
    let server = Server::start(&data, &["--object-store", &store]);
    let body = std::fs::read(common::root().join("samples/visit-en.txt")).unwrap();
    let text = ("Content-Type", "text/plain; charset=utf-8");
    let pushed = push(
        &server,
        Some(&t.device_token),
        &[text, ("X-Customer-Phone", "+1 415 555 0142")],
        &body,
    );
    assert_eq!(pushed.status, 202, "{:?}", pushed.json);
    let manager = login(&server, &t.manager_email);
    let id = pushed.json["id"].as_str().unwrap();
    let done = wait_finished(&server, &manager, id, Duration::from_secs(60));
    // The worker read the body back from the bucket.
    assert_eq!(done["status"], "done", "{done}");
    let keys = s3.keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with(&format!("dealerscope/recordings/{}/", t.dealership)),
        "{keys:?}"
    );
    assert!(
        data.audio_files().is_empty(),
        "nothing in the data directory"
    );

    // A refused body leaves neither an object nor an unfinished multipart upload.
    let wrong = push(
        &server,
        Some(&t.device_token),
        &[text, ("X-Content-SHA256", &sha256_hex(b"other"))],
        &body,
    );
    assert_eq!(wrong.status, 422);
    assert_eq!(s3.keys().len(), 1);
    assert!(
        !s3.list("uploads").contains("<Upload>"),
        "{}",
        s3.list("uploads")
    );

    // Deleting the customer deletes their audio from the bucket.
    let customer = done["customer_id"].as_str().unwrap();
    let deleted = delete(
        &server.url(&format!("/api/v1/customers/{customer}")),
        Some(&manager),
    );
    assert_eq!(deleted.status, 204);
    assert!(s3.keys().is_empty(), "{:?}", s3.keys());
}
