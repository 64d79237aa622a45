"""Augmentation as in the DCASE 2022 source (SPEC 2): (a) device simulation - convolve each clip with a microphone
impulse response, then dynamic-range compression (pedalboard.Compressor), labels kept; (b) SpecAugment - two
frequency masks and two time masks on the features.
"""

from pathlib import Path

import numpy as np
import pedalboard
import scipy.signal

from ..errors import BadInput
from .readers import load_wav


def synthetic_device_irs(count, seed, sr=44100, seconds=0.01):
    """Microphone-like impulse responses: a direct path plus a short exponentially decaying, low-passed noise
    tail, each with its own colour. The source used recorded device IRs (MicIRP); `load_irs` reads such WAVs
    when the user has them. Returns a list of 1-D float32 arrays with unit energy."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    irs = []
    for _ in range(count):
        tail = rng.standard_normal(n) * np.exp(-t / rng.uniform(0.0005, 0.003))
        b, a = scipy.signal.butter(2, min(rng.uniform(2000, 12000), 0.45 * sr), fs=sr)
        ir = scipy.signal.lfilter(b, a, tail) * rng.uniform(0.2, 0.8)
        ir[0] += 1.0
        irs.append((ir / np.sqrt((ir ** 2).sum())).astype(np.float32))
    return irs


def load_irs(folder, sr):
    """Impulse responses from a folder of WAVs (e.g. MicIRP), resampled to `sr`."""
    files = sorted(Path(folder).glob("*.wav"))
    if not files:
        raise BadInput(f"{folder}: no impulse-response .wav files")
    return [load_wav(f, sr) for f in files]


def device_simulation(audio, sr, *, seed, irs=None, threshold_db=-20.0, ratio=4.0):
    """Each clip of `audio` (n, samples) convolved with an IR drawn from `irs` (default: 8 synthetic ones), then
    compressed by pedalboard's Compressor and brought back to its original RMS. Same shape, float32."""
    rng = np.random.default_rng(seed)
    audio = np.asarray(audio, np.float32)
    irs = irs or synthetic_device_irs(8, seed, sr)
    compressor = pedalboard.Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=5.0, release_ms=50.0)
    out = np.empty_like(audio)
    for i, clip in enumerate(audio):
        wet = scipy.signal.fftconvolve(clip, irs[rng.integers(len(irs))])[: clip.size].astype(np.float32)
        wet = compressor(wet, sr, reset=True)
        rms_in, rms_out = np.sqrt((clip ** 2).mean()), np.sqrt((wet ** 2).mean())
        out[i] = wet * (rms_in / rms_out if rms_out > 0 else 1.0)
    return out


DEVICE_SIMULATION_PARAMS = {"ir": "synthetic (direct path + 0.5-3 ms decaying tail) or user WAVs",
                            "compressor": "pedalboard.Compressor(threshold -20 dB, ratio 4, attack 5 ms, "
                                          "release 50 ms), RMS restored"}


def spec_augment(features, *, seed, freq_masks=2, time_masks=2, max_freq=8, max_time=8, freq_axis=1, time_axis=2):
    """SpecAugment masking (Park et al. 2019) on a batch of features; masked cells take the example's mean.
    Hand-written: no library in the stack offers it for numpy/Keras 2 (tensorflow-io is not a dependency).
    Each mask has a width drawn from 0..max and a random start. Returns a masked copy."""
    rng = np.random.default_rng(seed)
    out = np.array(features, dtype=np.float32, copy=True)
    n, n_freq, n_time = out.shape[0], out.shape[freq_axis], out.shape[time_axis]
    means = out.reshape(n, -1).mean(axis=1)
    for axis, size, count, widest in ((freq_axis, n_freq, freq_masks, max_freq),
                                      (time_axis, n_time, time_masks, max_time)):
        for _ in range(count):
            width = rng.integers(0, min(widest, size) + 1, n)
            start = rng.integers(0, size - width + 1)
            positions = np.arange(size)
            inside = (positions >= start[:, None]) & (positions < (start + width)[:, None])  # (n, size)
            shape = [n] + [1] * (out.ndim - 1)
            shape[axis] = size
            mask = inside.reshape(shape)
            out = np.where(mask, means.reshape([n] + [1] * (out.ndim - 1)), out)
    return out
