//! The entities stage: models the customer wants, competitors they weigh, colours, features
//! they miss, and the car they drive now, from the gazetteers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex::Regex;

use super::gazetteer::{fold, Gazetteer, Hit};
use super::lexicon::{compile_any, compile_any_at_end, sentence, Lexicon, Lexicons};
use crate::config::{Make, Model, NamedEntity, Origin, PipelineConfig};
use crate::conversation::{Language, Segment, Speaker};
use crate::pipeline::{AnalyzeError, Context, Stage};

struct EntityCues {
    lexicon: Arc<Lexicon>,
    current_vehicle: Option<Regex>,
    current_vehicle_question: Option<Regex>,
    rival_offer: Option<Regex>,
    someone_elses: Option<Regex>,
    competitor: Option<Regex>,
    feature_complaint: Option<Regex>,
    store_greeting: Option<Regex>,
    possessive: Option<Regex>,
    hypothetical: Option<Regex>,
    rejected: Option<Regex>,
    trade_context: Option<Regex>,
    interest_named: Option<Regex>,
    /// Anchored at a model name's end: the trim words said right after it.
    trim: Option<Regex>,
}

pub struct EntitiesStage {
    makes: Vec<Make>,
    models: Vec<Model>,
    colors: Vec<NamedEntity>,
    features: Vec<NamedEntity>,
    dealers: Vec<NamedEntity>,
    model_names: Gazetteer,
    make_names: Gazetteer,
    color_names: Gazetteer,
    feature_names: Gazetteer,
    dealer_names: Gazetteer,
    home_makes: Vec<usize>,
    cues: HashMap<Language, EntityCues>,
}

/// Every way an entry may be written: its aliases and both canonical names.
fn spellings<'a>(aliases: &'a [String], name: &'a str, name_zh: Option<&'a str>) -> Vec<&'a str> {
    aliases
        .iter()
        .map(String::as_str)
        .chain([name])
        .chain(name_zh)
        .collect()
}

fn named(list: &[NamedEntity]) -> impl Iterator<Item = (Vec<&str>, &Origin)> {
    list.iter().map(|e| {
        (
            spellings(&e.aliases, &e.name, e.name_zh.as_deref()),
            &e.origin,
        )
    })
}

impl EntitiesStage {
    pub fn build(
        c: &PipelineConfig,
        lexicons: &Lexicons,
    ) -> Result<Self, crate::config::ConfigError> {
        let file = c.path.display().to_string();
        let mut cues = HashMap::new();
        for language in [Language::En, Language::Zh] {
            let l = c.lexicon(language);
            let at = |entry: &str| Origin {
                file: file.clone(),
                entry: format!("language.{}.entities.{entry}", language.code()),
            };
            let e = &l.entities;
            cues.insert(
                language,
                EntityCues {
                    lexicon: lexicons.get(language),
                    current_vehicle: compile_any(&e.current_vehicle, &at("current_vehicle"))?,
                    rival_offer: compile_any(&e.rival_offer, &at("rival_offer"))?,
                    current_vehicle_question: compile_any(
                        &e.current_vehicle_question,
                        &at("current_vehicle_question"),
                    )?,
                    someone_elses: compile_any(&e.someone_elses, &at("someone_elses"))?,
                    competitor: compile_any(&e.competitor, &at("competitor"))?,
                    feature_complaint: compile_any(&e.feature_complaint, &at("feature_complaint"))?,
                    store_greeting: compile_any(&e.store_greeting, &at("store_greeting"))?,
                    possessive: compile_any_at_end(&e.possessive, &at("possessive"))?,
                    hypothetical: compile_any(&e.hypothetical, &at("hypothetical"))?,
                    rejected: compile_any(&e.rejected, &at("rejected"))?,
                    trade_context: compile_any(&e.trade_context, &at("trade_context"))?,
                    interest_named: compile_any_at_end(&e.interest_named, &at("interest_named"))?,
                    trim: if e.trim.is_empty() {
                        None
                    } else {
                        compile_any(
                            &[format!("^(?:[\\s-]*(?:{}))+", e.trim.join("|"))],
                            &at("trim"),
                        )?
                    },
                },
            );
        }
        let model_names = Gazetteer::build(c.models.iter().map(|m| {
            (
                spellings(&m.aliases, &m.name, m.name_zh.as_deref()),
                &m.origin,
            )
        }))?;
        let make_names = Gazetteer::build(c.makes.iter().map(|m| {
            (
                spellings(&m.aliases, &m.name, m.name_zh.as_deref()),
                &m.origin,
            )
        }))?;
        let home_makes = c
            .dealership
            .makes
            .iter()
            .filter_map(|id| c.makes.iter().position(|m| &m.id == id))
            .collect();
        Ok(EntitiesStage {
            model_names,
            make_names,
            color_names: Gazetteer::build(named(&c.colors))?,
            feature_names: Gazetteer::build(named(&c.features))?,
            dealer_names: Gazetteer::build(named(&c.dealers))?,
            makes: c.makes.clone(),
            models: c.models.clone(),
            colors: c.colors.clone(),
            features: c.features.clone(),
            dealers: c.dealers.clone(),
            home_makes,
            cues,
        })
    }

