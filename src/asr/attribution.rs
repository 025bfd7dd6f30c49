//! Who said each transcribed segment: salesperson, customer or companion.
//!
//! Steps, each cheap and explainable:
//!
//! 1. **Split.** Whisper often writes one segment across a turn change. Segments are cut
//!    between two words (Whisper's token timestamps) separated by a silence of `split_pause_s`
//!    or, in a stereo recording, where the louder channel changes.
//! 2. **Channels.** When a stereo recording carries the two sides on different channels (a
//!    lapel microphone on the salesperson, a room or phone microphone for the customer), each
//!    segment goes to the channel that is clearly louder over its span.
//! 3. **Voices.** Otherwise (a mono mix, or a segment where neither channel dominates), each
//!    segment's voice embedding ([`super::voice`], from the mono mix) is clustered
//!    ([`super::cluster`]) into two voices, or three when a third is clearly distinct and
//!    holds enough speech (`max_speakers = 3`: the companion). One voice found means the
//!    voices cannot be told apart, and step 4 decides alone.
//! 4. **Words.** The lexical cues of `[asr.attribution]` (a salesperson greets, quotes prices,
//!    offers test drives; a customer states needs, budget and objections) name the groups:
//!    the channel or voice whose segments carry more salesperson cues is the salesperson; on a
//!    tie, the first to speak is (in a showroom the salesperson opens); of the other two
//!    voices, the one with more speech is the customer. A segment with neither a channel nor
//!    a voice (too short to embed, or no second voice found) takes its cues, else changes
//!    speaker after a pause of `pause_s` or a question, else continues the previous speaker.
//!
//! Limits (documented in the README): the voice model (GE2E, trained on read English
//! speech at 16 kHz) separates clearly different voices well but similar voices (two men of
//! the same age and accent) poorly, and telephone-band audio worse; segments under 0.3 s get
//! no embedding; overlapping speech goes to one side; a word-level split depends on Whisper's
//! token timestamps, which can be off by a few hundred milliseconds; naming by cue words
//! fails when the customer says more sales-like phrases than the salesperson.

use super::audio::ChannelEnergy;
use super::cluster::{self, ClusterSettings};
use super::transcribe::Segment;
use super::voice::VoiceEncoder;
use crate::config::AttributionSection;
use crate::conversation::is_cjk;
use crate::transcript::RawTurn;

pub const SALESPERSON: &str = "Salesperson";
pub const CUSTOMER: &str = "Customer";
pub const COMPANION: &str = "Companion";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Salesperson,
    Customer,
    Companion,
}

impl Side {
    /// Who speaks after a turn change: the salesperson answers the customer's side.
    fn other(self) -> Side {
        match self {
            Side::Salesperson => Side::Customer,
            Side::Customer | Side::Companion => Side::Salesperson,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Side::Salesperson => SALESPERSON,
            Side::Customer => CUSTOMER,
            Side::Companion => COMPANION,
        }
    }
}

/// Settings and cue phrases, normalised once.
pub struct Attributor {
    pause_s: f64,
    split_pause_s: f64,
    channel_ratio: f64,
    voices: bool,
    clustering: ClusterSettings,
    salesperson: Vec<String>,
    customer: Vec<String>,
}

/// Lower case, punctuation to spaces, padded so that ` cue ` matches whole words only
/// (Chinese is matched as a substring: it has no spaces).
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            let c = if c == '’' { '\'' } else { c };
            out.extend(c.to_lowercase());
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

fn cue_pattern(cue: &str) -> String {
    if cue.chars().any(is_cjk) {
        cue.trim().to_string()
    } else {
        normalise(cue)
    }
}

fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

impl Attributor {
    pub fn new(c: &AttributionSection) -> Self {
        let prep = |cues: &[String]| {
            cues.iter()
                .map(|c| cue_pattern(c))
                .filter(|c| !c.trim().is_empty())
                .collect()
        };
        Attributor {
            pause_s: c.pause_s,
            split_pause_s: c.split_pause_s,
            channel_ratio: c.channel_ratio,
            voices: c.voices,
            clustering: ClusterSettings {
                max_speakers: c.max_speakers,
                same_voice_similarity: c.same_voice_similarity,
                companion_max_similarity: c.companion_max_similarity,
                companion_min_share: c.companion_min_share,
                min_share: MIN_VOICE_SHARE,
            },
            salesperson: prep(&c.salesperson_cues),
            customer: prep(&c.customer_cues),
        }
    }

    /// Whether voice embeddings are wanted (`voices = true`).
    pub fn uses_voices(&self) -> bool {
        self.voices
    }

