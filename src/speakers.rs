//! Stages that turn a source into a conversation: reading the transcript, naming each
//! speaker's role, and choosing the language.

use std::collections::HashSet;

use crate::config::PipelineConfig;
use crate::conversation::{Language, Speaker};
use crate::extract::gazetteer::fold;
use crate::pipeline::{AnalyzeError, Context, Stage};
use crate::transcript::{self, TranscriptError};

/// Reads `.txt` and `.json` transcripts.
pub struct TranscriptStage;

impl Stage for TranscriptStage {
    fn name(&self) -> &'static str {
        "transcript"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        if !cx.raw_turns.is_empty() {
            return Ok(()); // an earlier stage (transcription) already produced the turns
        }
        let name = cx.source_name();
        let ext = std::path::Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_lowercase();
        if crate::asr::AUDIO_EXTENSIONS.contains(&ext.as_str()) {
            return Err(AnalyzeError::Unsupported(format!(
                "{name}: audio needs the `transcribe` stage before `transcript` in the pipeline's [pipeline] stages"
            )));
        }
        let text = match &cx.source {
            crate::pipeline::context::Source::File(path) => transcript::read_text_file(path)?,
            crate::pipeline::context::Source::Text { text, .. } => {
                transcript::decode_text(text.as_bytes(), &name)?
            }
        };
        cx.raw_turns = match ext.as_str() {
            "json" => transcript::parse_json(&text, &name)?,
            "txt" | "text" | "" => transcript::parse_txt(&text),
            other => {
                return Err(AnalyzeError::Unsupported(format!(
                    "{name}: unsupported file type `.{other}` (expected .txt or .json transcripts, or audio)"
                )))
            }
        };
        if cx.raw_turns.is_empty() {
            return Err(TranscriptError::NoTurns(name).into());
        }
        Ok(())
    }
}

/// Assigns salesperson / customer / companion from the speaker names in the pipeline file.
pub struct SpeakerRolesStage {
    salesperson: HashSet<String>,
    customer: HashSet<String>,
    unknown: HashSet<String>,
}

impl SpeakerRolesStage {
    pub fn build(c: &PipelineConfig) -> Self {
        let set = |names: &[String]| names.iter().map(|n| fold(n)).collect();
        SpeakerRolesStage {
            salesperson: set(&c.speakers.salesperson),
            customer: set(&c.speakers.customer),
            unknown: set(&c.speakers.unknown),
        }
    }

    fn role_of(&self, label: &str) -> Speaker {
        let name = fold(label);
        if self.salesperson.contains(&name) {
            Speaker::Salesperson
        } else if self.customer.contains(&name) {
            Speaker::Customer
        } else if name.is_empty() || self.unknown.contains(&name) {
            Speaker::Unknown
        } else {
            Speaker::Companion
        }
    }
}

impl Stage for SpeakerRolesStage {
    fn name(&self) -> &'static str {
        "speaker_roles"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        let turns = std::mem::take(&mut cx.raw_turns);
        cx.conversation = transcript::to_conversation(turns, |label| self.role_of(label));
        if !cx
            .conversation
            .segments
            .iter()
            .any(|s| s.speaker == Speaker::Customer)
        {
            let name = cx.source_name();
            if crate::asr::is_audio_path(std::path::Path::new(&name)) {
                return Err(AnalyzeError::NoCustomerInRecording(name));
            }
            return Err(AnalyzeError::NoCustomerTurn(name));
        }
        Ok(())
    }
}

/// English or Mandarin: as the caller says, else from the characters of the transcript.
pub struct LanguageStage;

impl Stage for LanguageStage {
    fn name(&self) -> &'static str {
        "language"
    }

    fn run(&self, cx: &mut Context) -> Result<(), AnalyzeError> {
        cx.language = cx.options.language.unwrap_or_else(|| {
            Language::detect(cx.conversation.segments.iter().map(|s| s.text.as_str()))
        });
        Ok(())
    }
}
