"""Built-in synthetic audio, one generator per family, deterministic from a seed and vectorized in numpy.

No library synthesises these sounds, so they are written here; each is a small, documented signal model chosen so
that the family's model has something real to learn (a class that shows in the front end, a structure to
reconstruct, a nonlinearity to emulate). The effects target is produced by real pedalboard plugins.
"""

import numpy as np
import pedalboard
import scipy.fft

# ---- shared helpers -------------------------------------------------------------------------------------------


def _u(rng, low, high, size=None):
    """Uniform draws as float32, so the big arrays they scale stay float32 (half the time and memory)."""
    return np.asarray(rng.uniform(low, high, size), dtype=np.float32)


def shaped_noise(rng, n, samples, sr, gain_db_of_freq):
    """White noise shaped in the frequency domain: `gain_db_of_freq(freqs) -> (n, F)` dB gains; unit RMS output."""
    spec = scipy.fft.rfft(rng.standard_normal((n, samples), dtype=np.float32), axis=-1, workers=2)
    freqs = np.fft.rfftfreq(samples, 1 / sr).astype(np.float32)
    spec *= (10 ** (gain_db_of_freq(np.maximum(freqs, 1.0)) / 20)).astype(np.float32)
    out = scipy.fft.irfft(spec, n=samples, axis=-1, workers=2)
    return out / (out.std(axis=-1, keepdims=True) + 1e-9)


def gaussian_bump_db(freqs, centre, width_octaves, gain_db):
    """A resonance as a Gaussian in log-frequency; centre/width/gain broadcast as (n, 1)."""
    return gain_db * np.exp(-0.5 * (np.log2(freqs / centre) / width_octaves) ** 2)


def sweep(t, f_start, f_end, duration, sr, shape="exp"):
    """Phase-continuous frequency sweep from f_start to f_end over `duration` seconds (t >= 0 inside the call)."""
    u = np.clip(t / duration, 0, 1)
    freq = f_start * (f_end / f_start) ** u if shape == "exp" else f_start + (f_end - f_start) * u
    return np.sin(2 * np.pi * np.cumsum(freq, axis=-1) / sr), freq


def hann_window_at(t, duration):
    """Hann envelope over 0 <= t < duration, zero elsewhere."""
    inside = (t >= 0) & (t < duration)
    return np.where(inside, 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(t / duration, 0, 1)), 0.0)


def normalise_peak(audio, peak=0.5):
    return (audio * (peak / (np.abs(audio).max(axis=-1, keepdims=True) + 1e-9))).astype(np.float32)


# ---- CAE: whale-like upsweep calls in coloured ocean noise ----------------------------------------------------

def whale_calls(n, seed, sr=4000, seconds=6.24):
    """Baleen-whale-like upsweeps (right whale "up-calls": about 60-120 Hz rising to 180-350 Hz over 0.6-1.4 s,
    two harmonics) - one to three per clip - in 1/f^alpha ocean noise (alpha 0-2.5, white to brown) with shipping
    hum below 200 Hz (0-20 dB), SNR 10-25 dB. Returns (n, samples) float32 peak-normalised to 0.5."""
    rng = np.random.default_rng(seed)
    samples = int(round(sr * seconds))
    alpha = _u(rng, 0.0, 2.5, (n, 1))
    hum = _u(rng, 0, 20, (n, 1))
    noise = shaped_noise(rng, n, samples, sr,
                         lambda f: -10 * alpha * np.log10(f / 100) + gaussian_bump_db(f, 80.0, 0.7, hum))
    calls = np.zeros((n, samples), np.float32)
    n_calls = rng.integers(1, 4, n)
    width = int(1.4 * sr)  # the longest call; each call is computed on its own window only
    local = np.arange(width, dtype=np.float32) / sr
    for k in range(3):
        rows = np.flatnonzero(n_calls > k)
        dur = _u(rng, 0.6, 1.4, (rows.size, 1))
        start = rng.integers(0, samples - width, rows.size)
        f0, f1 = _u(rng, 60, 120, (rows.size, 1)), _u(rng, 180, 350, (rows.size, 1))
        tone, _ = sweep(local[None, :], f0, f1, dur, sr)
        tone2, _ = sweep(local[None, :], 2 * f0, 2 * f1, dur, sr)
        calls[rows[:, None], start[:, None] + np.arange(width)] += (tone + 0.4 * tone2) * hann_window_at(local, dur)
    snr_db = _u(rng, 10, 25, (n, 1))
    calls *= 10 ** (snr_db / 20) / np.sqrt(2.0)  # a unit sine has RMS 1/sqrt(2) against unit-RMS noise
    return normalise_peak(noise + calls)


