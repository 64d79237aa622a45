"""Audio front ends, one function per model family, computed with librosa.

Each function takes one clip or a batch (..., samples) at sample rate `sr`, resamples to the rate the front end
was specified at, fixes the length, and returns model-ready float32 features. Each has a `params` dict (its
defaults), recorded in the report; `describe(name, **overrides)` gives the dict for one configuration.
"""

import numpy as np
import librosa

from ..errors import BadInput


def fix_rate_and_length(audio, sr, target_sr, length):
    """Resample (librosa, soxr) to `target_sr` and pad with zeros / trim to `length` samples."""
    audio = np.asarray(audio, dtype=np.float32)
    if sr != target_sr:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=target_sr, axis=-1)
    return librosa.util.fix_length(audio, size=length, axis=-1).astype(np.float32)


def dcase_mel(audio, sr=44100, n_mels=80):
    """DCASE 2022 Task 1 front end ("Procesado_1"): 1 s at 44.1 kHz, n_fft = window = 1764 (40 ms), hop 882 (20 ms),
    center=True -> (n_mels, 51) log-mel in dB (power_to_db, ref 1.0, floor -100 dB)."""
    p = dcase_mel.params
    audio = fix_rate_and_length(audio, sr, p["sample_rate"], p["sample_rate"] * p["seconds"])
    mel = librosa.feature.melspectrogram(y=audio, sr=p["sample_rate"], n_fft=p["n_fft"], win_length=p["win_length"],
                                         hop_length=p["hop_length"], center=True, n_mels=n_mels, power=2.0)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


dcase_mel.params = {"name": "dcase_mel", "sample_rate": 44100, "seconds": 1, "n_fft": 1764, "win_length": 1764,
                    "hop_length": 882, "n_mels": 80, "center": True, "scale": "power_to_db (ref 1.0, amin 1e-10)",
                    "shape": [80, 51]}


def cae_log_spectrogram(audio, sr=4000):
    """CAE front end: |STFT| with n_fft 254 (128 bins), hop 128 at 4 kHz, 6.24 s -> (128, 196) frames, in dB
    relative to the clip's maximum with an 80 dB floor, scaled to [0, 1]. The source gives only the shape
    (128 x 196, log spectrogram, values in [0, 1]); 4 kHz covers baleen-whale calls (below 2 kHz)."""
    p = cae_log_spectrogram.params
    audio = fix_rate_and_length(audio, sr, p["sample_rate"], p["hop_length"] * (p["frames"] - 1))
    mag = np.abs(librosa.stft(audio, n_fft=p["n_fft"], hop_length=p["hop_length"], center=True))
    ref = np.maximum(mag.max(axis=(-2, -1), keepdims=True), 1e-10)
    db = librosa.amplitude_to_db(mag / ref, ref=1.0, amin=1e-10, top_db=None)
    return ((np.clip(db, -p["top_db"], 0.0) + p["top_db"]) / p["top_db"]).astype(np.float32)


cae_log_spectrogram.params = {"name": "cae_log_spectrogram", "sample_rate": 4000, "n_fft": 254, "hop_length": 128,
                              "frames": 196, "seconds": 6.24, "center": True, "top_db": 80.0,
                              "scale": "amplitude_to_db relative to clip max, clipped at -80 dB, mapped to [0, 1]",
                              "shape": [128, 196]}


def mae_mel_frames(audio, sr=24000, n_mels=64, seconds=2.0):
    """EnCodecMAE-lite front end: 24 kHz, Hann window 640, hop 320 (75 frames/s), log-mel; each frame is a token.
    Returns (frames, n_mels) with frames = 75 * seconds (librosa's centred extra frame dropped). Log is
    log(mel + 1e-5) as in EnCodecMAE's feature extractor."""
    p = mae_mel_frames.params
    rate, hop = p["sample_rate"], p["hop_length"]
    frames = int(round(seconds * rate / hop))
    audio = fix_rate_and_length(audio, sr, rate, frames * hop)
    mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=p["n_fft"], win_length=p["win_length"],
                                         hop_length=hop, window="hann", center=True, n_mels=n_mels, power=2.0)
    logmel = np.log(mel[..., :frames] + 1e-5)
    return np.swapaxes(logmel, -1, -2).astype(np.float32)


mae_mel_frames.params = {"name": "mae_mel_frames", "sample_rate": 24000, "n_fft": 640, "win_length": 640,
                         "hop_length": 320, "frames_per_second": 75, "n_mels": 64, "seconds": 2.0, "center": True,
                         "scale": "log(mel + 1e-5)", "shape": [150, 64]}


def raw_waveform(audio, sr=16000, sample_rate=16000, length=32000):
    """Raw waveform (speech CNN, effects): resampled to `sample_rate`, fixed to `length`, shape (..., length, 1)."""
    return fix_rate_and_length(audio, sr, sample_rate, length)[..., None]


raw_waveform.params = {"name": "raw_waveform", "sample_rate": 16000, "length": 32000, "shape": [32000, 1]}

FRONTENDS = {f.params["name"]: f for f in (dcase_mel, cae_log_spectrogram, mae_mel_frames, raw_waveform)}
# Keyword arguments each front end accepts as an override (the rest of `params` is fixed by the source).
OVERRIDABLE = {"dcase_mel": ("n_mels",), "cae_log_spectrogram": (), "mae_mel_frames": ("n_mels", "seconds"),
               "raw_waveform": ("sample_rate", "length")}


def describe(name, **overrides) -> dict:
    """The front end's parameters for the report, with `overrides` applied and the output shape updated."""
    if name not in FRONTENDS:
        raise BadInput(f"frontend '{name}': unknown, expected one of {', '.join(FRONTENDS)}")
    unknown = set(overrides) - set(OVERRIDABLE[name])
    if unknown:
        allowed = ", ".join(OVERRIDABLE[name]) or "nothing"
        raise BadInput(f"frontend '{name}': unknown parameter(s) {', '.join(sorted(unknown))}; can override {allowed}")
    params = dict(FRONTENDS[name].params, **overrides)
    if name == "dcase_mel":
        params["shape"] = [params["n_mels"], 51]
    elif name == "mae_mel_frames":
        params["shape"] = [int(round(params["seconds"] * params["frames_per_second"])), params["n_mels"]]
    elif name == "raw_waveform":
        params["shape"] = [params["length"], 1]
    return params


def apply(params: dict, audio, sr):
    """Run the front end `params` describes (as returned by `describe`) on a clip or a batch."""
    name = params["name"]
    kwargs = {k: params[k] for k in OVERRIDABLE[name]}
    return FRONTENDS[name](audio, sr, **kwargs)
