//! The roles stage: the people around the decision ("my wife has the final say", "主要我儿子开")
//! and who each one is, as the conversation names them.
//!
//! Who a role is: the pattern's `who` group as said; a pronoun ("she has the final say") is the
//! last person named before it; "I"/"me" (or a pattern without `who`) is the speaker. A
//! companion speaking about themself is named by their speaker label; the customer speaking
//! about themself ("I'm the one paying") is not a role: the profile is theirs, and its roles
//! are the other people whose say, driving or advice matter.

use std::collections::HashMap;
use std::sync::Arc;

use regex::{Captures, Regex};

use super::gazetteer::fold;
use super::lexicon::{compile_any, compile_each, expand_each, sentence, Lexicon, Lexicons};
use crate::analysis::Role;
use crate::config::{ConfigError, Origin, PipelineConfig, RoleLexicon};
use crate::conversation::{Language, Segment, Speaker};
use crate::pipeline::{AnalyzeError, Context, Stage};

struct RoleRule {
    id: String,
    patterns: Vec<Regex>,
    prompts: Vec<Regex>,
    unless: Option<Regex>,
    negatable: bool,
    subsumed_by: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Gender {
    Female,
    Male,
    Any,
}

/// One language's compiled [`RoleLexicon`].
struct People {
    lexicon: Arc<Lexicon>,
    speaker: Option<Regex>,
    not_people: Option<Regex>,
    pronouns: Vec<(Gender, Regex)>,
    female: Option<Regex>,
    male: Option<Regex>,
    addressed: Option<Regex>,
    self_answer: Option<Regex>,
    possessive: Option<Regex>,
    relation_label: Option<Regex>,
    negation_window: Option<usize>,
    reach: usize,
}

/// Who a match names, before it is turned into a name.
enum Who {
    Said(String),
    Speaker,
}

pub struct RolesStage {
    languages: HashMap<Language, (People, Vec<RoleRule>)>,
}

impl RolesStage {
    pub fn build(c: &PipelineConfig, lexicons: &Lexicons) -> Result<Self, ConfigError> {
        let file = c.path.display().to_string();
        let mut languages = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let l = &c.lexicon(language).roles;
            let people = People::compile(l, lexicons.get(language), language, &file)?;
            let rules = c
                .roles
                .iter()
                .filter(|r| r.lang == language)
                .map(|r| {
                    Ok(RoleRule {
                        id: r.id.clone(),
                        patterns: compile_each(
                            &expand_each(&r.patterns, &l.words, &r.origin)?,
                            &r.origin,
                        )?,
                        prompts: compile_each(
                            &expand_each(&r.prompts, &l.words, &r.origin)?,
                            &r.origin,
                        )?,
                        unless: compile_any(
                            &expand_each(&r.unless, &l.words, &r.origin)?,
                            &r.origin,
                        )?,
                        negatable: r.negatable,
                        subsumed_by: r.subsumed_by.clone(),
                    })
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            languages.insert(language, (people, rules));
        }
        Ok(RolesStage { languages })
    }
}

impl People {
    fn compile(
        l: &RoleLexicon,
        lexicon: Arc<Lexicon>,
        language: Language,
        file: &str,
    ) -> Result<Self, ConfigError> {
        let list = |entry: &str, patterns: &[String]| {
            let origin = Origin {
                file: file.to_string(),
                entry: format!("language.{}.roles.{entry}", language.code()),
            };
            compile_any(&expand_each(patterns, &l.words, &origin)?, &origin)
        };
        let mut pronouns = Vec::new();
        for (gender, entry, patterns) in [
            (Gender::Female, "she", &l.she),
            (Gender::Male, "he", &l.he),
            (Gender::Any, "they", &l.they),
        ] {
            // A pronoun is the whole `who`, not a word inside it.
            let whole: Vec<String> = patterns.iter().map(|p| format!("^(?:{p})$")).collect();
            if let Some(r) = list(entry, &whole)? {
                pronouns.push((gender, r));
            }
        }
        let whole = |patterns: &[String]| -> Vec<String> {
            patterns.iter().map(|p| format!("^(?:{p})$")).collect()
        };
        Ok(People {
            lexicon,
            speaker: list("speaker", &whole(&l.speaker))?,
            not_people: list("not_people", &whole(&l.not_people))?,
            pronouns,
            female: list("female", &l.female)?,
            male: list("male", &l.male)?,
            addressed: list("addressed", &l.addressed)?,
            self_answer: list("self_answer", &l.self_answer)?,
            possessive: list("possessive", &l.possessive)?,
            relation_label: list("relation_label", &l.relation_label)?,
            negation_window: l.negation_window,
            reach: l.pronoun_reach,
        })
    }