# ---- DCASE: 10 acoustic scenes recorded by simulated devices -------------------------------------------------

SCENES = ("airport", "shopping_mall", "metro_station", "street_pedestrian", "public_square", "street_traffic",
          "tram", "bus", "metro", "park")
# Per scene: spectral tilt (dB/decade), a resonance (Hz, octaves, dB), amplitude modulation (Hz, depth), the kind
# of foreground events (tone = steady harmonic hum/whine, chirp = bird-like sweeps, click = footsteps/rail joints,
# squeal = brake squeal) and their base frequency (Hz).
SCENE_MODEL = {
    "airport":           dict(tilt=-10, band=(300, 1.2, 10), am=(0.3, 0.3), event="tone", f=700),
    "shopping_mall":     dict(tilt=-12, band=(1000, 1.0, 8), am=(4.0, 0.5), event="click", f=2000),
    "metro_station":     dict(tilt=-18, band=(150, 0.8, 12), am=(0.5, 0.3), event="squeal", f=3500),
    "street_pedestrian": dict(tilt=-10, band=(2000, 1.0, 6), am=(4.0, 0.3), event="click", f=1000),
    "public_square":     dict(tilt=-6, band=(4000, 1.0, 4), am=(0.2, 0.2), event="chirp", f=3000),
    "street_traffic":    dict(tilt=-24, band=(100, 0.8, 10), am=(0.2, 0.8), event="none", f=0),
    "tram":              dict(tilt=-15, band=(400, 0.6, 10), am=(0.8, 0.2), event="tone", f=220),
    "bus":               dict(tilt=-21, band=(80, 0.6, 14), am=(1.0, 0.3), event="tone", f=60),
    "metro":             dict(tilt=-18, band=(250, 0.8, 12), am=(1.5, 0.6), event="click", f=300),
    "park":              dict(tilt=-3, band=(6000, 1.0, 3), am=(0.1, 0.1), event="chirp", f=5000),
}
DEVICES = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
TRAIN_DEVICES = ("a", "b", "c", "s1", "s2", "s3")  # s4-s6 appear only in the test split, as in TAU 2022


def device_response_db(device, freqs):
    """A device's frequency response in dB: high-pass, low-pass and three bumps, fixed per device (not per seed),
    so a device sounds the same in every data set. Device "a" (the reference microphone) is nearly flat."""
    d = DEVICES.index(device)
    rng = np.random.default_rng(1000 + d)
    flat = d == 0
    hp, lp = (20.0, 20000.0) if flat else (_u(rng, 80, 400), _u(rng, 6000, 16000))
    response = -10 * np.log10(1 + (hp / freqs) ** 4) - 10 * np.log10(1 + (freqs / lp) ** 4)
    for _ in range(0 if flat else 3):
        response = response + gaussian_bump_db(freqs, _u(rng, 200, 8000), _u(rng, 0.3, 1.0),
                                               _u(rng, -8, 8))
    return response


EVENT_SHARE = 0.6  # clips that carry their scene's foreground events