    fn make_index(&self, id: &str) -> Option<usize> {
        self.makes.iter().position(|m| m.id == id)
    }

    fn display(&self, name: &str, name_zh: Option<&str>, lang: Language) -> String {
        match (lang, name_zh) {
            (Language::Zh, Some(zh)) => zh.to_string(),
            _ => name.to_string(),
        }
    }

    /// Each model's value: the most specific way the customer said it — with the trim said
    /// after it ("IS 350 F Sport"), or an alias that names a version the canonical name does
    /// not ("330i" for 3 Series) — else the gazetteer's name. One value per model, so two
    /// mentions ("the Silverado", "a Silverado 2500 HD") are one interest, not two.
    fn model_values(
        &self,
        segments: &[Segment],
        hits_per_turn: &[Vec<Hit>],
        cues: &EntityCues,
        lang: Language,
    ) -> HashMap<usize, String> {
        let squeeze = |s: &str| fold(s).replace(' ', "");
        let mut said: HashMap<usize, String> = HashMap::new();
        for (seg, hits) in segments.iter().zip(hits_per_turn) {
            for hit in hits {
                let text = &seg.text;
                let end = cues
                    .trim
                    .as_ref()
                    .and_then(|r| r.find(&text[hit.end..]))
                    .map_or(hit.end, |m| hit.end + m.end());
                let span = text[hit.start..end]
                    .trim_matches(|c: char| c.is_whitespace() || ",.;".contains(c));
                let model = &self.models[hit.entry];
                let canonical = self.display(&model.name, model.name_zh.as_deref(), lang);
                let alias = &text[hit.start..hit.end];
                let specific = end > hit.end || !squeeze(&canonical).contains(&squeeze(alias));
                let longer = said
                    .get(&hit.entry)
                    .is_none_or(|v| span.chars().count() > v.chars().count());
                if specific && longer {
                    said.insert(hit.entry, span.to_string());
                }
            }
        }
        said
    }

    /// Models the salesperson's turn `at` names as the customer's ("How was the Equinox EV?"),
    /// with the evidence: that turn and the customer's reply, which must not turn it down.
    fn interest_named(
        &self,
        segments: &[Segment],
        at: usize,
        cues: &EntityCues,
    ) -> Vec<(usize, Vec<usize>)> {
        let Some(named) = &cues.interest_named else {
            return Vec::new();
        };
        let seg = &segments[at];
        let Some(reply) = segments[at + 1..]
            .iter()
            .take_while(|s| s.speaker != Speaker::Salesperson)
            .find(|s| s.speaker.is_customer_side())
        else {
            return Vec::new();
        };
        let lex = &cues.lexicon;
        let head: String = reply.text.trim_start().chars().take(24).collect();
        if lex.rejects(&head) {
            return Vec::new();
        }
        self.model_names
            .find(&seg.text)
            .into_iter()
            .filter(|hit| {
                let (from, _) = sentence(&seg.text, hit.start, hit.end);
                named.is_match(&seg.text[from..hit.start])
            })
            .map(|hit| (hit.entry, vec![seg.id, reply.id]))
            .collect()
    }

