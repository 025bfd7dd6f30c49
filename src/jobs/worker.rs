//! A worker: claims jobs, runs the analysis pipeline on the recording's body (on a blocking
//! thread, since it is CPU-bound), keeps its lease alive meanwhile, and commits the result.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::analysis::Analysis;
use crate::jobs::Lease;
use crate::metrics::JobOutcome;
use crate::pipeline::{AnalyzeError, AnalyzeOptions, Pipeline};
use crate::store::recordings::Recording;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names this worker in the jobs table (host, process and worker number).
    pub owner: String,
    /// How long a claim lasts without a heartbeat; a dead worker's job waits this long.
    pub lease: Duration,
    /// How long to sleep when no job is due.
    pub idle_poll: Duration,
    /// Speech model choices for audio.
    pub asr: crate::asr::stage::AsrOptions,
    /// Where audio is copied for the decoder.
    pub scratch_dir: PathBuf,
}

/// Why one attempt failed: the recording itself (final) or the system around it (retried).
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audio store or the model download: worth another attempt later.
    #[error("{0}")]
    Transient(String),
}

/// Runs jobs until `shutdown` turns true. `wake` cuts an idle wait short (a new recording).
pub async fn run(
    store: Store,
    pipeline: Arc<Pipeline>,
    options: WorkerOptions,
    wake: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if let Err(e) = tokio::fs::create_dir_all(&options.scratch_dir).await {
        tracing::error!(dir = %options.scratch_dir.display(), "worker cannot create its scratch directory: {e}");
        return;
    }
    while !*shutdown.borrow() {
        let claimed = store.claim_job(&options.owner, options.lease).await;
        match claimed {
            Ok(Some(lease)) => process(&store, &pipeline, &options, lease).await,
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(options.idle_poll) => {}
                    _ = wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = %options.owner, "cannot claim a job: {e}");
                let _ = tokio::time::timeout(options.idle_poll * 4, shutdown.changed()).await;
            }
        }
    }
}

async fn process(store: &Store, pipeline: &Arc<Pipeline>, options: &WorkerOptions, lease: Lease) {
    let started = std::time::Instant::now();
    tracing::info!(worker = %options.owner, job = %lease.job_id, recording = %lease.recording_id, attempt = lease.attempt, "job claimed");
    let outcome = if lease.attempt > lease.max_attempts {
        Err(AttemptError::Unprocessable(format!(
            "gave up after {} attempts (the worker processing it stopped each time)",
            lease.max_attempts
        )))
    } else {
        attempt(store, pipeline, options, &lease).await
    };
    let retry_left = lease.attempt < lease.max_attempts;
    let (committed, ended) = match outcome {
        Ok(mut analysis) => match serde_json::to_string({
            // Phone and ID numbers never reach the database.
            crate::privacy::redact_analysis(&mut analysis);
            &analysis
        }) {
            Ok(json) => (
                store.complete_job(&lease, &json, pipeline.config()).await,
                JobOutcome::Done,
            ),
            Err(e) => (
                store
                    .fail_job(
                        &lease,
                        &format!("cannot serialise the analysis: {e}"),
                        false,
                    )
                    .await,
                JobOutcome::Failed,
            ),
        },
        Err(AttemptError::Unprocessable(reason)) => (
            store.fail_job(&lease, &reason, false).await,
            JobOutcome::Failed,
        ),
        Err(e) => (
            store.fail_job(&lease, &e.to_string(), true).await,
            if retry_left {
                JobOutcome::Retry
            } else {
                JobOutcome::Failed
            },
        ),
    };
    match committed {
        Ok(true) => {
            crate::metrics::job_attempt(ended, started.elapsed());
            tracing::info!(job = %lease.job_id, elapsed_ms = started.elapsed().as_millis() as u64, "job finished")
        }
        Ok(false) => {
            tracing::warn!(job = %lease.job_id, "lease lost to another worker: result discarded")
        }
        // The lease will expire and another attempt will run.
        Err(e) => tracing::error!(job = %lease.job_id, "cannot record the job's outcome: {e}"),
    }
}

