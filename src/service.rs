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

pub fn serve(
    location: &Location,
    listen: &str,
    max_upload_bytes: u64,
    settings: &WorkerSettings,
) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let running = Running::start(location, settings).await?;
        let refresh = spawn_refresh(&running.store, &running.pipeline);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let state = crate::web::AppState {
            store: running.store.clone(),
            config: Arc::new(crate::web::ServiceConfig { max_upload_bytes }),
            jobs_waiting: Arc::clone(&running.wake),
            pipeline: Arc::clone(&running.pipeline),
        };
        // Scripts and tests read the address (with the port chosen for `:0`) from this line.
        println!("listening on http://{}", listener.local_addr()?);
        println!("workers: {}", settings.workers);
        crate::web::serve(listener, state, shutdown_signal())
            .await
            .context("the HTTP server stopped")?;
        refresh.abort();
        running.stop().await;
        Ok(())
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