    /// The makes this store sells: configured, else named in the salesperson's greeting, else
    /// the make the salesperson talks about most.
    fn infer_home_makes(&self, segments: &[Segment], cues: &EntityCues) -> Vec<usize> {
        if !self.home_makes.is_empty() {
            return self.home_makes.clone();
        }
        let mut counts: HashMap<usize, usize> = HashMap::new();
        // A make the customer just named tells nothing when the salesperson echoes it in reply
        // ("What did you like about the Tesla?"): the store's makes are the ones it brings up.
        let mut just_named: HashSet<usize> = HashSet::new();
        for seg in segments {
            if seg.speaker.is_customer_side() {
                just_named.extend(self.make_names.find(&seg.text).iter().map(|h| h.entry));
                just_named.extend(
                    self.model_names
                        .find(&seg.text)
                        .iter()
                        .filter_map(|h| self.make_index(&self.models[h.entry].make)),
                );
                continue;
            }
            if seg.speaker != Speaker::Salesperson {
                continue;
            }
            let echoed = std::mem::take(&mut just_named);
            let greeting = cues.store_greeting.as_ref().and_then(|r| r.find(&seg.text));
            let makes = self.make_names.find(&seg.text);
            if let Some(first) = greeting.and_then(|g| {
                makes
                    .iter()
                    .position(|h| h.start >= g.start() && h.start <= g.end() + 24)
            }) {
                // A store of several makes names them in a row: "Canyon Chrysler Dodge Jeep Ram",
                // "Buick GMC of Mesa".
                let mut home = vec![makes[first].entry];
                for pair in makes[first..].windows(2) {
                    let between = &seg.text[pair[0].end..pair[1].start.max(pair[0].end)];
                    if pair[1].start < pair[0].end || !is_name_joiner(between) {
                        break;
                    }
                    home.push(pair[1].entry);
                }
                return home;
            }
            for hit in makes {
                if !echoed.contains(&hit.entry) {
                    *counts.entry(hit.entry).or_default() += 1;
                }
            }
            for hit in self.model_names.find(&seg.text) {
                if let Some(make) = self.make_index(&self.models[hit.entry].make) {
                    if !echoed.contains(&make) {
                        *counts.entry(make).or_default() += 1;
                    }
                }
            }
        }
        let best = counts
            .iter()
            .max_by_key(|&(make, n)| (*n, std::cmp::Reverse(*make)));
        match best {
            Some((&make, _)) => vec![make],
            None => {
                // No word from the store: the first make the customer names is taken as the one
                // they came for, unless they name it as a rival ("the Model X is cheaper") or
                // as their own car.
                segments
                    .iter()
                    .filter(|s| s.speaker.is_customer_side())
                    .flat_map(|s| {
                        self.model_names
                            .find(&s.text)
                            .into_iter()
                            .map(move |h| (s.text.as_str(), h))
                    })
                    .filter(|(text, h)| {
                        let clause = cues.lexicon.clause(text, h.start, h.end);
                        !near(&cues.rival_offer, text, clause)
                            && !near(&cues.current_vehicle, text, (clause.0, h.end))
                    })
                    .find_map(|(_, h)| self.make_index(&self.models[h.entry].make))
                    .into_iter()
                    .collect()
            }
        }
    }
}

/// What stands between two makes of one store's name: a space, a comma, "and", "&", "/", "-", "、".
fn is_name_joiner(between: &str) -> bool {
    let t = between.trim();
    t.is_empty() || matches!(t, "," | "&" | "/" | "-" | "and" | "、" | "和")
}

