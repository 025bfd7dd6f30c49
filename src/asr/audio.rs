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
use rubato::{Fft, FixedSync, Indexing, Resampler};
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

/// Decodes, downmixes and resamples a whole file to 16 kHz mono. `max_secs` bounds memory;
/// for long recordings read an [`AudioStream`] window by window instead.
pub fn load(path: &Path, max_secs: u32) -> Result<Audio, AudioError> {
    let mut stream = AudioStream::open(path, max_secs)?;
    let mut samples = Vec::new();
    loop {
        let piece = stream.read(1 << 20)?;
        if piece.is_empty() {
            break;
        }
        samples.extend_from_slice(&piece);
    }
    Ok(Audio {
        samples,
        source_rate: stream.source_rate(),
        source_channels: stream.source_channels(),
        energy: stream.energy(),
    })
}

/// An open recording, decoded, downmixed and resampled to 16 kHz mono one packet at a time:
/// [`AudioStream::read`] hands out the next samples, so a three-hour recording never sits in
/// memory whole (only the per-channel envelope grows with its length).
pub struct AudioStream {
    name: String,
    format: Box<dyn symphonia::core::formats::FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track_id: u32,
    max_secs: u32,
    rate: Option<u32>,
    channels: usize,
    source_frames: u64,
    interleaved: Vec<f32>,
    /// Source-rate mono of the last packet, before resampling.
    mono: Vec<f32>,
    resampler: Option<StreamResampler>,
    /// 16 kHz samples decoded but not handed out yet.
    ready: Vec<f32>,
    energy: Vec<Vec<f32>>,
    /// Per channel, the running sum of squares in the current envelope frame.
    acc: Vec<f64>,
    in_frame: usize,
    frame_len: usize,
    decode_errors: usize,
    decoded_packets: usize,
    ended: bool,
}