def acoustic_scenes(n, seed, devices=TRAIN_DEVICES, sr=44100):
    """1 s clips of the 10 scenes, classes balanced, each "recorded" by a device drawn from `devices` (the
    reference device "a" as often as all others together, as in TAU). Returns (audio (n, sr), labels, device
    names).

    Each clip's spectral tilt, band, level and modulation rate scatter widely around its scene's values and only
    60 % of clips carry the scene's foreground events, so neighbouring scenes overlap as in TAU (where the best
    low-complexity systems reach about 50 %): a small model trained on a few hundred clips stays well short of one
    trained on thousands, the regime distillation is for."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(SCENES)
    rng.shuffle(labels)
    weights = np.array([len(devices) - 1.0 if d == "a" else 1.0 for d in devices])
    device_names = rng.choice(np.array(devices), size=n, p=weights / weights.sum())
    models = [SCENE_MODEL[SCENES[k]] for k in labels]
    col = lambda values: np.array(values, dtype=np.float32)[:, None]  # noqa: E731
    tilt = col([m["tilt"] for m in models]) + _u(rng, -7.5, 7.5, (n, 1))
    centre = col([m["band"][0] for m in models]) * np.exp(_u(rng, -0.55, 0.55, (n, 1)))
    width = col([m["band"][1] for m in models])
    gain = col([m["band"][2] for m in models]) + _u(rng, -7.5, 7.5, (n, 1))
    audio = shaped_noise(rng, n, sr, sr, lambda f: tilt * np.log10(f / 1000) + gaussian_bump_db(f, centre, width, gain))
    t = np.arange(sr, dtype=np.float32) / sr
    am_rate = col([m["am"][0] for m in models]) * np.exp(_u(rng, -0.875, 0.875, (n, 1)))
    am_depth = col([m["am"][1] for m in models])
    audio *= 1 + am_depth * np.sin(2 * np.pi * am_rate * t + _u(rng, 0, 2 * np.pi, (n, 1)))
    events = _scene_events(rng, [m["event"] for m in models], col([m["f"] for m in models]), t, sr)
    audio += events * (rng.uniform(size=(n, 1)) < EVENT_SHARE)
    # the device: its frequency response and its own noise floor, applied to the whole recording
    spec = scipy.fft.rfft(audio, axis=-1, workers=2)
    freqs = np.maximum(np.fft.rfftfreq(sr, 1 / sr), 1.0)
    responses = {d: (10 ** (device_response_db(d, freqs) / 20)).astype(np.float32) for d in set(device_names)}
    spec *= np.stack([responses[d] for d in device_names])
    audio = scipy.fft.irfft(spec, n=sr, axis=-1, workers=2)
    floor = np.array([0.01 if d == "a" else 0.05 for d in device_names], np.float32)[:, None]
    audio += floor * audio.std(axis=-1, keepdims=True) * rng.standard_normal(audio.shape, dtype=np.float32)
    level = 10 ** (_u(rng, -12, 0, (n, 1)) / 20)
    return normalise_peak(audio) * level.astype(np.float32), labels.astype(np.int64), list(device_names)


def _scene_events(rng, kinds, base_freq, t, sr):
    """Foreground events for the clips whose scene has them, at 0-6 dB above the unit-RMS background. Short
    events are computed on their own window only (fancy indexing), which keeps generation fast."""
    n, samples = len(kinds), t.size
    out = np.zeros((n, samples), np.float32)
    kinds = np.array(kinds)
    level = _u(rng, 1.0, 2.0, (n, 1)).astype(np.float32)  # 0-6 dB
    idx = np.flatnonzero(kinds == "tone")
    if idx.size:  # steady harmonic hum or motor whine, four harmonics
        f0 = base_freq[idx] * _u(rng, 0.9, 1.1, (idx.size, 1)).astype(np.float32)
        out[idx] = sum(np.sin(2 * np.pi * h * f0 * t + _u(rng, 0, 6.3, (idx.size, 1)).astype(np.float32)) / h
                       for h in range(1, 5))
    for kind, duration, count in (("chirp", 0.12, 5), ("click", 0.03, 4), ("squeal", 0.5, 1)):
        idx = np.flatnonzero(kinds == kind)
        width = int(duration * sr)
        local = np.arange(width, dtype=np.float32) / sr
        for _ in range(count if idx.size else 0):
            start = rng.integers(0, samples - width, idx.size)
            if kind == "click":  # a short burst of noise decaying in 5 ms
                event = 3 * rng.standard_normal((idx.size, width), dtype=np.float32) * np.exp(-local / 0.005)
            else:
                f = base_freq[idx] * _u(rng, 0.8, 1.25, (idx.size, 1)).astype(np.float32)
                event, _ = sweep(local[None, :], f, f * (1.6 if kind == "chirp" else 1.05), duration, sr)
                event = 2 * event * np.hanning(width).astype(np.float32)
            out[idx[:, None], start[:, None] + np.arange(width)] += event
    return out * level


# ---- effects: plucked strings through a pedalboard fuzz -------------------------------------------------------

def plucked_strings(seconds, seed, sr=44100):
    """Guitar-like dry signal: Karplus-Strong plucked strings (E2-E5), notes of 0.15-0.8 s that ring on under
    the next, random velocity and pluck brightness, peak 0.5. Returns 1-D float32."""
    rng = np.random.default_rng(seed)
    samples = int(round(seconds * sr))
    out = np.zeros(samples + sr, np.float32)
    onset = 0
    while onset < samples:
        period = int(round(sr / (82.41 * 2 ** (rng.integers(0, 37) / 12))))
        ring = int(sr * _u(rng, 0.5, 1.2))
        burst = _u(rng, -1, 1, period)
        smooth = int(rng.integers(1, 4))  # a softer pluck: moving-average the excitation
        burst = np.convolve(burst, np.ones(smooth) / smooth, mode="same") * _u(rng, 0.2, 1.0)
        decay = _u(rng, 0.990, 0.998)
        note = _karplus_strong(burst, ring, decay)
        end = min(onset + ring, out.size)
        out[onset:end] += note[: end - onset]
        onset += int(sr * _u(rng, 0.15, 0.8))
    return normalise_peak(out[:samples])


def _karplus_strong(burst, length, decay):
    """y[n] = decay * (y[n-P] + y[n-P-1]) / 2 seeded with `burst`, computed one period at a time (vectorized
    within the period: scipy's lfilter would run the P-long feedback at P times the cost)."""
    period = burst.size
    y = np.zeros(length + period + 1, np.float32)
    y[1:period + 1] = burst
    pos = period + 1
    while pos < y.size:
        end = min(pos + period, y.size)
        y[pos:end] = decay * 0.5 * (y[pos - period:end - period] + y[pos - period - 1:end - period - 1])
        pos = end
    return y[1:length + 1]


def fuzz_pedal(sample_rate=44100):
    """The effect to emulate: a fuzz built from real pedalboard plugins - input high-pass (tightens the low end),
    heavy Distortion (tanh waveshaper, 30 dB drive), a tone low-pass and output level, as in a Big Muff's
    clip-then-tone structure."""
    return pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=100.0),
                                  pedalboard.Distortion(drive_db=30.0),
                                  pedalboard.LowpassFilter(cutoff_frequency_hz=3000.0),
                                  pedalboard.Gain(gain_db=-12.0)])


