//! The command line: `dealerscope analyze PATH [--pipeline FILE] [--lang auto|en|zh] [--json]`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand, ValueEnum};

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
    /// Analyse one conversation (transcript .txt/.json) and print the customer's profile signals.
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
    },
    /// Load and validate a pipeline file, and list its stages.
    CheckPipeline { path: Option<PathBuf> },
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
        } => {
            let pipeline_path = pipeline.unwrap_or_else(default_pipeline);
            let pipeline = Pipeline::load(&pipeline_path).context("cannot load the pipeline")?;
            let options = AnalyzeOptions {
                language: match lang {
                    LangArg::Auto => None,
                    LangArg::En => Some(Language::En),
                    LangArg::Zh => Some(Language::Zh),
                },
                date,
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
