import librosa
import numpy as np
import pytest

from compressor.audio import frontends
from compressor.errors import BadInput


def tone(freq, sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_dcase_mel_shapes_and_the_tone_lands_in_its_band():
    clip = tone(1000, 44100, 1.0)
    mel80 = frontends.dcase_mel(clip, 44100)
    assert mel80.shape == (80, 51) and mel80.dtype == np.float32
    assert frontends.dcase_mel(clip, 44100, n_mels=40).shape == (40, 51)
    centres = librosa.mel_frequencies(n_mels=82, fmax=22050)[1:-1]  # band centres of librosa's mel filters
    peak_band = mel80.mean(axis=1).argmax()
    assert abs(centres[peak_band] - 1000) < 0.1 * 1000


def test_dcase_mel_resamples_other_rates_and_fixes_length():
    at_22k = frontends.dcase_mel(tone(1000, 22050, 0.7), 22050)  # shorter and at half the rate
    at_44k = frontends.dcase_mel(tone(1000, 44100, 1.0), 44100)
    assert at_22k.shape == (80, 51)
    assert at_22k.mean(axis=1).argmax() == at_44k.mean(axis=1).argmax()
    assert np.all(at_22k[:, -10:] <= -99)  # zero padding past 0.7 s is the -100 dB floor


def test_dcase_mel_batch_equals_one_by_one():
    rng = np.random.default_rng(0)
    clips = rng.standard_normal((3, 44100)).astype(np.float32) * 0.1
    batch = frontends.dcase_mel(clips)
    assert batch.shape == (3, 80, 51)
    np.testing.assert_allclose(batch[1], frontends.dcase_mel(clips[1]), atol=1e-3)


def test_cae_log_spectrogram_is_128_by_196_in_unit_range():
    spec = frontends.cae_log_spectrogram(tone(500, 4000, 6.24), 4000)
    assert spec.shape == (128, 196)
    assert spec.min() >= 0.0 and spec.max() == pytest.approx(1.0)
    bin_hz = 4000 / 254
    assert abs(spec.mean(axis=1).argmax() * bin_hz - 500) < bin_hz


def test_mae_mel_frames_run_at_75_frames_per_second():
    assert frontends.mae_mel_frames(tone(440, 24000, 2.0), 24000).shape == (150, 64)
    assert frontends.mae_mel_frames(tone(440, 16000, 1.0), 16000, seconds=1.0).shape == (75, 64)
    assert frontends.mae_mel_frames.params["hop_length"] == 320 and frontends.mae_mel_frames.params["n_fft"] == 640


def test_raw_waveform_resamples_and_pads():
    out = frontends.raw_waveform(tone(300, 8000, 1.0), 8000)
    assert out.shape == (32000, 1)
    assert np.abs(out[:15000]).max() > 0.4 and np.abs(out[16100:]).max() == 0


def test_describe_records_parameters_and_rejects_unknown_ones():
    p = frontends.describe("dcase_mel", n_mels=40)
    assert p["n_mels"] == 40 and p["shape"] == [40, 51] and p["hop_length"] == 882 and p["n_fft"] == 1764
    with pytest.raises(BadInput, match="hop_length"):
        frontends.describe("dcase_mel", hop_length=512)
    with pytest.raises(BadInput, match="unknown"):
        frontends.describe("mfcc")
