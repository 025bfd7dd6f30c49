//! The facts and roles stages: household, usage, timeline and payment facts, and the people
//! around the decision ("my wife has the final say", "主要我儿子开").

use std::collections::HashMap;

use regex::Regex;

use std::sync::Arc;

use super::lexicon::{compile_each, Lexicon, Lexicons};
use super::{numbers_en, numbers_zh};
use crate::config::{ConfigError, PipelineConfig};
use crate::conversation::{Language, Speaker};
use crate::pipeline::{add_role, AnalyzeError, Context, Stage};

struct FactRule {
    key: String,
    patterns: Vec<Regex>,
    value: Option<serde_json::Value>,
    negatable: bool,
}

pub struct FactsStage {
    languages: HashMap<Language, (Arc<Lexicon>, Vec<FactRule>)>,
}

impl FactsStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
        let mut languages = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let rules = c
                .facts
                .iter()
                .filter(|f| f.lang == language)
                .map(|f| {
                    let value = f
                        .value
                        .clone()
                        .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null));
                    Ok(FactRule {
                        key: f.key.clone(),
                        patterns: compile_each(&f.patterns, &f.origin)?,
                        value,
                        negatable: f.negatable,
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            languages.insert(language, (lexicons.get(language), rules));
        }
        Ok(FactsStage { languages })
    }
}

/// "four" → 4, "四" → 4, "4" → 4; other captured text stays as said.
fn typed(said: &str) -> serde_json::Value {
    let said = said.trim();
    let words: Vec<&str> = said.split_whitespace().collect();
    let number = said
        .parse::<f64>()
        .ok()
        .or_else(|| {
            numbers_en::parse_words(&words)
                .filter(|(_, used)| *used == words.len())
                .map(|(v, _)| v)
        })
        .or_else(|| {
            numbers_zh::parse(said)
                .filter(|s| s.is_exact())
                .map(|s| s.lo)
        });
    match number {
        Some(n) if n.fract() == 0.0 => serde_json::json!(n as i64),
        _ => serde_json::Value::String(said.to_string()),
    }
}

impl Stage for FactsStage {
    fn name(&self) -> &'static str {
        "facts"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let (lexicon, rules) = &self.languages[&cx.language];
        for seg in cx
            .conversation
            .segments
            .iter()
            .filter(|s| s.speaker.is_customer_side())
        {
            for rule in rules {
                let hit = rule
                    .patterns
                    .iter()
                    .flat_map(|p| p.captures_iter(&seg.text))
                    .find(|caps| {
                        let m = caps.get(0).expect("group 0 always exists");
                        !(rule.negatable && lexicon.is_negated(&seg.text, m.start(), m.end()))
                    });
                let Some(caps) = hit else { continue };
                let value = match (&rule.value, caps.name("value")) {
                    (Some(v), _) => v.clone(),
                    (None, Some(m)) => typed(m.as_str()),
                    (None, None) => serde_json::Value::String(caps[0].trim().to_string()),
                };
                // The first statement of a fact stands; later ones add evidence.
                cx.facts.entry(rule.key.clone()).or_insert(value);
                cx.fact_evidence
                    .entry(rule.key.clone())
                    .or_default()
                    .push(seg.id);
            }
        }
        Ok(())
    }
}

/// The language's lexicon (for the people it can name), and each role id with its patterns.
type RoleRules = (Arc<Lexicon>, Vec<(String, Vec<Regex>)>);

pub struct RolesStage {
    languages: HashMap<Language, RoleRules>,
}

impl RolesStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
        let mut languages = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let rules = c
                .roles
                .iter()
                .filter(|r| r.lang == language)
                .map(|r| Ok((r.id.clone(), compile_each(&r.patterns, &r.origin)?)))
                .collect::<Result<Vec<_>, ConfigError>>()?;
            languages.insert(language, (lexicons.get(language), rules));
        }
        Ok(RolesStage { languages })
    }
}

impl Stage for RolesStage {
    fn name(&self) -> &'static str {
        "roles"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        for seg in cx
            .conversation
            .segments
            .iter()
            .filter(|s| s.speaker.is_customer_side())
        {
            let (lexicon, rules) = &self.languages[&cx.language];
            for (id, patterns) in rules {
                let Some(caps) = patterns.iter().find_map(|p| p.captures(&seg.text)) else {
                    continue;
                };
                // "This is Jake, my buddy. He's a mechanic": who is the person the turn names.
                let named = lexicon.person_named(&seg.text);
                let who = match caps
                    .name("who")
                    .map(|w| w.as_str().trim().to_string())
                    .filter(|w| !matches!(w.to_lowercase().as_str(), "he" | "she" | "they"))
                    .or(named)
                {
                    Some(w) => w,
                    // "I'm the one paying" said by a companion names the companion.
                    None if seg.speaker == Speaker::Companion => seg.speaker_label.to_lowercase(),
                    None => match cx.language {
                        Language::Zh => "客户本人".to_string(),
                        Language::En => "the customer".to_string(),
                    },
                };
                add_role(&mut cx.roles, id, who, seg.id);
            }
        }
        Ok(())
    }
}
