//! The signal-rules stage: preferences, objections and intents from the pipeline's lexicon.
//! A rule fires on a customer-side turn that matches one of its patterns outside a negation,
//! or on a "yes" to a salesperson question that matches one of its prompts.

use std::collections::HashMap;

use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexSet, RegexSetBuilder};

use super::lexicon::{compile_any, Lexicon, Lexicons};
use crate::config::{ConfigError, Origin, PipelineConfig};
use crate::conversation::{Language, Segment};
use crate::pipeline::{AnalyzeError, Context, Stage};

/// A pattern compiled on first use: the regex set has already checked it, and most patterns
/// never match in a given run, so compiling them all up front would only slow start-up.
struct LazyPattern {
    source: String,
    regex: OnceLock<Regex>,
}

impl LazyPattern {
    fn get(&self) -> &Regex {
        self.regex
            .get_or_init(|| Regex::new(&self.source).expect("checked when the regex set was built"))
    }
}

struct Rule {
    label: String,
    /// The output carries a value for this label (taxonomy `valued`).
    valued: bool,
    patterns: Vec<LazyPattern>,
    prompts: Option<Regex>,
    unless: Option<Regex>,
    unless_prompt: Option<Regex>,
    objects_to: Option<Regex>,
    negatable: bool,
    confidence: f64,
}

impl Rule {
    /// The rule's exceptions: its `unless` in the turn, or its `unless_prompt` in the
    /// salesperson's turn before it. They hold for a pattern match and for an answer alike.
    fn excepted(&self, text: &str, prompt: Option<&Segment>) -> bool {
        self.unless.as_ref().is_some_and(|u| u.is_match(text))
            || self
                .unless_prompt
                .as_ref()
                .zip(prompt)
                .is_some_and(|(u, p)| u.is_match(&p.text))
    }
}

struct LanguageRules {
    lexicon: Arc<Lexicon>,
    /// Said when a valued label's pattern names nobody ("someone else", "家人").
    someone: &'static str,
    rules: Vec<Rule>,
    /// All patterns of all rules, to find in one pass which rules a turn can fire.
    any_pattern: RegexSet,
    rule_of_pattern: Vec<usize>,
}

pub struct SignalRulesStage {
    languages: HashMap<Language, LanguageRules>,
}

impl SignalRulesStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
        let file = c.path.display().to_string();
        let mut languages = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let mut rules = Vec::new();
            let mut all_patterns = Vec::new();
            let mut rule_of_pattern = Vec::new();
            for r in c.rules.iter().filter(|r| r.lang == language) {
                let mut patterns = Vec::new();
                for p in &r.patterns {
                    let source = format!("(?i){}", super::lexicon::source(p));
                    if let Err(e) = regex_syntax::Parser::new().parse(&source) {
                        return Err(ConfigError::Invalid {
                            origin: r.origin.clone(),
                            reason: format!("bad pattern `{p}`: {e}"),
                        });
                    }
                    all_patterns.push(source.clone());
                    rule_of_pattern.push(rules.len());
                    patterns.push(LazyPattern {
                        source,
                        regex: OnceLock::new(),
                    });
                }
                rules.push(Rule {
                    label: r.label.clone(),
                    valued: c.taxonomy.valued.contains(&r.label),
                    patterns,
                    prompts: compile_any(&r.prompts, &r.origin)?,
                    unless: compile_any(&r.unless, &r.origin)?,
                    unless_prompt: compile_any(&r.unless_prompt, &r.origin)?,
                    objects_to: compile_any(&r.objects_to, &r.origin)?,
                    negatable: r.negatable,
                    confidence: r.confidence,
                });
            }
            // A larger lazy-DFA cache keeps the set on the DFA for hundreds of patterns instead of
            // falling back to the much slower PikeVM.
            let any_pattern = RegexSetBuilder::new(&all_patterns)
                .dfa_size_limit(64 << 20)
                .build()
                .map_err(|e| ConfigError::Invalid {
                    origin: Origin {
                        file: file.clone(),
                        entry: format!("rules ({})", language.code()),
                    },
                    reason: e.to_string(),
                })?;
            languages.insert(
                language,
                LanguageRules {
                    lexicon: lexicons.get(language),
                    someone: match language {
                        Language::En => "someone else",
                        Language::Zh => "家人",
                    },
                    rules,
                    any_pattern,
                    rule_of_pattern,
                },
            );
        }
        Ok(SignalRulesStage { languages })
    }
}

impl Stage for SignalRulesStage {
    fn name(&self) -> &'static str {
        "signals"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let lr = &self.languages[&cx.language];
        let conversation = &cx.conversation;
        for (index, seg) in conversation.segments.iter().enumerate() {
            if !seg.speaker.is_customer_side() {
                continue;
            }
            let text = &seg.text;
            let prompt = conversation.prompt_before(index);
            let mut candidates: Vec<usize> = lr
                .any_pattern
                .matches(text)
                .iter()
                .map(|p| lr.rule_of_pattern[p])
                .collect();
            candidates.dedup();
            for ri in candidates {
                let rule = &lr.rules[ri];
                if rule.excepted(text, prompt) {
                    cx.negated.insert((rule.label.clone(), seg.id));
                    continue;
                }
                let hit = rule
                    .patterns
                    .iter()
                    .flat_map(|p| p.get().captures_iter(text))
                    .find(|caps| {
                        let m = caps.get(0).expect("group 0 always exists");
                        !(rule.negatable && lr.lexicon.is_negated(text, m.start(), m.end()))
                    });
                if hit.is_none() {
                    cx.negated.insert((rule.label.clone(), seg.id));
                }
                if let Some(caps) = hit {
                    // A valued label always says what: the pattern's `who` or `value`, else the
                    // person the turn names, else what was said.
                    let named = caps
                        .name("who")
                        .or_else(|| caps.name("value"))
                        .map(|m| m.as_str().trim().to_string());
                    let value = named.or_else(|| {
                        rule.valued.then(|| {
                            match (rule.label.as_str(), lr.lexicon.person_named(text)) {
                                ("obj.approval", Some(p)) => p,
                                ("obj.approval", None) => lr.someone.to_string(),
                                _ => caps[0].trim().to_string(),
                            }
                        })
                    });
                    cx.detections
                        .add(&rule.label, value, rule.confidence, [seg.id]);
                }
            }
            let Some(prompt) = prompt else { continue };
            let (affirms, complains) = (lr.lexicon.affirms(text), lr.lexicon.complains(text));
            if !affirms && !complains {
                continue;
            }
            // A yes takes up the salesperson's offer; a complaint objects to their statement.
            for rule in &lr.rules {
                let answered = if affirms {
                    &rule.prompts
                } else {
                    &rule.objects_to
                };
                // "评估价三万二" - "太低了吧" objects to the trade-in offer, which obj.price's
                // `unless_prompt` rules out.
                if answered.as_ref().is_some_and(|p| p.is_match(&prompt.text))
                    && !rule.excepted(text, Some(prompt))
                {
                    cx.detections.add(
                        &rule.label,
                        None,
                        rule.confidence * 0.9,
                        [prompt.id, seg.id],
                    );
                }
            }
        }
        Ok(())
    }
}
