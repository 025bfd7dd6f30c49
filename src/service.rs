//! Running the service from the command line: `serve`, `worker` and `admin` (see [`crate::cli`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::jobs::worker::{self, WorkerOptions};
use crate::pipeline::Pipeline;
use crate::store::accounts::Role;
use crate::store::{Location, Store};

/// Settings shared by `serve` and `worker` for processing recordings.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub workers: usize,
    pub lease: Duration,
    pub pipeline: PathBuf,
    pub asr: crate::asr::stage::AsrOptions,
}

#[derive(Debug, Clone)]
pub enum AdminAction {
    CreateDealership {
        name: String,
    },
    CreateUser {
        dealership: String,
        email: String,
        role: Role,
        password: String,
    },
    CreateDevice {
        dealership: String,
        name: String,
        salesperson: Option<String>,
    },
    RevokeDevice {
        device: String,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open(location: &Location) -> anyhow::Result<Store> {
    Store::open(location).await.with_context(|| {
        format!(
            "cannot open the store ({})",
            match &location.database_url {
                Some(_) => "the database URL".to_string(),
                None => location.data_dir.display().to_string(),
            }
        )
    })
}

pub fn admin(location: &Location, action: AdminAction) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open(location).await?;
        match action {
            AdminAction::CreateDealership { name } => {
                let id = store.create_dealership(&name).await?;
                eprintln!("created dealership `{name}`");
                println!("{id}");
            }
            AdminAction::CreateUser {
                dealership,
                email,
                role,
                password,
            } => {
                let id = store
                    .create_user(&dealership, &email, role, &password)
                    .await?;
                eprintln!("created {} {email}", role.as_str());
                println!("{id}");
            }
            AdminAction::CreateDevice {
                dealership,
                name,
                salesperson,
            } => {
                let (id, token) = store
                    .create_device(&dealership, &name, salesperson.as_deref())
                    .await?;
                println!("device {id}; its token (shown once):");
                println!("{token}");
            }
            AdminAction::RevokeDevice { device } => {
                store.revoke_device(&device).await?;
                println!("revoked {device}");
            }
        }
        anyhow::Ok(())
    })
}

fn load_pipeline(settings: &WorkerSettings) -> anyhow::Result<Arc<Pipeline>> {
    Ok(Arc::new(Pipeline::load(&settings.pipeline).with_context(
        || format!("cannot load the pipeline {}", settings.pipeline.display()),
    )?))
}

/// Starts `settings.workers` workers in this process.
fn spawn_workers(
    store: &Store,
    pipeline: &Arc<Pipeline>,
    settings: &WorkerSettings,
    scratch_dir: PathBuf,
    wake: &Arc<tokio::sync::Notify>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..settings.workers)
        .map(|n| {
            let options = WorkerOptions {
                owner: format!("{}-{}", std::process::id(), n),
                lease: settings.lease,
                idle_poll: Duration::from_millis(500),
                asr: settings.asr.clone(),
                scratch_dir: scratch_dir.clone(),
            };
            tokio::spawn(worker::run(
                store.clone(),
                Arc::clone(pipeline),
                options,
                Arc::clone(wake),
                shutdown.clone(),
            ))
        })
        .collect()
}

/// Every customer's cached priority is recomputed this often: it changes with time alone
/// (`beh.gone_quiet`), not only with new conversations.
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

fn spawn_refresh(store: &Store, pipeline: &Arc<Pipeline>) -> tokio::task::JoinHandle<()> {
    let (store, pipeline) = (store.clone(), Arc::clone(pipeline));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REFRESH_EVERY);
        loop {
            every.tick().await;
            match store.refresh_all_customers(pipeline.config()).await {
                Ok(n) => tracing::info!(customers = n, "customer priorities recomputed"),
                Err(e) => tracing::warn!("cannot recompute customer priorities: {e}"),
            }
        }
    })
}

/// Forgets unfinished uploads past `expiry` and their staged bytes, at start and then every
/// tenth of `expiry` (at most hourly).
fn spawn_upload_expiry(store: &Store, expiry: chrono::TimeDelta) -> tokio::task::JoinHandle<()> {
    let store = store.clone();
    let every = (expiry / 10)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .clamp(Duration::from_secs(1), Duration::from_secs(3600));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(every);
        loop {
            every.tick().await;
            match store.expire_uploads(chrono::Utc::now() - expiry).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "expired unfinished uploads deleted"),
                Err(e) => tracing::warn!("cannot delete expired uploads: {e}"),
            }
        }
    })
}

