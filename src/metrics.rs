//! Prometheus metrics: the process-wide recorder (the `metrics` facade with
//! `metrics-exporter-prometheus`) and the names of what the service measures. The HTTP side
//! (`/metrics` and the request counter) is in [`crate::web`]; workers record their jobs here.
//!
//! Recording through the facade costs nothing in a process without the recorder (`dealerscope
//! worker`), so workers record unconditionally; only `serve` installs the recorder and shows
//! what its own workers did.

use std::sync::Mutex;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests served, by method, route template and status.
pub const HTTP_REQUESTS: &str = "dealerscope_http_requests_total";
/// Time to answer a request (uploads include receiving the body), by method and route.
pub const HTTP_DURATION: &str = "dealerscope_http_request_duration_seconds";
/// Jobs by status (`queued`, `running`, `done`, `failed`), read from the database when scraped.
pub const JOBS: &str = "dealerscope_jobs";
/// Time one attempt at a job took, by outcome (`done`, `retry`, `failed`).
pub const JOB_DURATION: &str = "dealerscope_job_duration_seconds";
/// Attempts that did not produce an analysis, by whether the job will be retried.
pub const JOB_FAILURES: &str = "dealerscope_job_failures_total";

const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Transcripts take milliseconds, an hour of audio minutes.
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the metrics recorder: {0}")]
pub struct MetricsError(#[from] metrics_exporter_prometheus::BuildError);

/// Installs the recorder on first use and returns the handle that renders it.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOB_DURATION.into()), JOB_BUCKETS)?
        .install_recorder()?;
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests served");
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "time to answer an HTTP request"
    );
    metrics::describe_gauge!(JOBS, "processing jobs by status");
    metrics::describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "time one attempt at a processing job took"
    );
    metrics::describe_counter!(JOB_FAILURES, "job attempts that failed");
    *installed = Some(handle.clone());
    Ok(handle)
}

/// How an attempt at a job ended, as its metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// Failed, to be tried again after a backoff.
    Retry,
    /// Failed for good.
    Failed,
}

pub fn job_attempt(outcome: JobOutcome, took: Duration) {
    let label = match outcome {
        JobOutcome::Done => "done",
        JobOutcome::Retry => "retry",
        JobOutcome::Failed => "failed",
    };
    metrics::histogram!(JOB_DURATION, "outcome" => label).record(took.as_secs_f64());
    if outcome != JobOutcome::Done {
        let retried = if outcome == JobOutcome::Retry {
            "true"
        } else {
            "false"
        };
        metrics::counter!(JOB_FAILURES, "retried" => retried).increment(1);
    }
}
