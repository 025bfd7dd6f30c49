//! Audio decoding (symphonia) to what Whisper expects: mono f32 at 16 kHz (rubato resampler).
//!
//! Containers and codecs: WAV (PCM), MP3, FLAC, Ogg/Vorbis, AAC (raw ADTS or in MP4/M4A).
//! Opus (.opus, .webm) is not decoded by symphonia and is refused with a clear message.
//!
//! Besides the mono mix, a stereo source keeps a coarse per-channel loudness envelope
//! ([`ChannelEnergy`]): some showroom recorders put the salesperson's lapel microphone on one
//! channel and the room (customer) on the other, and speaker attribution uses that. An
//! envelope of 10 ms frames costs 800 bytes per channel-second instead of keeping both
//! channels' samples.

use std::fs::File;
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Whisper's input sample rate.
pub const WHISPER_RATE: u32 = 16_000;

/// Length of one frame of [`ChannelEnergy`].
pub const ENERGY_FRAME_SECS: f64 = 0.01;

/// Shorter than this holds no word; whisper.cpp also refuses input under 100 ms.
pub const MIN_SECS: f64 = 0.1;

/// Errors raised while loading audio. Each names the file: the CLI prints them as one line.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is empty (0 bytes)")]
    EmptyFile(String),
    #[error("{path}: not a readable audio file (unsupported or corrupt container: {reason})")]
    Probe { path: String, reason: String },
    #[error("{0}: no audio track")]
    NoTrack(String),
    #[error("{path}: unsupported audio codec ({reason}); convert it to WAV, FLAC, MP3, M4A or Ogg Vorbis")]
    Codec { path: String, reason: String },
    #[error("{path}: audio is corrupt or truncated ({reason})")]
    Corrupt { path: String, reason: String },
    #[error("{path}: the audio format changes mid-stream ({what})")]
    FormatChange { path: String, what: String },
    #[error("{0}: the recording holds no audio samples")]
    NoSamples(String),
    #[error("{path}: the recording is only {secs:.3} s long, too short to hold speech")]
    TooShort { path: String, secs: f64 },
    #[error("{path}: the recording is longer than the {limit_s} s limit")]
    TooLong { path: String, limit_s: u32 },
    #[error("{path}: resampling to 16 kHz failed: {reason}")]
    Resample { path: String, reason: String },
}

/// Per-channel loudness, mean square per [`ENERGY_FRAME_SECS`] frame (source channels in order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelEnergy {
    pub channels: Vec<Vec<f32>>,
}

impl ChannelEnergy {
    /// Mean square of each channel between two times (seconds).
    pub fn between(&self, start: f64, end: f64) -> Vec<f64> {
        let frame = |t: f64| (t.max(0.0) / ENERGY_FRAME_SECS) as usize;
        self.channels
            .iter()
            .map(|c| {
                let (a, b) = (frame(start).min(c.len()), frame(end).min(c.len()));
                let s = c.get(a..b.max(a)).unwrap_or(&[]);
                if s.is_empty() {
                    0.0
                } else {
                    s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64
                }
            })
            .collect()
    }
}

/// Decoded audio, ready for Whisper.
#[derive(Debug, Clone)]
pub struct Audio {
    /// Mono samples (mean of the channels) at [`WHISPER_RATE`].
    pub samples: Vec<f32>,
    pub source_rate: u32,
    pub source_channels: usize,
    /// Present for sources with two or more channels.
    pub energy: Option<ChannelEnergy>,
}

impl Audio {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(WHISPER_RATE)
    }

    /// Root mean square of the whole recording (0 for digital silence).
    pub fn rms(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sq: f64 = self
            .samples
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum();
        (sq / self.samples.len() as f64).sqrt()
    }
}

/// Mono samples at the source rate plus the per-channel envelope.
struct Decoded {
    mono: Vec<f32>,
    rate: u32,
    channels: usize,
    energy: Vec<Vec<f32>>,
}

/// Decodes, downmixes and resamples a file to 16 kHz mono. `max_secs` bounds memory.
pub fn load(path: &Path, max_secs: u32) -> Result<Audio, AudioError> {
    let name = path.display().to_string();
    let d = decode(path, max_secs)?;
    let secs = d.mono.len() as f64 / f64::from(d.rate);
    if d.mono.is_empty() {
        return Err(AudioError::NoSamples(name));
    }
    if secs < MIN_SECS {
        return Err(AudioError::TooShort { path: name, secs });
    }
    let samples =
        resample(d.mono, d.rate, WHISPER_RATE).map_err(|reason| AudioError::Resample {
            path: name.clone(),
            reason,
        })?;
    if samples.is_empty() {
        // whisper.cpp misbehaves on zero samples; never hand it an empty buffer.
        return Err(AudioError::NoSamples(name));
    }
    Ok(Audio {
        samples,
        source_rate: d.rate,
        source_channels: d.channels,
        energy: (d.channels >= 2).then_some(ChannelEnergy { channels: d.energy }),
    })
}