FUZZ_PARAMS = {"plugins": ["HighpassFilter(100 Hz)", "Distortion(drive 30 dB)", "LowpassFilter(3000 Hz)",
                           "Gain(-12 dB)"], "library": "pedalboard"}


def apply_fuzz(dry, sample_rate=44100):
    return fuzz_pedal(sample_rate)(np.asarray(dry, np.float32), sample_rate, reset=True).astype(np.float32)


# ---- MAE: tones, noise, chirps and their mixtures -------------------------------------------------------------

MAE_KINDS = ("tone", "noise", "chirp", "mixture")


def mae_sounds(n, seed, sr=24000, seconds=2.0):
    """2 s clips of one kind each (balanced): harmonic tones with vibrato, band-limited coloured noise, chirps
    (exponential sweeps, up or down), or a mixture of one of each. Returns (audio (n, samples), labels)."""
    rng = np.random.default_rng(seed)
    samples = int(round(sr * seconds))
    t = np.arange(samples, dtype=np.float32) / sr
    labels = np.arange(n) % len(MAE_KINDS)
    rng.shuffle(labels)
    tones, noises, chirps = _mae_tone(rng, n, t, sr), _mae_noise(rng, n, samples, sr), _mae_chirp(rng, n, t, sr)
    audio = np.select([labels[:, None] == k for k in range(3)], [tones, noises, chirps],
                      default=(tones + noises + chirps) / 2)
    return normalise_peak(audio), labels.astype(np.int64)


def _mae_tone(rng, n, t, sr):
    f0 = 110 * 2 ** _u(rng, 0, 4, (n, 1))
    vibrato = 1 + 0.01 * np.sin(2 * np.pi * _u(rng, 3, 7, (n, 1)) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato, axis=-1) / sr
    rolloff = _u(rng, 0.5, 2.0, (n, 1))
    tone = sum(np.sin(h * phase) / h ** rolloff for h in range(1, 6))
    return (tone / tone.std(axis=-1, keepdims=True)).astype(np.float32)


def _mae_noise(rng, n, samples, sr):
    centre = 2 ** _u(rng, np.log2(200), np.log2(8000), (n, 1))
    width = _u(rng, 0.5, 2.0, (n, 1))
    return shaped_noise(rng, n, samples, sr, lambda f: gaussian_bump_db(f, centre, width, 40.0) - 40)