impl AudioStream {
    pub fn open(path: &Path, max_secs: u32) -> Result<Self, AudioError> {
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
        let format = symphonia::default::get_probe()
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
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| AudioError::Codec {
                path: name.clone(),
                reason: e.to_string(),
            })?;
        Ok(AudioStream {
            name,
            format,
            decoder,
            track_id,
            max_secs,
            rate: None,
            channels: 0,
            source_frames: 0,
            interleaved: Vec::new(),
            mono: Vec::new(),
            resampler: None,
            ready: Vec::new(),
            energy: Vec::new(),
            acc: Vec::new(),
            in_frame: 0,
            frame_len: 1,
            decode_errors: 0,
            decoded_packets: 0,
            ended: false,
        })
    }

    pub fn source_rate(&self) -> u32 {
        self.rate.unwrap_or(0)
    }

    pub fn source_channels(&self) -> usize {
        self.channels
    }

    /// Seconds of the source decoded so far (the whole length once [`read`](Self::read)
    /// has returned an empty piece).
    pub fn source_secs(&self) -> f64 {
        self.rate
            .map_or(0.0, |r| self.source_frames as f64 / f64::from(r))
    }

    /// The per-channel envelope of what was decoded so far, for sources with two or more
    /// channels.
    pub fn energy(&self) -> Option<ChannelEnergy> {
        (self.channels >= 2).then(|| ChannelEnergy {
            channels: self.energy.clone(),
        })
    }

    /// Up to `max` further samples (16 kHz mono); empty once the recording has ended. The
    /// errors of a whole-file load (no samples, too short, corrupt) are raised when the end
    /// is reached.
    pub fn read(&mut self, max: usize) -> Result<Vec<f32>, AudioError> {
        while self.ready.len() < max && !self.ended {
            if !self.decode_packet()? {
                self.finish()?;
            }
        }
        let n = max.min(self.ready.len());
        let rest = self.ready.split_off(n);
        Ok(std::mem::replace(&mut self.ready, rest))
    }

    fn corrupt(&self, reason: String) -> AudioError {
        AudioError::Corrupt {
            path: self.name.clone(),
            reason,
        }
    }

    /// Decodes the next packet into `ready`; false at the end of the stream.
    fn decode_packet(&mut self) -> Result<bool, AudioError> {
        let packet = match self.format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(false),
            // A truncated file ends in an unexpected EOF; keep what was decoded (players do
            // the same) — an empty result is reported at the end.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(false)
            }
            Err(SymError::ResetRequired) => return Ok(false), // chained streams: keep the first
            Err(e) => return Err(self.corrupt(e.to_string())),
        };
        if packet.track_id != self.track_id {
            return Ok(true);
        }
        let buf = match self.decoder.decode(&packet) {
            Ok(b) => b,
            // A corrupt packet: skip it, as players do, but not forever.
            Err(SymError::DecodeError(_)) if self.decode_errors < 100 => {
                self.decode_errors += 1;
                return Ok(true);
            }
            Err(e) => return Err(self.corrupt(e.to_string())),
        };
        self.decoded_packets += 1;
        let r = buf.spec().rate();
        let ch = buf.num_planes().max(1);
        if r == 0 {
            return Err(self.corrupt("sample rate 0".into()));
        }
        match self.rate {
            Some(old) if old != r => {
                return Err(AudioError::FormatChange {
                    path: self.name.clone(),
                    what: format!("rate {old} -> {r}"),
                })
            }
            Some(_) if self.channels != ch => {
                return Err(AudioError::FormatChange {
                    path: self.name.clone(),
                    what: format!("channels {} -> {ch}", self.channels),
                })
            }
            None => {
                self.rate = Some(r);
                self.channels = ch;
                self.energy = vec![Vec::new(); ch];
                self.acc = vec![0.0; ch];
                self.frame_len = ((f64::from(r) * ENERGY_FRAME_SECS) as usize).max(1);
                if r != WHISPER_RATE {
                    self.resampler =
                        Some(StreamResampler::new(r, WHISPER_RATE).map_err(|reason| {
                            AudioError::Resample {
                                path: self.name.clone(),
                                reason,
                            }
                        })?);
                }
            }
            _ => {}
        }
        self.interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut self.interleaved);
        let inv = 1.0 / ch as f32;
        self.mono.clear();
        for f in self.interleaved.chunks_exact(ch) {
            // Non-finite samples would poison the mix and Whisper's mel spectrogram.
            let clean = |x: f32| {
                if x.is_finite() {
                    x.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            };
            self.mono
                .push(f.iter().map(|&x| clean(x)).sum::<f32>() * inv);
            if ch >= 2 {
                for (a, &x) in self.acc.iter_mut().zip(f) {
                    *a += f64::from(clean(x)).powi(2);
                }
                self.in_frame += 1;
                if self.in_frame == self.frame_len {
                    for (e, a) in self.energy.iter_mut().zip(self.acc.iter_mut()) {
                        e.push((*a / self.frame_len as f64) as f32);
                        *a = 0.0;
                    }
                    self.in_frame = 0;
                }
            }
        }
        self.source_frames += self.mono.len() as u64;
        if self.source_frames > u64::from(self.max_secs) * u64::from(r) {
            return Err(AudioError::TooLong {
                path: self.name.clone(),
                limit_s: self.max_secs,
            });
        }
        match &mut self.resampler {
            Some(rs) => rs.push(&self.mono, &mut self.ready),
            None => {
                self.ready.extend_from_slice(&self.mono);
                Ok(())
            }
        }
        .map_err(|reason| AudioError::Resample {
            path: self.name.clone(),
            reason,
        })?;
        Ok(true)
    }

    /// End of stream: flush the resampler and report a recording that held nothing usable.
    fn finish(&mut self) -> Result<(), AudioError> {
        self.ended = true;
        if self.decoded_packets == 0 && self.decode_errors > 0 {
            let n = self.decode_errors;
            return Err(self.corrupt(format!("none of {n} packets could be decoded")));
        }
        if self.rate.is_none() || self.source_frames == 0 {
            return Err(AudioError::NoSamples(self.name.clone()));
        }
        let secs = self.source_secs();
        if secs < MIN_SECS {
            return Err(AudioError::TooShort {
                path: self.name.clone(),
                secs,
            });
        }
        if let Some(rs) = &mut self.resampler {
            rs.finish(&mut self.ready)
                .map_err(|reason| AudioError::Resample {
                    path: self.name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }
}

/// rubato's FFT resampler fed chunk by chunk: the same output as resampling the whole
/// recording at once (band-limited, so no aliasing from 44.1/48 kHz sources into the speech
/// band), with the resampler's start-up delay trimmed and the tail flushed.
struct StreamResampler {
    fft: Fft<f32>,
    pending: Vec<f32>,
    out: Vec<f32>,
    to_trim: usize,
    fed: u64,
    produced: u64,
}

impl StreamResampler {
    fn new(from: u32, to: u32) -> Result<Self, String> {
        let fft = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
            .map_err(|e| e.to_string())?;
        Ok(StreamResampler {
            to_trim: fft.output_delay(),
            out: vec![0.0; fft.output_frames_max()],
            fft,
            pending: Vec::new(),
            fed: 0,
            produced: 0,
        })
    }

    fn push(&mut self, input: &[f32], dst: &mut Vec<f32>) -> Result<(), String> {
        self.fed += input.len() as u64;
        self.pending.extend_from_slice(input);
        let n = self.fft.input_frames_next();
        let pending = std::mem::take(&mut self.pending);
        let mut chunks = pending.chunks_exact(n);
        for chunk in &mut chunks {
            self.chunk(chunk, None, dst)?;
        }
        self.pending = chunks.remainder().to_vec();
        Ok(())
    }

    fn chunk(
        &mut self,
        input: &[f32],
        partial: Option<usize>,
        dst: &mut Vec<f32>,
    ) -> Result<(), String> {
        let frames = input.len();
        let inp = InterleavedSlice::new(input, 1, frames).map_err(|e| e.to_string())?;
        let m = self.out.len();
        let mut out = InterleavedSlice::new_mut(&mut self.out, 1, m).map_err(|e| e.to_string())?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (_, produced) = self
            .fft
            .process_into_buffer(&inp, &mut out, indexing.as_ref())
            .map_err(|e| e.to_string())?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        dst.extend_from_slice(&self.out[skip..produced]);
        self.produced += (produced - skip) as u64;
        Ok(())
    }

    /// Feeds the last partial chunk and zeros until the output covers the input, then cuts
    /// the output to the exact resampled length.
    fn finish(&mut self, dst: &mut Vec<f32>) -> Result<(), String> {
        let expected = (self.fft.resample_ratio() * self.fed as f64).ceil() as u64;
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.chunk(&pending, Some(pending.len()), dst)?;
        }
        while self.produced < expected {
            self.chunk(&[], Some(0), dst)?;
        }
        let excess = (self.produced - expected) as usize;
        dst.truncate(dst.len() - excess.min(dst.len()));
        self.produced = expected;
        Ok(())
    }
}

/// Resamples mono audio held in memory (same resampler as [`AudioStream`]).
pub fn resample(samples: Vec<f32>, from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(samples);
    }
    let mut rs = StreamResampler::new(from, to)?;
    let mut out =
        Vec::with_capacity((samples.len() as f64 * f64::from(to) / f64::from(from)) as usize + 16);
    rs.push(&samples, &mut out)?;
    rs.finish(&mut out)?;
    Ok(out)
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
    fn streaming_in_small_pieces_equals_a_whole_load() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("tone.wav");
        let rate = 44_100u32;
        let n = rate as usize * 3 + 123;
        let mut b = Vec::new();
        let data: Vec<u8> = (0..n)
            .flat_map(|i| {
                let x = (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin() * 0.4;
                ((x * 32767.0) as i16).to_le_bytes()
            })
            .collect();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        std::fs::write(&p, b).expect("write");
        let whole = load(&p, 60).expect("load").samples;
        let mut stream = AudioStream::open(&p, 60).expect("open");
        let mut pieces = Vec::new();
        loop {
            let piece = stream.read(777).expect("read");
            assert!(piece.len() <= 777);
            if piece.is_empty() {
                break;
            }
            pieces.extend(piece);
        }
        assert_eq!(pieces, whole);
        // The same length as resampling the clip in one go.
        let expected = (n as f64 * 16_000.0 / f64::from(rate)).ceil() as usize;
        assert_eq!(whole.len(), expected);
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