fn decode(path: &Path, max_secs: u32) -> Result<Decoded, AudioError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| AudioError::Open {
        path: name.clone(),
        source,
    })?;
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        return Err(AudioError::EmptyFile(name));
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Probe {
            path: name.clone(),
            reason: e.to_string(),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::NoTrack(name.clone()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::NoTrack(name.clone()))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Codec {
            path: name.clone(),
            reason: e.to_string(),
        })?;

    let corrupt = |e: SymError| AudioError::Corrupt {
        path: name.clone(),
        reason: e.to_string(),
    };
    let mut mono: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = None;
    let mut channels: Option<usize> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    // Envelope accumulation: per channel, running sum of squares in the current frame.
    let mut energy: Vec<Vec<f32>> = Vec::new();
    let mut acc: Vec<f64> = Vec::new();
    let mut in_frame = 0usize;
    let mut frame_len = 1usize;
    let mut decode_errors = 0usize;
    let mut decoded_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated file ends in an unexpected EOF; keep what was decoded (players do
            // the same) — an empty result is reported below.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break, // chained streams: keep the first
            Err(e) => return Err(corrupt(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // A corrupt packet: skip it, as players do, but not forever.
            Err(SymError::DecodeError(_)) if decode_errors < 100 => {
                decode_errors += 1;
                continue;
            }
            Err(e) => return Err(corrupt(e)),
        };
        decoded_packets += 1;
        let r = buf.spec().rate();
        let ch = buf.num_planes().max(1);
        if r == 0 {
            return Err(AudioError::Corrupt {
                path: name.clone(),
                reason: "sample rate 0".into(),
            });
        }
        match (rate, channels) {
            (Some(old), _) if old != r => {
                return Err(AudioError::FormatChange {
                    path: name.clone(),
                    what: format!("rate {old} -> {r}"),
                })
            }
            (_, Some(old)) if old != ch => {
                return Err(AudioError::FormatChange {
                    path: name.clone(),
                    what: format!("channels {old} -> {ch}"),
                })
            }
            (None, _) => {
                rate = Some(r);
                channels = Some(ch);
                energy = vec![Vec::new(); ch];
                acc = vec![0.0; ch];
                frame_len = ((f64::from(r) * ENERGY_FRAME_SECS) as usize).max(1);
            }
            _ => {}
        }
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved);
        let inv = 1.0 / ch as f32;
        for f in interleaved.chunks_exact(ch) {
            // Non-finite samples would poison the mix and Whisper's mel spectrogram.
            let clean = |x: f32| {
                if x.is_finite() {
                    x.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            };
            mono.push(f.iter().map(|&x| clean(x)).sum::<f32>() * inv);
            if ch >= 2 {
                for (a, &x) in acc.iter_mut().zip(f) {
                    *a += f64::from(clean(x)).powi(2);
                }
                in_frame += 1;
                if in_frame == frame_len {
                    for (e, a) in energy.iter_mut().zip(acc.iter_mut()) {
                        e.push((*a / frame_len as f64) as f32);
                        *a = 0.0;
                    }
                    in_frame = 0;
                }
            }
        }
        if mono.len() as u64 > u64::from(max_secs) * u64::from(r) {
            return Err(AudioError::TooLong {
                path: name.clone(),
                limit_s: max_secs,
            });
        }
    }
    if decoded_packets == 0 && decode_errors > 0 {
        return Err(AudioError::Corrupt {
            path: name,
            reason: format!("none of {decode_errors} packets could be decoded"),
        });
    }
    let (Some(rate), Some(channels)) = (rate, channels) else {
        return Err(AudioError::NoSamples(name));
    };
    Ok(Decoded {
        mono,
        rate,
        channels,
        energy,
    })
}

/// Resamples mono audio with rubato's FFT resampler (band-limited, so no aliasing from
/// 44.1/48 kHz sources into the speech band).
pub fn resample(samples: Vec<f32>, from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(samples);
    }
    let n = samples.len();
    let mut rs = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(&samples, 1, n).map_err(|e| e.to_string())?;
    let out = rs.process_all(&input, n, None).map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_preserves_duration_and_tone() {
        let rate = 44_100u32;
        let samples: Vec<f32> = (0..rate)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5)
            .collect();
        let out = resample(samples, rate, 16_000).expect("resample");
        assert!((out.len() as i64 - 16_000).abs() <= 2, "{}", out.len());
        let peak = out[2000..14000].iter().fold(0f32, |a, x| a.max(x.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{peak}");
    }

    #[test]
    fn energy_between_averages_frames() {
        let e = ChannelEnergy {
            channels: vec![vec![1.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 4.0, 4.0]],
        };
        assert_eq!(e.between(0.0, 0.02), vec![1.0, 0.0]);
        assert_eq!(e.between(0.02, 0.04), vec![0.0, 4.0]);
        assert_eq!(
            e.between(0.5, 0.9),
            vec![0.0, 0.0],
            "past the end is silence"
        );
    }

    #[test]
    fn garbage_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("x.wav");
        std::fs::write(&p, b"RIFF\x10\x00\x00\x00WAVEjunkjunk").expect("write");
        assert!(load(&p, 10).is_err());
        std::fs::write(&p, b"").expect("write");
        assert!(matches!(load(&p, 10), Err(AudioError::EmptyFile(_))));
        assert!(matches!(
            load(Path::new("/nonexistent.wav"), 10),
            Err(AudioError::Open { .. })
        ));
    }
}
