"""compressor.families: the registry, what each family declares, and the task figures on tiny models."""

import ast
from pathlib import Path

import numpy as np
import pytest

from compressor import families
from compressor.audio.dataset import Dataset, DataSpec, load_data
from compressor.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent / "compressor"

# family: task, front end, folder layouts, windowed, channel axis, probe from classes, expected views
DECLARED = {
    "cae": ("autoencoder", "cae_log_spectrogram", ("unlabeled", "classes"), True, True, False,
            ("spectrograms", "weight_histograms")),
    "dcase": ("classification", "dcase_mel", ("tau", "classes"), False, True, False, ("confusion",)),
    "effects": ("regression", "raw_waveform", ("paired",), False, False, False, ("waveforms",)),
    "mae": ("representation", "mae_mel_frames", ("unlabeled", "classes"), True, False, True, ("probe",)),
    "speech": ("classification", "raw_waveform", ("classes",), False, False, False, ("confusion",)),
}


def test_registry_names_and_get():
    assert families.names() == sorted(DECLARED)
    for name in DECLARED:
        family = families.get(name)
        assert isinstance(family, families.Family) and family.name == name
        assert families.get(name) is family     # one object per family


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(BadInput, match=r"unknown family 'video' \(known: cae, dcase, effects, mae, speech\)"):
        families.get("video")


def test_a_family_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        families.register(type(families.get("cae")))


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_family_declares_its_task_data_and_views(name):
    task, frontend, layouts, windowed, channels, probe, views = DECLARED[name]
    family = families.get(name)
    spec = family.data_spec
    assert isinstance(spec, DataSpec)
    assert (family.task, spec.task, spec.family) == (task, task, name)
    assert (spec.frontend, spec.layouts, spec.windowed, spec.channel_axis, spec.probe_from_classes) == \
        (frontend, layouts, windowed, channels, probe)
    assert callable(spec.generate) and set(spec.sizes) == {True, False}
    assert all(len(spec.sizes[q]) == 3 and min(spec.sizes[q]) > 0 for q in (True, False))
    assert family.expected_views == views
    assert family.checks_input_shape == (name != "mae")   # the MAE checks its frames itself


@pytest.mark.parametrize("task", ["classification", "regression", "autoencoder"])
def test_for_task_gives_a_generic_family(task):
    family = families.for_task(task)
    assert family.task == task and family.name == "generic"
    assert family.data_spec is None and family.expected_views == () and family.checks_input_shape
    assert family.name not in families.names()    # reached by task, not by name


def test_for_task_refuses_an_unknown_task():
    with pytest.raises(BadInput, match=r"unknown task 'ranking'.*classification, regression, autoencoder"):
        families.for_task("ranking")


def test_audio_does_not_import_families():
    """families import audio, never the other way round."""
    for path in (ROOT / "audio").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                assert not any("families" in n for n in names), f"{path.name} imports families"


def test_a_spec_without_built_in_data_or_folders_says_so(tmp_path):
    spec = DataSpec("toy", "classification", "raw_waveform")
    with pytest.raises(BadInput, match="family 'toy' has no built-in data"):
        load_data(None, spec)
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(BadInput, match=r"family 'toy' needs no folder \(built-in data only\)"):
        load_data(str(tmp_path), spec)


# ---- the task figures, on tiny Keras models whose outputs are known --------------------------------------------

def toy_data(task, x, y, classes=None):
    return Dataset("toy", "generic", task, x, y, x, y, x, y, classes=classes, sample_rate=1, frontend={})


def linear(n_in, n_out, kernel, activation=None):
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input((n_in,)), tf.keras.layers.Dense(n_out, activation=activation)])
    model.layers[0].set_weights([np.asarray(kernel, np.float32), np.zeros(n_out, np.float32)])
    return model


def test_classification_figures():
    x = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    y = np.array([0, 1, 2, 0, 1, 1], np.float32)          # the last one is wrong
    data = toy_data("classification", x, y, ["a", "b", "c"])
    family = families.for_task("classification")
    for activation in (None, "softmax"):                  # logits are turned into probabilities, softmax kept
        got = family.evaluate(linear(3, 3, 4 * np.eye(3), activation), data)
        assert got["accuracy"]["value"] == pytest.approx(5 / 6)
        p_true, p_wrong = np.exp(4) / (np.exp(4) + 2), 1 / (np.exp(4) + 2)
        assert got["log_loss"]["value"] == pytest.approx(-(5 * np.log(p_true) + np.log(p_wrong)) / 6, rel=1e-5)
        assert got["accuracy"]["by"] == "keras, 6 test examples of toy"


def test_regression_and_autoencoder_figures():
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    half = linear(2, 2, 0.5 * np.eye(2))
    mse = families.for_task("regression").evaluate(half, toy_data("regression", x, x))   # a user's regressor: MSE
    assert mse["mse"]["value"] == pytest.approx(float(np.mean((0.5 * x - x) ** 2)))
    assert families.get("effects").evaluate(half, toy_data("regression", x, x))["esr"]["value"] == pytest.approx(0.25)
    mse = families.for_task("autoencoder").evaluate(half, toy_data("autoencoder", x, x), split="val")
    assert mse["mse"]["value"] == pytest.approx(float(np.mean((0.5 * x - x) ** 2)))
    assert families.get("mae").evaluate(half, toy_data("representation", x, x)) == {}


def test_defaults_use_the_model_as_it_is():
    x = np.ones((4, 2), np.float32)
    data = toy_data("regression", x, x)
    model = linear(2, 2, np.eye(2))
    family = families.for_task("regression")
    assert family.fit_arrays(model, data, seed=0) == ((data.x_train, data.y_train), (data.x_val, data.y_val))
    device, x_cal, x_verify, note = family.device_form(model, data, rebuild=None)
    assert device is model and x_cal is data.x_train and x_verify is data.x_test and note is None
    assert families.Family().device_metrics(b"", model, data, 4, quick=True) == ({}, {})
    assert family.before_quantize(model, data) == {}
    assert family.views({"m": model}, "m", data, {}) == {}      # no quantized kernels: no histograms
    assert family.submodel(model, data, None) == (model, data.x_test)
    assert family.submodel(model, data, "model")[0] is model


def test_submodel_errors_name_the_family():
    x = np.ones((2, 2), np.float32)
    model = linear(2, 2, np.eye(2))
    with pytest.raises(BadInput, match="a dcase model has no part 'encoder'"):
        families.get("dcase").submodel(model, toy_data("classification", x, x), "encoder")
    with pytest.raises(BadInput, match="a cae model has parts 'model', 'encoder' and 'decoder', not 'middle'"):
        families.get("cae").submodel(model, toy_data("autoencoder", x, x), "middle")


def test_views_from_state():
    x = np.ones((2, 2), np.float32)
    model = linear(2, 2, np.eye(2))
    data = toy_data("classification", x, x[:, 0], ["a", "b"])
    confusion = {"int8": [[1, 0], [0, 1]], "float": [[1, 0], [0, 1]]}
    assert families.get("speech").views({"m": model}, "m", data, {"confusion": confusion}) == \
        {"confusion": {"classes": ["a", "b"], **confusion}}
    probe = {"mae": 0.9, "student": 0.8}
    assert families.get("mae").views({"mae": model, "student": model}, "student", data, {"probe": probe}) == \
        {"probe": {"before": 0.9, "after": 0.8}}