    fn gender_of_pronoun(&self, who: &str) -> Option<Gender> {
        self.pronouns
            .iter()
            .find(|(_, r)| r.is_match(who))
            .map(|(g, _)| *g)
    }

    /// A person fits a pronoun unless their word says the other gender.
    fn fits(&self, person: &str, gender: Gender) -> bool {
        let says = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(person));
        match gender {
            Gender::Female => !says(&self.male),
            Gender::Male => !says(&self.female),
            Gender::Any => true,
        }
    }

    /// "Wife" → "wife", "Customer's wife" → "wife", "客户妻子" → "妻子"; "Jake" stays "Jake".
    fn companion_name(&self, label: &str) -> String {
        let label = label.trim();
        match self.relation_label.as_ref().and_then(|r| r.captures(label)) {
            Some(caps) => caps
                .name("who")
                .map_or(label, |w| w.as_str())
                .to_lowercase(),
            None => label.to_string(),
        }
    }

    fn is_negated(&self, text: &str, start: usize, end: usize) -> bool {
        match self.negation_window {
            Some(window) => self.lexicon.is_negated_within(text, start, end, window),
            None => self.lexicon.is_negated(text, start, end),
        }
    }

    /// What makes two `who`s one person: "My wife", "my wife" and "Wife" are.
    fn key(&self, who: &str) -> String {
        let who = who.trim();
        let bare = match &self.possessive {
            Some(r) => r.replace(who, ""),
            None => who.into(),
        };
        fold(&bare)
    }

    /// The last person named before `before` in turn `at`, then in the turns before it, who fits
    /// the pronoun's gender. Customer-side turns offer the people they name and their companion
    /// speakers; the salesperson's turns the customer's people they name ("your wife").
    fn antecedent(
        &self,
        segments: &[Segment],
        at: usize,
        before: usize,
        gender: Gender,
    ) -> Option<String> {
        let from = at.saturating_sub(self.reach);
        for (i, seg) in segments[from..=at].iter().enumerate().rev() {
            let text = if from + i == at {
                &seg.text[..before]
            } else {
                &seg.text
            };
            let mut candidates: Vec<String> = Vec::new();
            match seg.speaker {
                Speaker::Salesperson => {
                    if let Some(r) = &self.addressed {
                        candidates.extend(
                            r.captures_iter(text)
                                .filter_map(|c| c.name("who"))
                                .map(|m| m.as_str().trim().to_string()),
                        );
                    }
                }
                Speaker::Customer | Speaker::Companion => {
                    if seg.speaker == Speaker::Companion && from + i != at {
                        candidates.push(self.companion_name(&seg.speaker_label));
                    }
                    let mut named: Vec<_> = self.lexicon.people_in(text).collect();
                    named.sort_by_key(|m| m.start());
                    candidates.extend(named.iter().map(|m| m.as_str().trim().to_string()));
                }
                Speaker::Unknown => {}
            }
            if let Some(p) = candidates.into_iter().rev().find(|p| self.fits(p, gender)) {
                return Some(p);
            }
        }
        None
    }

    /// The first person named after `after` in the sentence, who fits: "she wears the pants, my
    /// wife" names her after the pronoun.
    fn named_after(&self, text: &str, after: usize, gender: Gender) -> Option<String> {
        let (_, end) = sentence(text, after, after);
        self.lexicon
            .people_in(&text[after..end])
            .map(|m| m.as_str().trim().to_string())
            .find(|p| self.fits(p, gender))
    }

    /// Who `who` is in a turn of `seg`'s speaker: a companion speaking about themself is named by
    /// their label; the customer about themself is no role of their own profile.
    fn name(&self, who: Who, seg: &Segment) -> Option<String> {
        match who {
            Who::Said(w) => Some(w),
            Who::Speaker if seg.speaker == Speaker::Companion => {
                Some(self.companion_name(&seg.speaker_label))
            }
            Who::Speaker => None,
        }
    }

    /// The `who` of a pattern match in turn `at`; `None` for a pronoun with nobody to point to.
    fn who_of(&self, caps: &Captures, segments: &[Segment], at: usize) -> Option<Who> {
        let Some(w) = caps.name("who") else {
            return Some(Who::Speaker);
        };
        let said = w.as_str().trim();
        if self.speaker.as_ref().is_some_and(|r| r.is_match(said)) {
            return Some(Who::Speaker);
        }
        if self.not_people.as_ref().is_some_and(|r| r.is_match(said)) {
            return None;
        }
        match self.gender_of_pronoun(said) {
            // Nobody named to point to: "have him look at it" may mean the appraiser.
            Some(gender) => self
                .antecedent(segments, at, w.start(), gender)
                .or_else(|| self.named_after(&segments[at].text, w.end(), gender))
                .map(Who::Said),
            None => Some(Who::Said(said.to_string())),
        }
    }