def _mae_chirp(rng, n, t, sr):
    f_start = 2 ** _u(rng, np.log2(150), np.log2(6000), (n, 1))
    f_end = 2 ** _u(rng, np.log2(150), np.log2(6000), (n, 1))
    period = _u(rng, 0.3, 1.0, (n, 1))  # repeated sweeps
    local = np.mod(t, period)
    freq = f_start * (f_end / f_start) ** (local / period)
    return (np.sin(2 * np.pi * np.cumsum(freq, axis=-1) / sr) * np.sqrt(2)).astype(np.float32)


# ---- speech: word-like synthetic utterances ------------------------------------------------------------------

VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010), "o": (570, 840, 2410),
          "u": (300, 870, 2240)}  # Peterson & Barney formants F1-F3 (Hz), adult male
# Ten words: vowels, fricatives ("s" 5 kHz, "sh" 2.8 kHz, "f" broadband) and stop bursts ("k", "t").
WORDS = {"sa": ["s", "a"], "shi": ["sh", "i"], "ou": ["o", "u"], "ai": ["a", "i"], "keo": ["k", "e", "o"],
         "tu": ["t", "u"], "fie": ["f", "i", "e"], "ua": ["u", "a"], "eshu": ["e", "sh", "u"], "oki": ["o", "k", "i"]}
FRICATIVES = {"s": (5000, 0.6), "sh": (2800, 0.6), "f": (4000, 2.0)}  # centre Hz, width in octaves
STOPS = {"k": 2000, "t": 4000}


def utterances(n, seed, sr=16000, seconds=2.0):
    """Word-like utterances of the ten WORDS (balanced): voiced vowels by additive harmonic synthesis under
    formant peaks, fricatives as band-shaped noise, stops as a silence and a burst; random speaker (f0 90-240 Hz,
    vocal-tract scale 0.85-1.2), speaking rate, position in the 2 s clip and background noise (SNR 15-30 dB).
    Returns (audio (n, samples), labels)."""
    rng = np.random.default_rng(seed)
    samples = int(round(sr * seconds))
    names = list(WORDS)
    labels = np.arange(n) % len(names)
    rng.shuffle(labels)
    audio = np.zeros((n, samples), np.float32)
    for i, k in enumerate(labels):
        word = _synth_word(rng, WORDS[names[k]], sr)
        start = rng.integers(0, max(1, samples - word.size))
        audio[i, start:start + word.size] = word[: samples - start]
    snr = 10 ** (_u(rng, 15, 30, (n, 1)) / 20)
    rms = np.sqrt((audio ** 2).mean(axis=-1, keepdims=True))
    audio += rms / snr * rng.standard_normal(audio.shape).astype(np.float32)
    return normalise_peak(audio), labels.astype(np.int64)


def _synth_word(rng, phones, sr):
    f0 = _u(rng, 90, 240)
    scale = _u(rng, 0.85, 1.2)
    rate = _u(rng, 0.8, 1.25)
    parts = []
    for ph in phones:
        if ph in VOWELS:
            parts.append(_vowel(rng, VOWELS[ph], f0, scale, _u(rng, 0.15, 0.3) / rate, sr))
        elif ph in FRICATIVES:
            centre, width = FRICATIVES[ph]
            m = int(sr * _u(rng, 0.08, 0.15) / rate)
            noise = shaped_noise(rng, 1, m, sr, lambda f: gaussian_bump_db(f, centre * scale, width, 30.0) - 30)[0]
            parts.append(0.3 * noise * np.hanning(m))
        else:
            m = int(sr * 0.02)
            burst = shaped_noise(rng, 1, m, sr, lambda f: gaussian_bump_db(f, STOPS[ph] * scale, 1.0, 30.0) - 30)[0]
            parts.append(np.concatenate([np.zeros(int(sr * 0.05 / rate)), 0.6 * burst * np.exp(-np.arange(m) / (0.005 * sr))]))
    return np.concatenate(parts).astype(np.float32)


def _vowel(rng, formants, f0, scale, duration, sr):
    m = int(sr * duration)
    t = np.arange(m, dtype=np.float32) / sr
    pitch = f0 * (1 + _u(rng, -0.15, 0.15) * t / duration)  # a rising or falling contour
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    h = np.arange(1, int(4000 // f0) + 1, dtype=np.float32)[:, None]
    envelope = sum(np.exp(-0.5 * ((h * pitch - F * scale) / 80.0) ** 2) for F in formants)
    voice = (envelope * np.sin(h * phase) / np.sqrt(h)).sum(axis=0)
    return voice / (np.abs(voice).max() + 1e-9) * 0.8 * np.hanning(m)
