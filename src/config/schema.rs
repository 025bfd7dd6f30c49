//! The pipeline file's schema. Every section may come from any included file; lists are
//! concatenated in include order.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::analysis::{BudgetKind, Stage, TagCategory, Tier};
use crate::conversation::Language;

/// Where an entry was written, for error messages a dealership can act on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub file: String,
    pub entry: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.entry)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    #[serde(default)]
    pub include: Vec<String>,
    pub pipeline: Option<PipelineSection>,
    pub speakers: Option<SpeakerNames>,
    pub dealership: Option<Dealership>,
    pub taxonomy: Option<Taxonomy>,
    #[serde(default, rename = "make")]
    pub makes: Vec<Make>,
    #[serde(default, rename = "model")]
    pub models: Vec<Model>,
    #[serde(default, rename = "color")]
    pub colors: Vec<NamedEntity>,
    #[serde(default, rename = "feature")]
    pub features: Vec<NamedEntity>,
    #[serde(default, rename = "dealer")]
    pub dealers: Vec<NamedEntity>,
    #[serde(default)]
    pub language: BTreeMap<String, LanguageLexicon>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<SignalRule>,
    #[serde(default, rename = "fact")]
    pub facts: Vec<FactRule>,
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleRule>,
    #[serde(default, rename = "tag")]
    pub tags: Vec<TagRule>,
    #[serde(default, rename = "budget_band")]
    pub budget_bands: Vec<BudgetBand>,
    pub priority: Option<PrioritySection>,
    #[serde(default, rename = "next_action")]
    pub next_actions: Vec<NextActionRule>,
    pub forecast: Option<ForecastSection>,
    pub profile: Option<ProfileSection>,
    pub asr: Option<AsrSection>,
    pub classifier: Option<ClassifierSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Stage names in the order they run.
    pub stages: Vec<String>,
    /// Currency when the customer names none, per language.
    pub default_currency: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerNames {
    pub salesperson: Vec<String>,
    pub customer: Vec<String>,
    /// Names that mean the source did not know (diarization output, "unknown").
    #[serde(default)]
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dealership {
    /// Make ids this store sells; other makes are competitors. Empty: inferred from the
    /// salesperson's words in each conversation.
    #[serde(default)]
    pub makes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub preferences: Vec<String>,
    pub objections: Vec<String>,
    pub intents: Vec<String>,
    pub facts: Vec<String>,
    pub roles: Vec<String>,
    /// Labels whose output carries a `value` (the entity, or who for obj.approval).
    pub valued: Vec<String>,
    /// Internal observations rules can use but the output does not list.
    #[serde(default)]
    pub cues: Vec<String>,
    pub tags: TaxonomyTags,
    /// What people call each label, per page language (`en`, `zh`).
    #[serde(default)]
    pub names: BTreeMap<Language, BTreeMap<String, String>>,
}

impl Taxonomy {
    /// The name of `id` in `lang`, if the taxonomy gives one.
    pub fn name(&self, id: &str, lang: Language) -> Option<&str> {
        self.names.get(&lang)?.get(id).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyTags {
    pub fact: Vec<String>,
    pub psychological: Vec<String>,
    pub behavioral: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Make {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_zh: Option<String>,
    pub aliases: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    #[serde(default)]
    pub name_zh: Option<String>,
    pub make: String,
    pub aliases: Vec<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub powertrain: Option<String>,
    #[serde(default)]
    pub price: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedEntity {
    pub name: String,
    #[serde(default)]
    pub name_zh: Option<String>,
    pub aliases: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
}

/// Word lists one language needs besides the per-label rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageLexicon {
    /// Regexes that, shortly before a match in the same clause, negate it ("not", "不").
    pub negation_before: Vec<String>,
    /// Regexes that, right after a match, negate it ("SUV就算了", "is out").
    #[serde(default)]
    pub negation_after: Vec<String>,
    /// Phrases that contain a negation word but do not negate ("有没有", "no problem").
    #[serde(default)]
    pub not_negation: Vec<String>,
    /// How far back (in words for English, characters for Chinese) a negation reaches.
    pub negation_window: usize,
    /// A customer answer that starts like this says yes to the salesperson's question.
    pub affirmation: Vec<String>,
    /// ... and one like this says no, even if an affirmation word appears later.
    pub rejection: Vec<String>,
    /// A customer reply that objects to what was just said ("that's too much", "太高了").
    #[serde(default)]
    pub complaint: Vec<String>,
    /// Clause boundaries beyond which negation does not reach.
    pub clause_breaks: Vec<String>,
    /// Ending right where a break does, the break is no boundary: "anything but a minivan".
    #[serde(default)]
    pub clause_joins: Vec<String>,
    /// People a customer mentions ("my wife", "我老婆"): who a role or approval is, when the
    /// pattern that found it does not say.
    #[serde(default)]
    pub people: Vec<String>,
    /// Words that refer back to someone named before ("she", "他"): a turn that names nobody
    /// but says one of them speaks of the person the turn before it named.
    #[serde(default)]
    pub pronouns: Vec<String>,
    pub budget: BudgetLexicon,
    pub entities: EntityLexicon,
    #[serde(default)]
    pub roles: RoleLexicon,
}

/// How the roles stage says who a role is: word groups shared by the role patterns, pronouns
/// that point back to a person, and the speaker's answers about themself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleLexicon {
    /// Named alternations: `{name}` in a [[role]] pattern, prompt or `unless`, in `people` and
    /// in the entries below stands for `(?:alternation)`; a group may use groups defined in it.
    #[serde(default)]
    pub words: BTreeMap<String, String>,
    /// A `who` that is the speaker themself ("I", "me", "我"): a companion is named by their
    /// speaker label; the customer is not a role of their own profile.
    #[serde(default)]
    pub speaker: Vec<String>,
    /// A `who` that is one of these pronouns means the last person named before it (in the
    /// turn, then in the turns before) whose word does not say the other gender.
    #[serde(default)]
    pub she: Vec<String>,
    #[serde(default)]
    pub he: Vec<String>,
    #[serde(default)]
    pub they: Vec<String>,
    /// Words that name a woman or a man ("wife", "老公"): how a pronoun finds its person.
    #[serde(default)]
    pub female: Vec<String>,
    #[serde(default)]
    pub male: Vec<String>,
    /// In the salesperson's turn: one of the customer's people they name ("your wife", "您爱人");
    /// the `who` group is the person. A pronoun may point back to them; a yes to a role question
    /// that names one gives them the role.
    #[serde(default)]
    pub addressed: Vec<String>,
    /// A reply that starts like this answers a role question with the speaker ("Me.", "我自己").
    #[serde(default)]
    pub self_answer: Vec<String>,
    /// Dropped from the front of a `who` when comparing two: "my wife" and the companion
    /// labelled "Wife" are one person.
    #[serde(default)]
    pub possessive: Vec<String>,
    /// A `who` (matched whole) that names nobody: "Everybody says ...", a sentence's first word.
    #[serde(default)]
    pub not_people: Vec<String>,
    /// A companion's speaker label matching this is a relation ("Customer's wife", "客户妻子"):
    /// its `who` group (else all of it) names them, in lower case. Any other label is a name
    /// ("Jake") and stays as written.
    #[serde(default)]
    pub relation_label: Vec<String>,
    /// How far back (words, or characters in Chinese) a negation reaches a role: less than the
    /// language's `negation_window`, since ASR text without punctuation runs clauses together
    /// ("这个我做不了主得我老婆说了算").
    #[serde(default)]
    pub negation_window: Option<usize>,
    /// How many turns back a pronoun looks for its person.
    #[serde(default = "default_pronoun_reach")]
    pub pronoun_reach: usize,
}

fn default_pronoun_reach() -> usize {
    6
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetLexicon {
    /// Words that make a number the customer's budget ("budget", "afford", "预算").
    pub cues: Vec<String>,
    /// A salesperson question that makes the customer's next number a budget.
    pub questions: Vec<String>,
    pub monthly: Vec<String>,
    pub down: Vec<String>,
    /// Words that make a figure the whole price ("out the door", "落地"), so that an earlier
    /// talk of monthly payments does not turn it into one.
    #[serde(default)]
    pub total: Vec<String>,
    /// A turn that shows the customer thinks in monthly payments ("the monthly payment", "月供"):
    /// their later bare hundreds ("four-fifty, tops") are payments, not totals.
    #[serde(default)]
    pub monthly_talk: Vec<String>,
    /// Between two figures of one turn: the second corrects the first ("30, but 35k max") rather
    /// than closing a range with it ("around 40, maybe 42 max").
    #[serde(default)]
    pub correction: Vec<String>,
    pub at_most: Vec<String>,
    pub at_least: Vec<String>,
    /// Later in the turn of a figure: it was a ceiling ("..., and I don't want to go over that").
    #[serde(default)]
    pub at_most_later: Vec<String>,
    pub approximately: Vec<String>,
    /// After a figure: a little above it ("30万出头" is 300,000 to 330,000).
    #[serde(default)]
    pub just_over: Vec<String>,
    /// Numbers in these contexts are not the customer's budget (trade-in values, counter-offers
    /// to a seller, other people's prices).
    pub not_budget: Vec<String>,
    /// Phrases that keep a figure the customer's budget although its clause has a `not_budget`
    /// word ("with my trade, I'll go up to 38"): they are blanked before that check.
    #[serde(default)]
    pub still_budget: Vec<String>,
    /// Right after a figure: it is a difference between two prices, not a price ("two grand
    /// less than your sticker", "three thousand off").
    #[serde(default)]
    pub difference_after: Vec<String>,
    /// Right before a bare figure in digits (no currency, no "k"): it names a model or trim
    /// ("drive the 450", "the 2500 with the Cummins"), unless a kind word follows it.
    #[serde(default)]
    pub name_before: Vec<String>,
    /// Anywhere in a figure's sentence: the customer proposes the figure to the seller, a
    /// counter-offer rather than a budget ("十二万整，中不中？", "38万5落地，行的话今天就定").
    #[serde(default)]
    pub offer: Vec<String>,
    /// Right before a bare figure of 1 to 12 (no "k", "万" or currency): it is an hour, not money
    /// ("a dinner reservation at seven", "back by five").
    #[serde(default)]
    pub hour_before: Vec<String>,
    /// The customer takes the salesperson's figure as their own ("that's about my max").
    pub adopt: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityLexicon {
    /// Around a model the customer names: it is what they drive now.
    pub current_vehicle: Vec<String>,
    /// A salesperson's question about the customer's car ("what are you driving now?"): a model
    /// in the first sentence of the reply is that car.
    #[serde(default)]
    pub current_vehicle_question: Vec<String>,
    /// In a clause naming a model, it is another store's offer ("the Model X is cheaper",
    /// "别家的报价"): when the salesperson never says what the store sells, the first model the
    /// customer names outside such a clause is taken as the store's.
    #[serde(default)]
    pub rival_offer: Vec<String>,
    /// ... it is someone else's car, not an interest.
    pub someone_elses: Vec<String>,
    /// ... it is being compared or shopped elsewhere.
    pub competitor: Vec<String>,
    /// Before a feature name: it is missing or disappointing.
    pub feature_complaint: Vec<String>,
    /// Greeting phrases that name the store's brand ("welcome to", "欢迎光临").
    pub store_greeting: Vec<String>,
    /// Right before a model: it is the customer's own ("my Tacoma", "我那台思域").
    #[serde(default)]
    pub possessive: Vec<String>,
    /// In the sentence: the model is imagined, not wanted ("if I had the money I'd get").
    #[serde(default)]
    pub hypothetical: Vec<String>,
    /// After a model in its sentence: it has been ruled out ("不考虑", "crossed it off").
    #[serde(default)]
    pub rejected: Vec<String>,
    /// In the sentence: a dealer is buying the customer's car, not selling them one.
    #[serde(default)]
    pub trade_context: Vec<String>,
    /// In a salesperson's turn, right before a model: the model is the one the customer came for
    /// or drove ("How was the Equinox EV?", "thinking about the M340i", "您看的是Q5L"), unless
    /// the customer's reply turns it down.
    #[serde(default)]
    pub interest_named: Vec<String>,
    /// Right after a model's name: a trim, edition or powertrain said with it ("F Sport",
    /// "Long Range", "冠军版"), which the model's value keeps as said.
    #[serde(default)]
    pub trim: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRule {
    pub label: String,
    pub lang: Language,
    /// Regexes on a customer-side turn.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Regexes on the salesperson's question; an affirmative customer answer gives the label.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Regexes that veto the label when they occur in the same turn.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Regexes that veto the label when the salesperson's turn just before matches: "let's do
    /// it" answering "want to take it for a spin?" is a test drive, not a commitment.
    #[serde(default)]
    pub unless_prompt: Vec<String>,
    /// Regexes on the salesperson's statement; a customer complaint in reply ("that's too high",
    /// "太少了吧") gives the label: the rate, the trade value or the wait was objected to.
    #[serde(default)]
    pub objects_to: Vec<String>,
    #[serde(default = "yes")]
    pub negatable: bool,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactRule {
    pub key: String,
    pub lang: Language,
    pub patterns: Vec<String>,
    /// The value to record; without it the pattern's `value` group is used.
    #[serde(default)]
    pub value: Option<toml::Value>,
    #[serde(default = "yes")]
    pub negatable: bool,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    pub id: String,
    pub lang: Language,
    /// Regexes on a customer-side turn, with a `who` group; without it the speaker is who.
    pub patterns: Vec<String>,
    /// Regexes on the salesperson's question ("who'll be driving it?", "主要谁开"): the reply
    /// gives the role to the person it names first, to its speaker if it starts with a
    /// self-answer, or, if it says yes, to the prompt's `who` ("is it for your daughter?").
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Regexes that veto a match when they occur in its sentence ("if I had a son").
    #[serde(default)]
    pub unless: Vec<String>,
    /// A match inside a negation ("it's not for my son") does not count.
    #[serde(default = "yes")]
    pub negatable: bool,
    /// Role ids that make this rule's finding redundant for the same person: consulting the
    /// wife who has the final say does not make her an influencer as well.
    #[serde(default)]
    pub subsumed_by: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
}

/// A condition over what the analysis found: label ids, fact keys, role ids, cue ids, tag
/// ids, `budget`, `budget.total|monthly|down` and `companion`, plus metric bounds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default)]
    pub any: Vec<String>,
    #[serde(default)]
    pub all: Vec<String>,
    #[serde(default)]
    pub none: Vec<String>,
    /// How many of `any` must be present (default 1).
    #[serde(default)]
    pub at_least: Option<usize>,
    #[serde(default)]
    pub metrics: BTreeMap<String, Bounds>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bounds {
    pub fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

// No deny_unknown_fields on the structs that flatten a Condition (tag, tier, next-action and
// stage rules): serde does not support it beside `flatten`; the Condition rejects unknown keys.
#[derive(Debug, Clone, Deserialize)]
pub struct TagRule {
    pub id: String,
    pub category: TagCategory,
    /// The rule's own name, shown beside the tag; defaults to the tag id.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(flatten)]
    pub when: Condition,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetBand {
    pub tag: String,
    pub currency: String,
    pub kind: BudgetKind,
    pub min: f64,
    pub max: f64,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrioritySection {
    pub base: f64,
    pub hot_at: f64,
    pub warm_at: f64,
    #[serde(default, rename = "weight")]
    pub weights: Vec<Weight>,
    /// Tier rules that win over the score (a deposit is hot whatever else was said).
    #[serde(default, rename = "tier_rule")]
    pub tier_rules: Vec<TierRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub signal: String,
    pub points: f64,
    pub reason_en: String,
    pub reason_zh: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TierRule {
    pub tier: Tier,
    #[serde(flatten)]
    pub when: Condition,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NextActionRule {
    #[serde(flatten)]
    pub when: Condition,
    /// `{who}`, `{model}` and `{competitor}` are filled in from the analysis.
    pub en: String,
    pub zh: String,
    pub due_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSection {
    /// First matching rule gives the stage; none matching gives browsing.
    #[serde(rename = "stage")]
    pub stages: Vec<StageRule>,
    /// Probability of purchase within 30 days at an average score, per stage.
    pub p30: BTreeMap<String, f64>,
    /// How far the priority score moves p30 around its stage's base (0 = not at all).
    pub score_influence: f64,
    /// A monthly budget becomes a deal value over this many months.
    pub months_for_monthly: f64,
    /// Deal value when no budget or priced model is known, per currency.
    pub default_deal_value: BTreeMap<String, f64>,
}

/// `[profile]`: how a customer's conversations merge into one record (`src/profile/customer.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSection {
    /// No recorded contact for this many days gives the customer `beh.gone_quiet`.
    pub gone_quiet_days: u32,
    /// Labels that, like every objection, stop counting once a later visit moves past them
    /// (see `customer::build_profile`): "just looking" on a first visit says little after a
    /// second visit with a test drive.
    #[serde(default)]
    pub resolvable: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StageRule {
    pub stage: Stage,
    #[serde(flatten)]
    pub when: Condition,
}

fn yes() -> bool {
    true
}

fn default_confidence() -> f64 {
    0.75
}

/// `[asr]`: local speech transcription of audio sources (the `transcribe` stage).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsrSection {
    /// A model name from `dealerscope models list` (`tiny.en`, `base`) or a path to a
    /// whisper.cpp ggml file. `tiny.en` is English-only.
    #[serde(default = "default_asr_model")]
    pub model: String,
    /// Spoken language when `--lang` is not given; `auto` lets Whisper choose between
    /// English and Mandarin.
    #[serde(default)]
    pub language: AsrLanguage,
    /// Decoder threads (default: the machine's cores, at most 8).
    #[serde(default)]
    pub threads: Option<u16>,
    /// Skip non-speech with Silero VAD (model `vad`, fetched like the others).
    #[serde(default = "default_true")]
    pub vad: bool,
    /// Prompt for Mandarin: steers Whisper to simplified characters and punctuation.
    #[serde(default = "default_prompt_zh")]
    pub initial_prompt_zh: String,
    /// Temperature-fallback retries per 30-s window (0 = none, at most 5).
    #[serde(default = "default_max_fallbacks")]
    pub max_fallbacks: u8,
    /// Longest recording accepted, in seconds (bounds memory: 1 h of audio is 230 MB).
    #[serde(default = "default_max_duration")]
    pub max_duration_s: u32,
    #[serde(default)]
    pub attribution: AttributionSection,
}

impl Default for AsrSection {
    fn default() -> Self {
        AsrSection {
            model: default_asr_model(),
            language: AsrLanguage::Auto,
            threads: None,
            vad: true,
            initial_prompt_zh: default_prompt_zh(),
            max_fallbacks: default_max_fallbacks(),
            max_duration_s: default_max_duration(),
            attribution: AttributionSection::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsrLanguage {
    #[default]
    Auto,
    En,
    Zh,
}

/// `[asr.attribution]`: who said each transcribed segment (see `src/asr/attribution.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionSection {
    /// A silence at least this long (seconds) between segments changes the speaker.
    #[serde(default = "default_pause")]
    pub pause_s: f64,
    /// In a stereo recording, a channel this many times louder owns the segment.
    #[serde(default = "default_channel_ratio")]
    pub channel_ratio: f64,
    /// Phrases that mark the salesperson (greeting, quoting, offering).
    #[serde(default)]
    pub salesperson_cues: Vec<String>,
    /// Phrases that mark the customer (needs, budget, objections).
    #[serde(default)]
    pub customer_cues: Vec<String>,
    /// A silence at least this long (seconds) between two words splits a Whisper segment in
    /// two, so a turn change inside a segment can be attributed.
    #[serde(default = "default_split_pause")]
    pub split_pause_s: f64,
    /// Cluster the segments by voice (speaker embeddings, model `voice`).
    #[serde(default = "default_true")]
    pub voices: bool,
    /// Most voices to look for: 2 (salesperson, customer) or 3 (and a companion).
    #[serde(default = "default_max_speakers")]
    pub max_speakers: usize,
    /// Two voice clusters at least this similar (cosine of their mean embeddings) are one voice.
    #[serde(default = "default_same_voice")]
    pub same_voice_similarity: f32,
    /// A third cluster is a companion only if all three are less similar than this…
    #[serde(default = "default_companion_similarity")]
    pub companion_max_similarity: f32,
    /// …and it holds at least this share of the speech (0..1).
    #[serde(default = "default_companion_share")]
    pub companion_min_share: f64,
}

impl Default for AttributionSection {
    fn default() -> Self {
        AttributionSection {
            pause_s: default_pause(),
            channel_ratio: default_channel_ratio(),
            salesperson_cues: Vec::new(),
            customer_cues: Vec::new(),
            split_pause_s: default_split_pause(),
            voices: true,
            max_speakers: default_max_speakers(),
            same_voice_similarity: default_same_voice(),
            companion_max_similarity: default_companion_similarity(),
            companion_min_share: default_companion_share(),
        }
    }
}

fn default_asr_model() -> String {
    "base".into()
}
fn default_true() -> bool {
    true
}
fn default_prompt_zh() -> String {
    "以下是普通话的句子。".into()
}
fn default_max_fallbacks() -> u8 {
    2
}
fn default_max_duration() -> u32 {
    4 * 3600
}
fn default_pause() -> f64 {
    0.6
}
fn default_channel_ratio() -> f64 {
    2.0
}
fn default_split_pause() -> f64 {
    0.3
}
fn default_max_speakers() -> usize {
    2
}
fn default_same_voice() -> f32 {
    0.85
}
fn default_companion_similarity() -> f32 {
    0.6
}
fn default_companion_share() -> f64 {
    0.15
}

/// `[classifier]`: the utterance classifier stage and how its scores combine with the rules
/// (see `src/classify/stage.rs` and `models/classifier/MODEL_CARD.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSection {
    /// Directory of heads.onnx, tokenizer.json and thresholds.toml, relative to the directory
    /// of the file that sets it (or absolute).
    #[serde(default = "default_heads_dir")]
    pub heads_dir: String,
    /// Texts per encoder run.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Longest wait for ONNX Runtime to create its sessions, in seconds.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_s: u64,
    /// A turn the speaker-role head gives at least this probability of being the salesperson
    /// adds no label (mis-attributed speech).
    #[serde(default = "default_max_salesperson")]
    pub max_salesperson: f64,
    /// Per-label thresholds (preferences, objections, intents and decision roles) overriding
    /// the trained ones in thresholds.toml.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// No label is added below this score, whatever its threshold (1 adds none: the
    /// classifier then only drops rule detections).
    #[serde(default)]
    pub min_threshold: f64,
    /// `min_threshold` for the conversations in one language (`en`, `zh`).
    #[serde(default)]
    pub min_threshold_by_language: BTreeMap<Language, f64>,
    /// A label's own floor in one language, in place of `min_threshold(_by_language)`: the
    /// heads' scores are trustworthy for some labels and not for others, and which differs by
    /// language (`{ zh = { "intent.defer" = 0.9 } }`).
    #[serde(default)]
    pub min_threshold_by_label: BTreeMap<Language, BTreeMap<String, f64>>,
    /// No decision role is added below this score, whatever its threshold (1 adds none).
    /// Separate from `min_threshold`: the role heads are judged on their own.
    #[serde(default)]
    pub min_role_threshold: f64,
    /// `min_role_threshold` for the conversations in one language.
    #[serde(default)]
    pub min_role_threshold_by_language: BTreeMap<Language, f64>,
    /// Labels only the rules decide (valued labels need the value the gazetteers name).
    #[serde(default)]
    pub rules_only: Vec<String>,
    /// A rule pattern for the label that matched on the turn but inside a negation (or an
    /// `unless`) vetoes the classifier's label on that turn.
    #[serde(default = "default_true")]
    pub rules_veto_negated: bool,
    /// A rule detection of a `veto` label that the classifier scores below this on every turn
    /// it cites is dropped.
    #[serde(default)]
    pub drop_rules_below: f64,
    /// Labels whose rule detections the classifier may drop (`drop_rules_below`); the rules'
    /// detections of every other label stand whatever the classifier says.
    #[serde(default)]
    pub veto: Vec<String>,
    /// `drop_rules_below` for the conversations in one language (`en`, `zh`).
    #[serde(default)]
    pub drop_rules_below_by_language: BTreeMap<Language, f64>,
    /// The `veto` list for the conversations in one language: it replaces `veto` there (the
    /// rules' false positives differ by language, and so does what the classifier can judge).
    #[serde(default)]
    pub veto_by_language: BTreeMap<Language, Vec<String>>,
    /// A turn of several sentences is scored sentence by sentence (each with the same previous
    /// turn), and each label takes its highest score: one sentence embedding of a long turn
    /// favours one topic and buries the others. The whole turn is not scored as well: that
    /// made the encoder's work half as much again and moved macro-F1 on our 100 fixture
    /// conversations by 0.001.
    #[serde(default)]
    pub split_sentences: bool,
    /// The previous turn is given to the classifier by its last sentence only: the heads were
    /// trained on short questions and replies as context (median 7 words), and a salesperson's
    /// pitch is often long, while what the customer answers is its last sentence.
    #[serde(default)]
    pub context_last_sentence: bool,
}

impl Default for ClassifierSection {
    fn default() -> Self {
        ClassifierSection {
            heads_dir: default_heads_dir(),
            batch: default_batch(),
            session_timeout_s: default_session_timeout(),
            max_salesperson: default_max_salesperson(),
            thresholds: BTreeMap::new(),
            min_threshold: 0.0,
            min_threshold_by_language: BTreeMap::new(),
            min_threshold_by_label: BTreeMap::new(),
            min_role_threshold: 0.0,
            min_role_threshold_by_language: BTreeMap::new(),
            rules_only: Vec::new(),
            rules_veto_negated: true,
            drop_rules_below: 0.0,
            veto: Vec::new(),
            drop_rules_below_by_language: BTreeMap::new(),
            veto_by_language: BTreeMap::new(),
            split_sentences: false,
            context_last_sentence: false,
        }
    }
}

fn default_heads_dir() -> String {
    "../models/classifier".into()
}
fn default_batch() -> usize {
    32
}
fn default_session_timeout() -> u64 {
    120
}
fn default_max_salesperson() -> f64 {
    0.9
}