/// Where the remarks about an entity end: its own clause, plus the short clauses after it that
/// name nothing new ("GL8我们也看过了，太老气了，不考虑" — but not "…，要SUV，不考虑纯电").
fn trailing_remarks(text: &str, lex: &Lexicon, from: usize, sentence_end: usize) -> usize {
    let mut end = lex.clause(text, from, from).1.min(sentence_end);
    while end < sentence_end {
        let next_start = end + text[end..].chars().next().map_or(1, char::len_utf8);
        let next_end = lex
            .clause(
                text,
                next_start.min(sentence_end),
                next_start.min(sentence_end),
            )
            .1
            .min(sentence_end);
        let clause = &text[next_start.min(next_end)..next_end];
        if clause.chars().count() > 12 || clause.chars().any(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        end = next_end;
    }
    end
}

fn near(re: &Option<Regex>, text: &str, clause: (usize, usize)) -> bool {
    re.as_ref()
        .is_some_and(|r| r.is_match(&text[clause.0..clause.1]))
}

impl Stage for EntitiesStage {
    fn name(&self) -> &'static str {
        "entities"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let lang = cx.language;
        let cues = &self.cues[&lang];
        let lex = &cues.lexicon;
        let home = self.infer_home_makes(&cx.conversation.segments, cues);
        let is_home =
            |make: Option<usize>| home.is_empty() || make.is_some_and(|m| home.contains(&m));
        let segments = cx.conversation.segments.clone();
        // Models each customer-side turn names, found once: a model named in two turns counts.
        let hits_per_turn: Vec<Vec<Hit>> = segments
            .iter()
            .map(|s| {
                if s.speaker.is_customer_side() {
                    self.model_names.find(&s.text)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let said = self.model_values(&segments, &hits_per_turn, cues, lang);
        let make_of = |entry: usize| self.make_index(&self.models[entry].make);
        let value_of = |entry: usize| {
            said.get(&entry).cloned().unwrap_or_else(|| {
                let model = &self.models[entry];
                self.display(&model.name, model.name_zh.as_deref(), lang)
            })
        };
        // Decided once the whole conversation is read: a model the customer wants is not also
        // their competitor, and a make weighed on its own gives way to its model when they name
        // one ("also looking at Hyundai" ... "the Ioniq 6").
        let mut wanted: HashSet<usize> = HashSet::new();
        let mut not_wanted: HashSet<usize> = HashSet::new();
        // The customer's own car, named again later ("the Jetta was in the shop"), is no rival.
        let mut owned_models: HashSet<usize> = HashSet::new();
        let mut rival_models: Vec<(usize, usize)> = Vec::new();
        let mut rival_makes: Vec<(usize, usize)> = Vec::new();
        let mut turns_naming: HashMap<usize, usize> = HashMap::new();
        for hits in &hits_per_turn {
            let mut entries: Vec<usize> = hits.iter().map(|h| h.entry).collect();
            entries.dedup();
            for e in entries {
                *turns_naming.entry(e).or_default() += 1;
            }
        }

        for (index, seg) in segments.iter().enumerate() {
            let text = &seg.text;
            if seg.speaker == Speaker::Salesperson {
                for (entry, ids) in self.interest_named(&segments, index, cues) {
                    if is_home(make_of(entry)) {
                        wanted.insert(entry);
                        cx.detections
                            .add("pref.model", Some(value_of(entry)), 0.6, ids);
                    }
                }
                continue;
            }
            if !seg.speaker.is_customer_side() {
                continue;
            }
            let model_hits = &hits_per_turn[index];
            // Asked about their car, the first sentence of the reply names it.
            let own_car_answer_end = cx
                .conversation
                .prompt_before(index)
                .filter(|p| near(&cues.current_vehicle_question, &p.text, (0, p.text.len())))
                .map(|_| sentence(text, 0, 0).1);
            for hit in model_hits {
                let clause = lex.clause(text, hit.start, hit.end);
                let sent = sentence(text, hit.start, hit.end);
                let model = &self.models[hit.entry];
                let make = self.make_index(&model.make);
                let head = &text[sent.0..hit.start];
                let owned = cues.possessive.as_ref().is_some_and(|r| r.is_match(head));
                if owned
                    || own_car_answer_end.is_some_and(|end| hit.end <= end)
                    || near(&cues.current_vehicle, text, (clause.0, hit.end))
                {
                    not_wanted.insert(hit.entry);
                    owned_models.insert(hit.entry);
                    let said = with_year_before(text, clause.0, hit);
                    cx.facts
                        .entry("current_vehicle".into())
                        .or_insert_with(|| serde_json::Value::String(said));
                    cx.fact_evidence
                        .entry("current_vehicle".into())
                        .or_default()
                        .push(seg.id);
                    continue;
                }
                let ruled_out = near(
                    &cues.rejected,
                    text,
                    (hit.end, trailing_remarks(text, lex, hit.end, sent.1)),
                );
                if near(&cues.someone_elses, text, (sent.0, hit.start))
                    || near(&cues.hypothetical, text, sent)
                    || ruled_out
                    || lex.is_negated(text, hit.start, hit.end)
                {
                    not_wanted.insert(hit.entry);
                    continue;
                }
                if is_home(make) && !(home.is_empty() && near(&cues.competitor, text, clause)) {
                    wanted.insert(hit.entry);
                    cx.detections
                        .add("pref.model", Some(value_of(hit.entry)), 0.9, [seg.id]);
                } else if near(&cues.competitor, text, sent)
                    || turns_naming.get(&hit.entry).is_some_and(|&n| n > 1)
                {
                    // Another make's model counts as a competitor when the customer weighs it
                    // ("also looking at", "cheaper at") or keeps coming back to it.
                    rival_models.push((hit.entry, seg.id));
                }
            }
            // A make named on its own, in a shopping-around clause, is a competitor.
            for hit in self.make_names.find(text) {
                let covered = model_hits
                    .iter()
                    .any(|m| self.make_index(&self.models[m.entry].make) == Some(hit.entry));
                let clause = lex.clause(text, hit.start, hit.end);
                if covered || home.contains(&hit.entry) || !near(&cues.competitor, text, clause) {
                    continue;
                }
                if near(&cues.current_vehicle, text, (clause.0, hit.end))
                    || near(&cues.someone_elses, text, (clause.0, hit.start))
                    || lex.is_negated(text, hit.start, hit.end)
                {
                    continue;
                }
                rival_makes.push((hit.entry, seg.id));
            }
            for hit in self.dealer_names.find(text) {
                let sent = sentence(text, hit.start, hit.end);
                if !lex.is_negated(text, hit.start, hit.end)
                    && !near(&cues.trade_context, text, sent)
                {
                    let d = &self.dealers[hit.entry];
                    cx.detections.add(
                        "obj.competitor",
                        Some(self.display(&d.name, d.name_zh.as_deref(), lang)),
                        0.7,
                        [seg.id],
                    );
                }
            }
            for hit in self.color_names.find(text) {
                if !lex.is_negated(text, hit.start, hit.end)
                    && !near(
                        &cues.someone_elses,
                        text,
                        lex.clause(text, hit.start, hit.end),
                    )
                {
                    let c = &self.colors[hit.entry];
                    cx.detections.add(
                        "pref.color",
                        Some(self.display(&c.name, c.name_zh.as_deref(), lang)),
                        0.7,
                        [seg.id],
                    );
                }
            }
            for hit in self.feature_names.find(text) {
                let clause = lex.clause(text, hit.start, hit.end);
                if near(&cues.feature_complaint, text, clause) {
                    let f = &self.features[hit.entry];
                    cx.detections.add(
                        "obj.feature",
                        Some(self.display(&f.name, f.name_zh.as_deref(), lang)),
                        0.7,
                        [seg.id],
                    );
                }
            }
            // "Want to see the Highlander?" — "Sure." : the model offered becomes an interest.
            if lex.affirms(text) {
                if let Some(prompt) = cx.conversation.prompt_before(index) {
                    let prompt_id = prompt.id;
                    for hit in self.model_names.find(&prompt.text) {
                        if is_home(make_of(hit.entry))
                            && !model_hits.iter().any(|m| m.entry == hit.entry)
                            && prompt.text.trim_end().ends_with(['?', '？'])
                        {
                            wanted.insert(hit.entry);
                            cx.detections.add(
                                "pref.model",
                                Some(value_of(hit.entry)),
                                0.6,
                                [seg.id, prompt_id],
                            );
                        }
                    }
                }
            }
        }
        let rivals: Vec<(usize, usize)> = rival_models
            .into_iter()
            .filter(|(entry, _)| !wanted.contains(entry) && !owned_models.contains(entry))
            .collect();
        for &(entry, id) in &rivals {
            cx.detections
                .add("obj.competitor", Some(value_of(entry)), 0.75, [id]);
        }
        for (make, id) in rival_makes {
            if rivals.iter().any(|&(e, _)| make_of(e) == Some(make)) {
                continue;
            }
            let named_model = hits_per_turn.iter().flatten().map(|h| h.entry).find(|&e| {
                make_of(e) == Some(make) && !wanted.contains(&e) && !not_wanted.contains(&e)
            });
            let value = match named_model {
                Some(entry) => value_of(entry),
                None => {
                    let m = &self.makes[make];
                    self.display(&m.name, m.name_zh.as_deref(), lang)
                }
            };
            cx.detections.add("obj.competitor", Some(value), 0.65, [id]);
        }
        Ok(())
    }
}

/// "a 2013 Altima" → "2013 Altima": the model as said, with its model year if given.
fn with_year_before(text: &str, clause_start: usize, hit: &Hit) -> String {
    let head = &text[clause_start..hit.start];
    let words: Vec<&str> = head.split_whitespace().collect();
    let mut start = hit.start;
    for w in words.iter().rev().take(3) {
        let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
        let is_year = bare.len() == 4 && bare.starts_with("19")
            || bare.starts_with("20") && bare.len() == 4
            || bare.ends_with("年")
            || bare.starts_with('\'');
        if is_year {
            if let Some(pos) = head.rfind(w) {
                start = clause_start + pos;
            }
            break;
        }
    }
    text[start..hit.end]
        .trim_matches(|c: char| c.is_whitespace() || ",.;".contains(c))
        .to_string()
}