    /// Salesperson cues minus customer cues found in `text`.
    pub fn score(&self, text: &str) -> i32 {
        let norm = normalise(text);
        let count =
            |cues: &[String]| cues.iter().filter(|c| norm.contains(c.as_str())).count() as i32;
        count(&self.salesperson) - count(&self.customer)
    }

    /// The louder channel over a span, if one is `channel_ratio` times louder.
    fn loud_channel(&self, energy: &ChannelEnergy, start: f64, end: f64) -> Option<usize> {
        let e = energy.between(start, end);
        let (l, r) = (e.first()? + 1e-12, e.get(1)? + 1e-12);
        if l / r >= self.channel_ratio {
            Some(0)
        } else if r / l >= self.channel_ratio {
            Some(1)
        } else {
            None
        }
    }

    /// Cuts segments between words where the speaker may change: a silence of at least
    /// `split_pause_s`, or (two channels) a change of the louder channel. Every piece keeps
    /// some words and at least [`MIN_PIECE_S`] of speech; segments without word times stay
    /// whole.
    pub fn split(&self, segments: Vec<Segment>, energy: Option<&ChannelEnergy>) -> Vec<Segment> {
        let energy = energy.filter(|e| e.channels.len() == 2);
        let mut out = Vec::with_capacity(segments.len());
        for seg in segments {
            let words = &seg.words;
            let channels: Vec<Option<usize>> = match energy {
                Some(e) => words
                    .iter()
                    .map(|w| self.loud_channel(e, w.start, w.end.max(w.start + 0.01)))
                    .collect(),
                None => vec![None; words.len()],
            };
            let mut cuts: Vec<usize> = Vec::new();
            let mut last_channel = None;
            let mut piece_from = 0;
            for i in 1..words.len() {
                last_channel = channels[i - 1].or(last_channel);
                let pause = words[i].start - words[i - 1].end >= self.split_pause_s;
                let switch = matches!((last_channel, channels[i]), (Some(a), Some(b)) if a != b);
                // Both pieces must hold words and enough speech for a voice embedding: a
                // shorter piece is more often a mistimed word than a turn.
                let piece = |ws: &[super::transcribe::Word]| {
                    ws.iter().any(|w| has_words(&w.text))
                        && ws.last().map_or(0.0, |l| l.end) - ws.first().map_or(0.0, |f| f.start)
                            >= MIN_PIECE_S
                };
                if (pause || switch) && piece(&words[piece_from..i]) && piece(&words[i..]) {
                    cuts.push(i);
                    piece_from = i;
                }
            }
            if cuts.is_empty() {
                out.push(seg);
                continue;
            }
            let bounds: Vec<usize> = std::iter::once(0)
                .chain(cuts)
                .chain(std::iter::once(words.len()))
                .collect();
            let last = bounds.len() - 2;
            // Pieces tile the segment, meeting halfway between the words either side of a
            // cut: Whisper's word times are too rough to trust the gap itself.
            let meet = |i: usize| (words[i - 1].end + words[i].start) / 2.0;
            for (k, w) in bounds.windows(2).enumerate() {
                let piece = &words[w[0]..w[1]];
                out.push(Segment {
                    start: if k == 0 { seg.start } else { meet(w[0]) },
                    end: if k == last { seg.end } else { meet(w[1]) },
                    text: piece
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<String>()
                        .trim()
                        .to_string(),
                    pause_before: if k == 0 {
                        seg.pause_before
                    } else {
                        (piece[0].start - words[w[0] - 1].end).max(0.0)
                    },
                    words: piece.to_vec(),
                });
            }
        }
        out
    }

    /// [`Attributor::split`] for one stretch of audio's segments (times on the recording's
    /// clock; `samples` begin at `offset` seconds), then each piece's voice embedding when
    /// an encoder is given (one `None` per piece otherwise).
    pub fn split_and_embed(
        &self,
        segments: Vec<Segment>,
        energy: Option<&ChannelEnergy>,
        encoder: Option<&VoiceEncoder>,
        samples: &[f32],
        offset: f64,
    ) -> (Vec<Segment>, Vec<Option<Vec<f32>>>) {
        let pieces = self.split(segments, energy);
        let voices = match encoder {
            Some(enc) => {
                let spans: Vec<(f64, f64)> = pieces
                    .iter()
                    .map(|s| (s.start - offset, s.end - offset))
                    .collect();
                enc.embed_spans(samples, &spans)
            }
            None => vec![None; pieces.len()],
        };
        (pieces, voices)
    }

