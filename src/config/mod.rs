//! Loading the pipeline file: includes, merging, and validation against its own taxonomy.

mod schema;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use schema::*;

use crate::conversation::Language;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{path}: includes itself (through {chain})")]
    IncludeCycle { path: String, chain: String },
    #[error("{path}: `{section}` is set again (first set in {first})")]
    Duplicate {
        path: String,
        section: String,
        first: String,
    },
    #[error("pipeline {path} has no `{section}` section in it or its includes")]
    Missing { path: String, section: String },
    #[error("{origin}: {reason}")]
    Invalid { origin: Origin, reason: String },
}

/// The whole pipeline definition, merged from the main file and its includes.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub path: PathBuf,
    pub pipeline: PipelineSection,
    pub speakers: SpeakerNames,
    pub dealership: Dealership,
    pub taxonomy: Taxonomy,
    pub makes: Vec<Make>,
    pub models: Vec<Model>,
    pub colors: Vec<NamedEntity>,
    pub features: Vec<NamedEntity>,
    pub dealers: Vec<NamedEntity>,
    pub languages: BTreeMap<Language, LanguageLexicon>,
    pub rules: Vec<SignalRule>,
    pub facts: Vec<FactRule>,
    pub roles: Vec<RoleRule>,
    pub tags: Vec<TagRule>,
    pub budget_bands: Vec<BudgetBand>,
    pub priority: PrioritySection,
    pub next_actions: Vec<NextActionRule>,
    pub forecast: ForecastSection,
    pub profile: ProfileSection,
    pub asr: AsrSection,
}

impl PipelineConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut merged = Merged::default();
        load_into(path, &mut merged, &mut Vec::new())?;
        let config = merged.finish(path)?;
        validate::validate(&config)?;
        Ok(config)
    }

    pub fn lexicon(&self, lang: Language) -> &LanguageLexicon {
        // validate() guarantees both languages are present.
        &self.languages[&lang]
    }
}

/// Single-valued sections remember the file that set them, to report a second setting.
#[derive(Default)]
struct Merged {
    pipeline: Option<(PipelineSection, String)>,
    speakers: Option<(SpeakerNames, String)>,
    dealership: Option<(Dealership, String)>,
    taxonomy: Option<(Taxonomy, String)>,
    priority: Option<(PrioritySection, String)>,
    forecast: Option<(ForecastSection, String)>,
    profile: Option<(ProfileSection, String)>,
    asr: Option<(AsrSection, String)>,
    languages: BTreeMap<String, (LanguageLexicon, String)>,
    lists: PipelineFile,
}

fn load_into(
    path: &Path,
    merged: &mut Merged,
    chain: &mut Vec<PathBuf>,
) -> Result<(), ConfigError> {
    let display = path.display().to_string();
    let canonical = path
        .canonicalize()
        .map_err(|source| ConfigError::Unreadable {
            path: display.clone(),
            source,
        })?;
    if chain.contains(&canonical) {
        let chain = chain
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" → ");
        return Err(ConfigError::IncludeCycle {
            path: display,
            chain,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: display.clone(),
        source,
    })?;
    let mut file: PipelineFile = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    stamp_origins(&mut file, &display);

    fn set_once<T>(
        slot: &mut Option<(T, String)>,
        value: Option<T>,
        section: &str,
        path: &str,
    ) -> Result<(), ConfigError> {
        if let Some(value) = value {
            if let Some((_, first)) = slot {
                return Err(ConfigError::Duplicate {
                    path: path.into(),
                    section: section.into(),
                    first: first.clone(),
                });
            }
            *slot = Some((value, path.to_string()));
        }
        Ok(())
    }
    set_once(
        &mut merged.pipeline,
        file.pipeline.take(),
        "pipeline",
        &display,
    )?;
    set_once(
        &mut merged.speakers,
        file.speakers.take(),
        "speakers",
        &display,
    )?;
    set_once(
        &mut merged.dealership,
        file.dealership.take(),
        "dealership",
        &display,
    )?;
    set_once(
        &mut merged.taxonomy,
        file.taxonomy.take(),
        "taxonomy",
        &display,
    )?;
    set_once(
        &mut merged.priority,
        file.priority.take(),
        "priority",
        &display,
    )?;
    set_once(
        &mut merged.forecast,
        file.forecast.take(),
        "forecast",
        &display,
    )?;
    set_once(
        &mut merged.profile,
        file.profile.take(),
        "profile",
        &display,
    )?;
    set_once(&mut merged.asr, file.asr.take(), "asr", &display)?;
    for (lang, lexicon) in std::mem::take(&mut file.language) {
        let mut slot = merged.languages.remove(&lang);
        set_once(
            &mut slot,
            Some(lexicon),
            &format!("language.{lang}"),
            &display,
        )?;
        merged.languages.insert(lang, slot.expect("just set"));
    }

    let includes = std::mem::take(&mut file.include);
    let lists = &mut merged.lists;
    lists.makes.append(&mut file.makes);
    lists.models.append(&mut file.models);
    lists.colors.append(&mut file.colors);
    lists.features.append(&mut file.features);
    lists.dealers.append(&mut file.dealers);
    lists.rules.append(&mut file.rules);
    lists.facts.append(&mut file.facts);
    lists.roles.append(&mut file.roles);
    lists.tags.append(&mut file.tags);
    lists.budget_bands.append(&mut file.budget_bands);
    lists.next_actions.append(&mut file.next_actions);

    chain.push(canonical);
    let base = path.parent().unwrap_or(Path::new("."));
    for include in includes {
        load_into(&base.join(include), merged, chain)?;
    }
    chain.pop();
    Ok(())
}