/// The recording's body as the pipeline reads it: a transcript in memory, or an audio file.
enum Body {
    Transcript { name: &'static str, text: String },
    Audio(PathBuf),
}

async fn attempt(
    store: &Store,
    pipeline: &Arc<Pipeline>,
    options: &WorkerOptions,
    lease: &Lease,
) -> Result<Analysis, AttemptError> {
    let rec = store
        .recording(&lease.recording_id)
        .await?
        .ok_or_else(|| AttemptError::Unprocessable("the recording was deleted".into()))?;
    let body = fetch_body(store, options, &rec, lease).await?;
    let analyze_options = AnalyzeOptions {
        language: None,
        date: Some(rec.recorded_at.date_naive()),
        asr: options.asr.clone(),
    };
    let scratch = match &body {
        Body::Audio(path) => Some(path.clone()),
        Body::Transcript { .. } => None,
    };
    let pipeline = Arc::clone(pipeline);
    let mut analysis = tokio::task::spawn_blocking(move || match body {
        Body::Transcript { name, text } => pipeline.analyze_text(name, &text, &analyze_options),
        Body::Audio(path) => pipeline.analyze_file(&path, &analyze_options),
    });
    // Keep the lease while the pipeline runs; a third of the lease between beats leaves room
    // for a slow database.
    let mut beat = tokio::time::interval(options.lease / 3);
    beat.tick().await;
    let joined = loop {
        tokio::select! {
            joined = &mut analysis => break joined,
            _ = beat.tick() => match store.heartbeat(lease, options.lease).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = %lease.job_id, "lease lost while analysing"),
                Err(e) => tracing::warn!(job = %lease.job_id, "heartbeat failed: {e}"),
            },
        }
    };
    if let Some(path) = scratch {
        let _ = tokio::fs::remove_file(path).await;
    }
    match joined {
        Ok(Ok(analysis)) => Ok(analysis),
        Ok(Err(e)) => Err(classify(e)),
        Err(e) => Err(AttemptError::Unprocessable(format!(
            "internal error while analysing: {e}"
        ))),
    }
}

/// Problems with the recording are final; a model that could not be fetched may come back.
fn classify(e: AnalyzeError) -> AttemptError {
    match e {
        AnalyzeError::Asr(crate::asr::AsrError::Model(_)) => AttemptError::Transient(e.to_string()),
        e => AttemptError::Unprocessable(e.to_string()),
    }
}

async fn fetch_body(
    store: &Store,
    options: &WorkerOptions,
    rec: &Recording,
    lease: &Lease,
) -> Result<Body, AttemptError> {
    let key = rec
        .object_key
        .as_deref()
        .ok_or_else(|| AttemptError::Unprocessable("the recording's audio was deleted".into()))?;
    match body_kind(&rec.content_type) {
        BodyKind::Transcript(name) => {
            let bytes = store
                .objects
                .get(key)
                .await
                .map_err(|e| AttemptError::Transient(e.to_string()))?;
            let text = crate::transcript::decode_text(&bytes, name)
                .map_err(|e| AttemptError::Unprocessable(e.to_string()))?;
            Ok(Body::Transcript { name, text })
        }
        BodyKind::Audio(ext) => {
            let path = options
                .scratch_dir
                .join(format!("{}-{}.{ext}", rec.id, lease.attempt));
            store
                .objects
                .download(key, &path)
                .await
                .map_err(|e| AttemptError::Transient(e.to_string()))?;
            Ok(Body::Audio(path))
        }
    }
}

enum BodyKind {
    /// A transcript, with the file name whose extension tells the pipeline its format.
    Transcript(&'static str),
    /// Audio, with the file extension the decoder is hinted with.
    Audio(&'static str),
}

fn body_kind(content_type: &str) -> BodyKind {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/plain" => BodyKind::Transcript("recording.txt"),
        "application/json" => BodyKind::Transcript("recording.json"),
        "audio/mpeg" | "audio/mp3" => BodyKind::Audio("mp3"),
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => BodyKind::Audio("m4a"),
        "audio/aac" => BodyKind::Audio("aac"),
        "audio/flac" | "audio/x-flac" => BodyKind::Audio("flac"),
        "audio/ogg" => BodyKind::Audio("ogg"),
        // WAV and anything unnamed: the decoder probes the content; the hint only helps.
        _ => BodyKind::Audio("wav"),
    }
}
