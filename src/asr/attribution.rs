//! Who said each transcribed segment: a baseline speaker attribution for two-party showroom
//! recordings, labelling segments `Salesperson` or `Customer`.
//!
//! Two sources of evidence, both cheap and explainable:
//!
//! 1. **Channels.** When a stereo recording carries the two sides on different channels (a
//!    lapel microphone on the salesperson, a room or phone microphone for the customer), each
//!    segment goes to the channel that is clearly louder over its span. The channel that says
//!    more salesperson phrases is the salesperson's; on a tie, the first to speak is.
//! 2. **Turns in a mono mix.** Each segment is scored with the pipeline's lexical cues
//!    (`[asr.attribution]`: a salesperson greets, quotes prices, offers test drives; a customer
//!    states needs, budget and objections). A segment with more cues of one side is that side;
//!    a segment without a decisive cue changes speaker after a pause of `pause_s` or after a
//!    question, and otherwise continues the previous speaker. The first speaker is the
//!    salesperson unless their words say otherwise (in a showroom the salesperson opens).
//!
//! Limits (documented in the README): no voice modelling, so back-to-back speech without a
//! pause or a cue stays with the previous speaker; a speaker who pauses mid-turn is split
//! into a false turn change; a third voice (a spouse) is folded into one of the two sides;
//! cue phrases can be said by the other side ("how much is it" from a salesperson quoting).
//! It is a baseline to measure diarization against, not a diarizer.

use super::audio::ChannelEnergy;
use super::transcribe::Segment;
use crate::config::AttributionSection;
use crate::conversation::is_cjk;
use crate::transcript::RawTurn;

pub const SALESPERSON: &str = "Salesperson";
pub const CUSTOMER: &str = "Customer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Salesperson,
    Customer,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Salesperson => Side::Customer,
            Side::Customer => Side::Salesperson,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Side::Salesperson => SALESPERSON,
            Side::Customer => CUSTOMER,
        }
    }
}

/// Cue phrases normalised once.
pub struct Attributor {
    pause_s: f64,
    channel_ratio: f64,
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
            channel_ratio: c.channel_ratio,
            salesperson: prep(&c.salesperson_cues),
            customer: prep(&c.customer_cues),
        }
    }

    /// Salesperson cues minus customer cues found in `text`.
    pub fn score(&self, text: &str) -> i32 {
        let norm = normalise(text);
        let count =
            |cues: &[String]| cues.iter().filter(|c| norm.contains(c.as_str())).count() as i32;
        count(&self.salesperson) - count(&self.customer)
    }

    /// Labels every segment. `energy` is the per-channel envelope of a stereo source.
    pub fn attribute(&self, segments: &[Segment], energy: Option<&ChannelEnergy>) -> Vec<RawTurn> {
        let by_channel = energy.and_then(|e| self.channel_sides(segments, e));
        let mut sides: Vec<Side> = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            if let Some(Some(side)) = by_channel.as_ref().map(|c| c[i]) {
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
            .map(|s| {
                let e = energy.between(s.start, s.end);
                let (l, r) = (e[0] + 1e-12, e[1] + 1e-12);
                if l / r >= self.channel_ratio {
                    Some(0)
                } else if r / l >= self.channel_ratio {
                    Some(1)
                } else {
                    None
                }
            })
            .collect();
        let decided = loud.iter().filter(|c| c.is_some()).count();
        let both_used = loud.contains(&Some(0)) && loud.contains(&Some(1));
        if decided * 2 < segments.len() || !both_used {
            return None;
        }
        let score_of = |ch: usize| -> i32 {
            segments
                .iter()
                .zip(&loud)
                .filter(|(_, c)| **c == Some(ch))
                .map(|(s, _)| self.score(&s.text))
                .sum()
        };
        let first = loud.iter().flatten().next().copied().unwrap_or(0);
        let salesperson_channel = match score_of(0).cmp(&score_of(1)) {
            std::cmp::Ordering::Greater => 0,
            std::cmp::Ordering::Less => 1,
            std::cmp::Ordering::Equal => first,
        };
        Some(
            loud.into_iter()
                .map(|c| {
                    c.map(|ch| {
                        if ch == salesperson_channel {
                            Side::Salesperson
                        } else {
                            Side::Customer
                        }
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AttributionSection {
        AttributionSection {
            pause_s: 0.8,
            channel_ratio: 2.0,
            salesperson_cues: vec!["welcome".into(), "would you like".into(), "欢迎".into()],
            customer_cues: vec!["i'm looking for".into(), "my budget".into(), "预算".into()],
        }
    }

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            start,
            end,
            text: text.into(),
            pause_before: 0.0,
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
            labels(&a.attribute(&segs, None)),
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
            labels(&a.attribute(&segs, Some(&energy))),
            [CUSTOMER, SALESPERSON, CUSTOMER]
        );
        // Identical channels: falls back to the mono rules (first speaker = salesperson).
        let same = ChannelEnergy {
            channels: vec![vec![0.1; 1000], vec![0.1; 1000]],
        };
        assert_eq!(labels(&a.attribute(&segs, Some(&same)))[0], SALESPERSON);
    }
}