fn stamp_origins(file: &mut PipelineFile, path: &str) {
    let origin = |kind: &str, i: usize, name: &str| Origin {
        file: path.to_string(),
        entry: format!("{kind} #{} ({name})", i + 1),
    };
    for (i, m) in file.makes.iter_mut().enumerate() {
        m.origin = origin("make", i, &m.id);
    }
    for (i, m) in file.models.iter_mut().enumerate() {
        m.origin = origin("model", i, &m.name);
    }
    for (kind, list) in [
        ("color", &mut file.colors),
        ("feature", &mut file.features),
        ("dealer", &mut file.dealers),
    ] {
        for (i, e) in list.iter_mut().enumerate() {
            e.origin = origin(kind, i, &e.name);
        }
    }
    for (i, r) in file.rules.iter_mut().enumerate() {
        r.origin = origin("rule", i, &r.label);
    }
    for (i, r) in file.facts.iter_mut().enumerate() {
        r.origin = origin("fact", i, &r.key);
    }
    for (i, r) in file.roles.iter_mut().enumerate() {
        r.origin = origin("role", i, &r.id);
    }
    for (i, r) in file.tags.iter_mut().enumerate() {
        r.origin = origin("tag", i, &r.id);
    }
    for (i, b) in file.budget_bands.iter_mut().enumerate() {
        b.origin = origin("budget_band", i, &b.tag);
    }
}

impl Merged {
    fn finish(self, path: &Path) -> Result<PipelineConfig, ConfigError> {
        let missing = |section: &str| ConfigError::Missing {
            path: path.display().to_string(),
            section: section.into(),
        };
        let mut languages = BTreeMap::new();
        for (code, (lexicon, file)) in self.languages {
            let lang = match code.as_str() {
                "en" => Language::En,
                "zh" => Language::Zh,
                _ => {
                    return Err(ConfigError::Invalid {
                        origin: Origin {
                            file,
                            entry: format!("language.{code}"),
                        },
                        reason: "supported languages are en and zh".into(),
                    })
                }
            };
            languages.insert(lang, lexicon);
        }
        let l = self.lists;
        Ok(PipelineConfig {
            path: path.to_path_buf(),
            pipeline: self.pipeline.ok_or_else(|| missing("pipeline"))?.0,
            speakers: self.speakers.ok_or_else(|| missing("speakers"))?.0,
            dealership: self.dealership.map(|d| d.0).unwrap_or_default(),
            taxonomy: self.taxonomy.ok_or_else(|| missing("taxonomy"))?.0,
            priority: self.priority.ok_or_else(|| missing("priority"))?.0,
            forecast: self.forecast.ok_or_else(|| missing("forecast"))?.0,
            profile: self.profile.ok_or_else(|| missing("profile"))?.0,
            asr: self.asr.map(|a| a.0).unwrap_or_default(),
            languages,
            makes: l.makes,
            models: l.models,
            colors: l.colors,
            features: l.features,
            dealers: l.dealers,
            rules: l.rules,
            facts: l.facts,
            roles: l.roles,
            tags: l.tags,
            budget_bands: l.budget_bands,
            next_actions: l.next_actions,
        })
    }
}