/// Deletes expired audio at start and then every `retention.sweep_every`.
fn spawn_retention(store: &Store, retention: Retention) -> tokio::task::JoinHandle<()> {
    let store = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(retention.sweep_every);
        loop {
            every.tick().await;
            let cutoff = chrono::Utc::now() - retention.keep;
            match store.expire_audio(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(recordings = n, "expired audio deleted"),
                Err(e) => tracing::warn!("cannot delete expired audio: {e}"),
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The store, the pipeline and the in-process workers that `serve` and `worker` both start.
struct Running {
    store: Store,
    pipeline: Arc<Pipeline>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(location: &Location, settings: &WorkerSettings) -> anyhow::Result<Running> {
        let store = open(location).await?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wake = Arc::new(tokio::sync::Notify::new());
        let pipeline = load_pipeline(settings)?;
        let workers = spawn_workers(
            &store,
            &pipeline,
            settings,
            location.data_dir.join("tmp"),
            &wake,
            &stopped,
        );
        Ok(Running {
            store,
            pipeline,
            wake,
            stop,
            workers,
        })
    }

    /// Tells the workers to stop and waits for the jobs in hand to finish.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for w in self.workers {
            let _ = w.await;
        }
    }
}

/// How long recordings' audio is kept (counted from when it was recorded), and how often the
/// service looks for audio past that.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub keep: chrono::TimeDelta,
    pub sweep_every: Duration,
}

/// What `serve` (and `demo`) listen on and accept.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: String,
    pub max_upload_bytes: u64,
    /// `None`: audio is kept until its customer is deleted.
    pub retention: Option<Retention>,
    /// How long an unfinished resumable upload is kept.
    pub upload_expiry: chrono::TimeDelta,
}

/// A running HTTP service with its workers and periodic upkeep.
struct Service {
    running: Running,
    /// Where the service answers, for clients in this process (loopback when listening on all
    /// interfaces).
    base_url: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    upkeep: Vec<tokio::task::JoinHandle<()>>,
}

impl Service {
    async fn start(
        location: &Location,
        options: &ServeOptions,
        settings: &WorkerSettings,
    ) -> anyhow::Result<Service> {
        let running = Running::start(location, settings).await?;
        let mut upkeep = vec![
            spawn_refresh(&running.store, &running.pipeline),
            spawn_upload_expiry(&running.store, options.upload_expiry),
        ];
        if let Some(retention) = options.retention {
            upkeep.push(spawn_retention(&running.store, retention));
        }
        let listener = tokio::net::TcpListener::bind(&options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let state = crate::web::AppState {
            store: running.store.clone(),
            config: Arc::new(crate::web::ServiceConfig {
                max_upload_bytes: options.max_upload_bytes,
                upload_expiry: options.upload_expiry,
            }),
            jobs_waiting: Arc::clone(&running.wake),
            pipeline: Arc::clone(&running.pipeline),
            uploads_writing: Default::default(),
            metrics: crate::metrics::install().context("cannot set up metrics")?,
        };
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        // Scripts and tests read the address (with the port chosen for `:0`) from this line.
        println!("listening on http://{}", listener.local_addr()?);
        println!("workers: {}", settings.workers);
        let server = tokio::spawn(crate::web::serve(listener, state, shutdown_signal()));
        Ok(Service {
            running,
            base_url: format!("http://{addr}"),
            server,
            upkeep,
        })
    }

    /// Serves until SIGINT or SIGTERM, then lets requests and jobs in flight finish.
    async fn run(self) -> anyhow::Result<()> {
        let served = self.server.await.context("the HTTP server panicked")?;
        for task in self.upkeep {
            task.abort();
        }
        self.running.stop().await;
        served.context("the HTTP server stopped")
    }
}

pub fn serve(
    location: &Location,
    options: &ServeOptions,
    settings: &WorkerSettings,
) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        Service::start(location, options, settings)
            .await?
            .run()
            .await
    })
}

/// `serve`, after setting up the demo dealership and pushing the sample recordings through
/// the API (see [`crate::demo`]).
pub fn demo(
    location: &Location,
    options: &ServeOptions,
    settings: &WorkerSettings,
    samples: &std::path::Path,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.workers > 0,
        "the demo processes its samples in-process: it needs --workers 1 or more"
    );
    runtime()?.block_on(async {
        let service = Service::start(location, options, settings).await?;
        crate::demo::prepare(&service.running.store, &service.base_url, samples).await?;
        service.run().await
    })
}

pub fn worker(location: &Location, settings: &WorkerSettings) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let running = Running::start(location, settings).await?;
        println!("workers: {} (pid {})", settings.workers, std::process::id());
        shutdown_signal().await;
        running.stop().await;
        Ok(())
    })
}