    /// The reply to a role question: whom it names first in its first sentence, its speaker if
    /// it starts with a self-answer, or the prompt's person if it says yes.
    fn answer(&self, reply: &str, prompt: &Captures) -> Option<Who> {
        let (_, end) = sentence(reply, 0, 0);
        let head = &reply[..end];
        if self.self_answer.as_ref().is_some_and(|r| r.is_match(head)) {
            return Some(Who::Speaker);
        }
        if let Some(m) = self
            .lexicon
            .people_in(head)
            .filter(|m| !self.lexicon.is_negated(head, m.start(), m.end()))
            .min_by_key(|m| m.start())
        {
            return Some(Who::Said(m.as_str().trim().to_string()));
        }
        match prompt.name("who") {
            Some(w) if self.lexicon.affirms(reply) => {
                Some(Who::Said(w.as_str().trim().to_string()))
            }
            _ => None,
        }
    }
}

impl RoleRule {
    /// The matches in the turn that are neither negated nor vetoed by `unless` before them in
    /// their sentence ("if I had a son, ..."; but "my friend knows cars, in case it breaks" stands).
    fn hits<'a, 't: 'a>(
        &'a self,
        text: &'t str,
        people: &'a People,
    ) -> impl Iterator<Item = Captures<'t>> + 'a {
        self.patterns
            .iter()
            .flat_map(move |p| p.captures_iter(text))
            .filter(move |caps| {
                let m = caps.get(0).expect("group 0 always exists");
                let (from, _) = sentence(text, m.start(), m.end());
                let negated = self.negatable && people.is_negated(text, m.start(), m.end());
                let vetoed = self
                    .unless
                    .as_ref()
                    .is_some_and(|u| u.is_match(&text[from..m.end()]));
                !negated && !vetoed
            })
    }
}

impl Stage for RolesStage {
    fn name(&self) -> &'static str {
        "roles"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let (people, rules) = &self.languages[&cx.language];
        let segments = &cx.conversation.segments;
        // Per role in cx.roles: the roles that would make it redundant, if every rule that found
        // it is subsumed by them (roles found before this stage stand).
        let mut subsumed: Vec<Option<&[String]>> = vec![None; cx.roles.len()];
        for (at, seg) in segments.iter().enumerate() {
            if !seg.speaker.is_customer_side() {
                continue;
            }
            let question = at
                .checked_sub(1)
                .map(|i| &segments[i])
                .filter(|s| s.speaker == Speaker::Salesperson);
            for rule in rules {
                // The first match that names someone other than the customer ("it's my money,
                // but it's up to my wife"), else the answer to the salesperson's role question.
                let found = rule
                    .hits(&seg.text, people)
                    .filter_map(|caps| people.who_of(&caps, segments, at))
                    .find_map(|who| people.name(who, seg))
                    .or_else(|| {
                        let q = question?;
                        let prompt = rule.prompts.iter().find_map(|p| p.captures(&q.text))?;
                        people
                            .answer(&seg.text, &prompt)
                            .and_then(|who| people.name(who, seg))
                    });
                let Some(who) = found else { continue };
                let by = (!rule.subsumed_by.is_empty()).then_some(rule.subsumed_by.as_slice());
                let key = people.key(&who);
                match cx
                    .roles
                    .iter()
                    .position(|r| r.id == rule.id && people.key(&r.who) == key)
                {
                    Some(i) => {
                        let role = &mut cx.roles[i];
                        if !role.evidence.contains(&seg.id) {
                            role.evidence.push(seg.id);
                        }
                        subsumed[i] = subsumed[i].and(by);
                    }
                    None => {
                        cx.roles.push(Role {
                            id: rule.id.clone(),
                            who,
                            evidence: vec![seg.id],
                        });
                        subsumed.push(by);
                    }
                }
            }
        }
        // "I'll talk it over with my wife" adds nothing once she has the final say.
        let keys: Vec<(String, String)> = cx
            .roles
            .iter()
            .map(|r| (r.id.clone(), people.key(&r.who)))
            .collect();
        let mut i = 0;
        cx.roles.retain(|_| {
            let (_, key) = &keys[i];
            let redundant = subsumed[i]
                .is_some_and(|by| keys.iter().any(|(id, k)| k == key && by.contains(id)));
            i += 1;
            !redundant
        });
        Ok(())
    }
}