    /// Labels every segment. `energy` is the per-channel envelope of a stereo source;
    /// `voices` one embedding per segment (`None` where too short), when voices are used.
    pub fn attribute(
        &self,
        segments: &[Segment],
        energy: Option<&ChannelEnergy>,
        voices: Option<&[Option<Vec<f32>>]>,
    ) -> Vec<RawTurn> {
        let by_channel = energy.and_then(|e| self.channel_sides(segments, e));
        let by_voice = voices
            .filter(|v| self.voices && v.len() == segments.len())
            .and_then(|v| self.voice_sides(segments, v));
        let mut sides: Vec<Side> = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            let known = |by: &Option<Vec<Option<Side>>>| by.as_ref().and_then(|c| c[i]);
            if let Some(side) = known(&by_channel).or_else(|| known(&by_voice)) {
                sides.push(side);
                continue;
            }
            let score = self.score(&seg.text);
            let side = match (i.checked_sub(1).map(|p| (&segments[p], sides[p])), score) {
                (_, s) if s > 0 => Side::Salesperson,
                (_, s) if s < 0 => Side::Customer,
                (None, _) => Side::Salesperson,
                (Some((prev, prev_side)), _) => {
                    let asked = prev.text.trim_end().ends_with(['?', '？']);
                    if seg.pause_before >= self.pause_s || asked {
                        prev_side.other()
                    } else {
                        prev_side
                    }
                }
            };
            sides.push(side);
        }
        segments
            .iter()
            .zip(sides)
            .map(|(s, side)| RawTurn {
                start: Some(s.start),
                end: Some(s.end),
                speaker: side.label().to_string(),
                text: s.text.clone(),
            })
            .collect()
    }

    /// Names groups of segments (channels or voice clusters, `groups[i]` = segment `i`'s
    /// group): the group with the most salesperson cues is the salesperson (on a tie, the
    /// group that speaks first); of the others, the one with the most speech is the customer
    /// and any further group a companion.
    fn name_groups(&self, segments: &[Segment], groups: &[Option<usize>]) -> Vec<Side> {
        let n = groups.iter().flatten().max().map_or(0, |m| m + 1);
        let mut score = vec![0i32; n];
        let mut speech = vec![0f64; n];
        for (s, g) in segments.iter().zip(groups) {
            if let Some(g) = *g {
                score[g] += self.score(&s.text);
                speech[g] += s.end - s.start;
            }
        }
        let first = groups.iter().flatten().next().copied().unwrap_or(0);
        let sales = (0..n)
            .max_by(|&a, &b| {
                score[a]
                    .cmp(&score[b])
                    .then((a == first).cmp(&(b == first)))
            })
            .unwrap_or(0);
        let mut rest: Vec<usize> = (0..n).filter(|&g| g != sales).collect();
        rest.sort_by(|&a, &b| speech[b].total_cmp(&speech[a]));
        let mut sides = vec![Side::Companion; n];
        if let Some(s) = sides.get_mut(sales) {
            *s = Side::Salesperson;
        }
        if let Some(&c) = rest.first() {
            sides[c] = Side::Customer;
        }
        sides
    }

    /// The voice clusters of the segments' embeddings (`speakers` = voices found).
    pub fn voices_found(
        &self,
        segments: &[Segment],
        voices: &[Option<Vec<f32>>],
    ) -> cluster::Clustering {
        let weights: Vec<f64> = segments.iter().map(|s| s.end - s.start).collect();
        cluster::cluster(voices, &weights, &self.clustering)
    }

    /// Per segment, the side of its voice cluster; `None` overall when fewer than two voices
    /// are found.
    fn voice_sides(
        &self,
        segments: &[Segment],
        voices: &[Option<Vec<f32>>],
    ) -> Option<Vec<Option<Side>>> {
        let c = self.voices_found(segments, voices);
        tracing::debug!(
            voices = c.speakers,
            similarity = c.similarity,
            "voice clusters"
        );
        if c.speakers < 2 {
            return None;
        }
        let names = self.name_groups(segments, &c.labels);
        Some(c.labels.iter().map(|l| l.map(|g| names[g])).collect())
    }

    /// Per segment, the side of the clearly louder channel, or `None` for that segment when
    /// neither dominates. `None` overall when the channels carry the same signal (a mono
    /// recording saved as stereo) or there are not two channels.
    fn channel_sides(
        &self,
        segments: &[Segment],
        energy: &ChannelEnergy,
    ) -> Option<Vec<Option<Side>>> {
        if energy.channels.len() != 2 || segments.is_empty() {
            return None;
        }
        let loud: Vec<Option<usize>> = segments
            .iter()
            .map(|s| self.loud_channel(energy, s.start, s.end))
            .collect();
        let decided = loud.iter().filter(|c| c.is_some()).count();
        let both_used = loud.contains(&Some(0)) && loud.contains(&Some(1));
        if decided * 2 < segments.len() || !both_used {
            return None;
        }
        let names = self.name_groups(segments, &loud);
        Some(loud.iter().map(|c| c.map(|ch| names[ch])).collect())
    }
}

