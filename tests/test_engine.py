"""The engine rejects what cannot work before any training, writing nothing; a NaN loss stops with a hint."""

import types

import numpy as np
import pytest
import tensorflow as tf

from compressor.engine import run_recipe
from compressor.errors import BadInput
from compressor.recipe import RECIPES_DIR


def variant(tmp_path, recipe, old, new):
    text = (RECIPES_DIR / f"{recipe}.yaml").read_text()
    assert old in text
    path = tmp_path / f"{recipe}_variant.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, expected", [
    ("kernel: stochastic_ternary", "kernel: stochastic_ternery", "stochastic_ternery"),
    ('"enc_conv*"', '"encoder_conv*"', "'encoder_conv*' matches no layer"),
    ("params: {loss: mse, optimizer: adam, lr: 0.0005, epochs: 100", "params: {loss: msee, optimizer: adam, "
     "lr: 0.0005, epochs: 100", "unknown loss 'msee'"),
    ("optimizer: adam, lr: 0.0005, epochs: 100", "optimizer: adamm, lr: 0.0005, epochs: 100", "unknown optimizer"),
    ("optimizer: adam, lr: 0.0005, epochs: 100", "optimizer: adam, lr_schedule: cosin, lr: 0.0005, epochs: 100",
     "unknown lr_schedule 'cosin'"),
    ("target_sparsity: 0.57", "target_sparsity: 1.5", "target_sparsity"),
    ("params: {submodel: decoder", "params: {submodle: decoder", "unknown field 'submodle'"),
    ("fine_tune: {loss: mse, lr: 0.00005", "fine_tune: {loss: mse, learning_rate: 0.00005", "fine_tune: unknown "
     "field 'learning_rate'"),
    ("prune: {epochs: 4,", "prune: {epochs: 0,", "field 'epochs': must be at least 1"),
    ("{fine_tune: {epochs: 3,", "{fine_tune: {epochs: -1,", "fine_tune: field 'epochs': must be at least 1"),
])
def test_recipe_mistakes_are_rejected_before_training(tmp_path, old, new, expected):
    path = variant(tmp_path, "fpga_cae_ternary", old, new)
    out = tmp_path / "out"
    with pytest.raises(BadInput) as err:
        run_recipe(path, quick=True, out=out)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert not out.exists()                        # nothing written, nothing trained


def test_unknown_shipped_weights_are_named_before_training(tmp_path):
    path = variant(tmp_path, "dcase_student_int8", "weights: builtin", "weights: biultin")
    with pytest.raises(BadInput, match=r"models\.teacher: model 'dcase_teacher_w0\.25': no shipped weights "
                                       r"'biultin' \(shipped: builtin\)") as err:
        run_recipe(path, quick=True, out=tmp_path / "out")
    assert str(path) in str(err.value) and not (tmp_path / "out").exists()


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(BadInput, match="no_such_folder: no such file or folder"):
        run_recipe("speech_cnn_int8", quick=True, data=str(tmp_path / "no_such_folder"), out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nan_loss_stops_training_and_says_where():
    from compressor.steps.base import progress as _progress

    ctx = types.SimpleNamespace(stop_requested=None, diverged=None, log=lambda msg: None)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((64, 3), np.float32)
    x[40] = np.nan
    history = model.fit(x, np.ones((64, 1)), batch_size=8, epochs=3, verbose=0, shuffle=False,
                        callbacks=[_progress(ctx, 3)])
    assert ctx.diverged.startswith("epoch 1, batch 6")
    assert len(history.history["loss"]) == 1       # stopped in the first epoch


def test_stop_request_ends_fit_at_the_next_batch():
    from compressor.steps.base import progress as _progress

    ctx = types.SimpleNamespace(stop_requested="SIGTERM", diverged=None, log=lambda msg: None)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=5, verbose=0,
                        callbacks=[_progress(ctx, 5)])
    assert len(history.history["loss"]) == 1


def test_too_little_disk_is_refused_before_training(tmp_path, monkeypatch):
    import compressor.engine as engine

    monkeypatch.setattr(engine, "MIN_FREE_BYTES", 10**18)
    with pytest.raises(BadInput, match="MB free, the run needs about"):
        run_recipe("fpga_cae_ternary", quick=True, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
