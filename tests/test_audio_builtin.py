
import numpy as np
import pedalboard
import pytest

from compressor import families
from compressor.audio import builtin, dataset, load_data
from compressor.errors import BadInput


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPRESSOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_generators_are_deterministic_per_seed():
    a, la = builtin.utterances(12, seed=3)
    b, lb = builtin.utterances(12, seed=3)
    c, _ = builtin.utterances(12, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(builtin.whale_calls(4, seed=1), builtin.whale_calls(4, seed=1))


def test_builtin_is_cached_atomically_and_reused(private_cache, monkeypatch):
    first = load_data(None, families.get("speech").data_spec, quick=True, seed=5)
    files = list((private_cache / "builtin").glob("speech-quick-seed5-*.npz"))
    assert len(files) == 1
    assert not list((private_cache / "builtin").glob("*.part"))

    def no_generation(*args, **kwargs):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(dataset, "_generate", no_generation)
    again = load_data("builtin", families.get("speech").data_spec, quick=True, seed=5)
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert again.classes == first.classes and again.frontend == first.frontend and again.name == "builtin:speech"


def test_dcase_builtin_is_balanced_and_tests_unseen_devices():
    data = load_data(None, families.get("dcase").data_spec, quick=True, frontend={"n_mels": 40})
    assert data.x_train.shape == (300, 40, 51, 1) and data.classes == list(builtin.SCENES)
    assert np.bincount(data.y_train.astype(int)).min() == 30
    assert not {"s4", "s5", "s6"} & set(data.extra["devices_train"])
    assert {"s4", "s5", "s6"} <= set(data.extra["devices_test"])
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) <= 700  # quick stays a few hundred


def test_effects_target_is_the_pedalboard_output():
    data = load_data(None, families.get("effects").data_spec, quick=True)
    assert data.x_train.shape[1:] == (22050, 1)                  # 0.5 s clips
    board = pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=100.0),
                                   pedalboard.Distortion(drive_db=30.0),
                                   pedalboard.LowpassFilter(cutoff_frequency_hz=3000.0),
                                   pedalboard.Gain(gain_db=-12.0)])
    expected = board(data.extra["test_dry"], 44100, reset=True)
    np.testing.assert_allclose(data.extra["test_wet"], expected, atol=1e-6)
    n = len(data.y_test) * 22050
    np.testing.assert_allclose(data.y_test.reshape(-1), expected[:n], atol=1e-6)
    np.testing.assert_array_equal(data.x_test.reshape(-1), data.extra["test_dry"][:n])
    # the effect is not close to a gain: the best linear fit of wet from dry leaves most of the energy
    dry, wet = data.extra["test_dry"], data.extra["test_wet"]
    gain = dry @ wet / (dry @ dry)
    assert ((wet - gain * dry) ** 2).sum() / (wet ** 2).sum() > 0.3


def test_mae_builtin_has_a_balanced_probe_task():
    data = load_data(None, families.get("mae").data_spec, quick=True)
    assert data.x_train.shape[1:] == (150, 64) and data.task == "representation"
    assert data.extra["probe_classes"] == ["tone", "noise", "chirp", "mixture"]
    assert np.bincount(data.extra["probe_y_train"].astype(int)).tolist() == [40, 40, 40, 40]
    assert data.extra["probe_x_test"].shape[1:] == (150, 64)


def test_cae_builtin_spectrograms_show_the_upsweeps():
    data = load_data(None, families.get("cae").data_spec, quick=True)
    assert data.x_train.shape[1:] == (128, 196, 1) and data.x_train.min() >= 0 and data.x_train.max() <= 1
    # the calls live between 60 and 700 Hz: those bins stand out of the noise more than the band above 1 kHz
    bin_hz = 4000 / 254
    calls = data.x_train[:, int(60 / bin_hz):int(700 / bin_hz)].max(axis=(1, 2, 3))
    high = data.x_train[:, int(1000 / bin_hz):].mean(axis=(1, 2, 3))
    assert np.all(calls > high + 0.2)


def test_unknown_family_and_frontend_mismatch():
    with pytest.raises(BadInput, match=r"unknown family 'video' \(known: cae, dcase, effects, mae, speech\)"):
        families.get("video")
    with pytest.raises(TypeError, match="expected a DataSpec"):  # a family name, as load_data took before
        load_data(None, "dcase")
    with pytest.raises(BadInput, match="frontend.name"):
        load_data(None, families.get("dcase").data_spec, frontend={"name": "raw_waveform"})