/// The shortest piece a segment is split into (seconds).
const MIN_PIECE_S: f64 = 1.0;

/// A voice cluster with less speech than this share is an outlier while clustering (a cough,
/// a word of a passer-by), merged into a voice before voices are counted.
const MIN_VOICE_SHARE: f64 = 0.05;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::transcribe::Word;

    fn cfg() -> AttributionSection {
        AttributionSection {
            pause_s: 0.8,
            channel_ratio: 2.0,
            salesperson_cues: vec!["welcome".into(), "would you like".into(), "欢迎".into()],
            customer_cues: vec!["i'm looking for".into(), "my budget".into(), "预算".into()],
            ..AttributionSection::default()
        }
    }

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            start,
            end,
            text: text.into(),
            pause_before: 0.0,
            words: Vec::new(),
        }
    }

    /// Segments in order, with the pause before each taken from the times.
    fn timed(list: &[(f64, f64, &str)]) -> Vec<Segment> {
        let mut prev_end = 0.0;
        list.iter()
            .map(|&(a, b, t)| {
                let mut s = seg(a, b, t);
                s.pause_before = a - prev_end;
                prev_end = b;
                s
            })
            .collect()
    }

    fn labels(turns: &[RawTurn]) -> Vec<&str> {
        turns.iter().map(|t| t.speaker.as_str()).collect()
    }

    #[test]
    fn cues_pauses_and_questions_change_turns() {
        let a = Attributor::new(&cfg());
        let segs = timed(&[
            (0.0, 2.0, "Hello and welcome to the showroom."),
            (2.2, 3.0, "What can I do for you?"),
            (3.3, 5.0, "I'm looking for a family SUV."),
            (5.1, 6.0, "Something safe."),
            (7.5, 9.0, "Sure, we have the RAV4 here."),
            (9.1, 10.0, "My budget is thirty thousand."),
        ]);
        assert_eq!(
            labels(&a.attribute(&segs, None, None)),
            [
                SALESPERSON,
                SALESPERSON,
                CUSTOMER,
                CUSTOMER,
                SALESPERSON,
                CUSTOMER
            ]
        );
    }

    #[test]
    fn whole_words_only_and_chinese_substrings() {
        let a = Attributor::new(&cfg());
        assert_eq!(a.score("Welcome!"), 1);
        assert_eq!(a.score("unwelcome news"), 0);
        assert_eq!(a.score("I’m looking for a truck"), -1);
        assert_eq!(a.score("您好，欢迎光临"), 1);
        assert_eq!(a.score("我们预算二十万"), -1);
    }

    #[test]
    fn stereo_channels_decide_when_they_differ() {
        let a = Attributor::new(&cfg());
        // Customer (right, channel 1) speaks first, but the left channel greets: left is sales.
        let frames = |on: &[(usize, usize)]| {
            let mut v = vec![0.0f32; 1000];
            for &(a, b) in on {
                v[a..b].iter_mut().for_each(|x| *x = 0.1);
            }
            v
        };
        let energy = ChannelEnergy {
            channels: vec![frames(&[(200, 400)]), frames(&[(0, 150), (450, 600)])],
        };
        let segs = [
            seg(0.0, 1.5, "Excuse me?"),
            seg(2.0, 4.0, "Welcome, would you like a coffee"),
            seg(4.5, 6.0, "Yes please"),
        ];
        assert_eq!(
            labels(&a.attribute(&segs, Some(&energy), None)),
            [CUSTOMER, SALESPERSON, CUSTOMER]
        );
        // Identical channels: falls back to the mono rules (first speaker = salesperson).
        let same = ChannelEnergy {
            channels: vec![vec![0.1; 1000], vec![0.1; 1000]],
        };
        assert_eq!(
            labels(&a.attribute(&segs, Some(&same), None))[0],
            SALESPERSON
        );
    }

    /// A segment with word times: (start, end, text with its leading space).
    fn worded(list: &[(f64, f64, &str)]) -> Segment {
        let words: Vec<Word> = list
            .iter()
            .map(|&(start, end, text)| Word {
                start,
                end,
                text: text.into(),
            })
            .collect();
        Segment {
            start: list[0].0,
            end: list[list.len() - 1].1,
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<String>()
                .trim()
                .into(),
            pause_before: 0.4,
            words,
        }
    }

    #[test]
    fn segments_split_between_words_at_a_pause() {
        let a = Attributor::new(&cfg());
        let segment = worded(&[
            (0.0, 0.4, " Would"),
            (0.4, 0.6, " you"),
            (0.6, 0.9, " like"),
            (0.9, 1.5, " coffee?"),
            (2.0, 2.4, " Yes"),
            (2.4, 3.0, " please."),
        ]);
        let pieces = a.split(vec![segment], None);
        let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Would you like coffee?", "Yes please."]);
        assert_eq!((pieces[0].start, pieces[0].end), (0.0, 1.75));
        assert_eq!((pieces[1].start, pieces[1].end), (1.75, 3.0));
        assert_eq!(
            pieces[0].pause_before, 0.4,
            "the segment's own pause is kept"
        );
        assert!((pieces[1].pause_before - 0.5).abs() < 1e-9);
        // Words close together, or no word times at all: the segment stays whole.
        let close = worded(&[(0.0, 0.5, " Fine"), (0.6, 1.0, " thanks.")]);
        assert_eq!(a.split(vec![close.clone()], None), vec![close]);
        let bare = seg(0.0, 3.0, "No word times.");
        assert_eq!(a.split(vec![bare.clone()], None), vec![bare]);
        // A pause before punctuation alone does not make a piece without words, nor does one
        // before a single short word.
        let dangling = worded(&[(0.0, 1.5, " Okay"), (2.5, 3.6, ".")]);
        assert_eq!(a.split(vec![dangling], None).len(), 1);
        let short = worded(&[(0.0, 1.5, " Take your time"), (2.0, 2.3, " too.")]);
        assert_eq!(a.split(vec![short], None).len(), 1);
    }

    #[test]
    fn stereo_segments_split_where_the_louder_channel_changes() {
        let a = Attributor::new(&cfg());
        // Left speaks 0-1.5 s, right 1.5-3 s, with no pause between them.
        let mut left = vec![0.0f32; 300];
        let mut right = vec![0.0f32; 300];
        left[..150].fill(0.1);
        right[150..].fill(0.1);
        let energy = ChannelEnergy {
            channels: vec![left, right],
        };
        let segment = worded(&[
            (0.0, 0.7, " Here"),
            (0.7, 1.5, " you go."),
            (1.5, 2.2, " Thank"),
            (2.2, 3.0, " you."),
        ]);
        let pieces = a.split(vec![segment.clone()], Some(&energy));
        let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Here you go.", "Thank you."]);
        // The same segment in mono stays whole.
        assert_eq!(a.split(vec![segment], None).len(), 1);
    }

    #[test]
    fn voices_decide_turns_and_cue_words_name_the_voices() {
        let a = Attributor::new(&cfg());
        // Back-to-back turns without pauses or questions: the baseline keeps one speaker.
        let segs = [
            seg(0.0, 2.0, "Welcome in, have a look around."),
            seg(2.1, 4.0, "Thanks, just browsing today."),
            seg(4.1, 6.0, "Nothing particular in mind."),
            seg(6.1, 8.0, "Sure, take your time."),
            seg(8.1, 8.3, "Ok."),
        ];
        let voice = |axis: usize| {
            let mut v = vec![0.1f32; 8];
            v[axis] = 1.0;
            Some(v)
        };
        let voices = [voice(0), voice(3), voice(3), voice(0), None];
        assert_eq!(
            labels(&a.attribute(&segs, None, Some(&voices[..]))),
            [SALESPERSON, CUSTOMER, CUSTOMER, SALESPERSON, SALESPERSON]
        );
        // The welcoming voice is the salesperson even when the customer speaks first.
        let customer_first = [
            seg(0.0, 2.0, "Hi there, just browsing."),
            seg(2.1, 4.0, "Welcome in, have a look around."),
            seg(4.1, 6.0, "Thanks a lot."),
        ];
        let voices_cf = [voice(3), voice(0), voice(3)];
        assert_eq!(
            labels(&a.attribute(&customer_first, None, Some(&voices_cf[..]))),
            [CUSTOMER, SALESPERSON, CUSTOMER]
        );
        // One voice only: no voice evidence, the lexical rules decide.
        let one = [voice(0), voice(0), voice(0), voice(0), None];
        assert_eq!(
            a.voices_found(&segs, &one).speakers,
            1,
            "identical embeddings are one voice"
        );
        assert_eq!(
            labels(&a.attribute(&segs, None, Some(&one[..]))),
            labels(&a.attribute(&segs, None, None))
        );
    }
}
