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


def test_an_epoch_backup_restores_the_last_finished_epoch_not_the_partial_one(tmp_path):
    """methods.fit.EpochBackup (Keras' BackupAndRestore): a fit stopped inside epoch 4 keeps the backup of epoch 3;
    a fit of a new model on the same folder starts at epoch 4 with epoch 3's weights and optimizer step count."""
    from compressor.methods.fit import EpochBackup

    x, y = np.random.default_rng(0).normal(size=(64, 3)).astype("float32"), np.ones((64, 1), "float32")
    seen = {}

    class Watch(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                seen["epoch3"] = [w.copy() for w in self.model.get_weights()]

        def on_train_batch_end(self, batch, logs=None):
            if len(seen) == 1 and batch == 1:       # inside epoch 4: as a stop request does
                self.model.stop_training = True

    def fresh(seed):
        tf.keras.utils.set_random_seed(seed)
        model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
        model.compile(tf.keras.optimizers.Adam(0.01), "mse")
        return model

    history = fresh(0).fit(x, y, batch_size=8, epochs=6, verbose=0,
                           callbacks=[Watch(), EpochBackup(str(tmp_path / "b"))])
    assert len(history.history["loss"]) == 4 and (tmp_path / "b").is_dir()

    class First(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.setdefault("first_epoch", epoch)

        def on_train_batch_begin(self, batch, logs=None):
            if "restored" not in seen:
                seen["restored"] = [w.copy() for w in self.model.get_weights()]
                seen["iterations"] = int(self.model.optimizer.iterations)

    resumed = fresh(1)      # other initial weights: only the backup can make them epoch 3's
    history = resumed.fit(x, y, batch_size=8, epochs=6, verbose=0,
                          callbacks=[First(), EpochBackup(str(tmp_path / "b"))])
    assert seen["first_epoch"] == 3 and len(history.history["loss"]) == 3
    assert seen["iterations"] == 3 * 8
    for restored, kept in zip(seen["restored"], seen["epoch3"]):
        np.testing.assert_array_equal(restored, kept)
    assert not [p for p in (tmp_path / "b").rglob("*") if p.is_file()]   # a fit that ran to its end removes it


TINY_RECIPE = """name: {name}
description: trainings of a 4-input linear classifier
family: generic
target: cortex-m4
models:
  model: {{path: "{{model}}"}}
deliver: model
steps:
"""


def tiny_step(name, epochs, lr=0.01):
    return (f"  - {{name: {name}, kind: train, model: model, params: {{loss: auto, lr: {lr}, epochs: {epochs}, "
            f"batch_size: 16}}}}\n")


def tiny_recipe(path, name, *steps):
    path.write_text(TINY_RECIPE.format(name=name) + "".join(steps))
    return path


def tiny_run(tmp_path, recipe, out, resume=False, on_epoch=None):
    """A recipe of TINY_RECIPE's shape on a 4-input linear model and 200 labelled rows: (its log lines, the model)."""
    from compressor.user_data import user_dataset

    if not (tmp_path / "xy.npz").is_file():
        x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
        np.savez(tmp_path / "xy.npz", x=x, y=(x[:, 0] > 0).astype("int64"))
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    lines = []
    run = run_recipe(recipe, data=user_dataset(str(tmp_path / "xy.npz"), model, "classification"), out=out,
                     models={"model": model}, resume=resume, log=lines.append, on_epoch=on_epoch, write_reports=False)
    return lines, run.models["model"]


def test_a_run_stopped_inside_a_step_resumes_from_its_last_finished_epoch(tmp_path):
    """SIGTERM after the 3rd of 6 epochs of a recipe's second step: the run stops (Interrupted) saying the step's
    finished epochs are kept; --resume restores step 1 and continues step 2 at epoch 4 - epochs 4 to 6 train."""
    import signal
    import threading

    from compressor.errors import Interrupted

    assert threading.current_thread() is threading.main_thread()   # the engine's signal handler is installed there
    recipe = tiny_recipe(tmp_path / "two_fits.yaml", "two_fits", tiny_step("warm", 2), tiny_step("long", 6))

    def run(resume, on_epoch=None):
        return tiny_run(tmp_path, recipe, tmp_path / "out", resume, on_epoch)[0]

    epochs_done = []

    def stop_after_third_epoch_of_step_2(model, epoch):
        epochs_done.append(epoch)
        if len(epochs_done) == 2 + 3:
            signal.raise_signal(signal.SIGTERM)

    with pytest.raises(Interrupted, match=r"during step 2 \(long\); the 1 finished step\(s\) and this step's "
                                          r"finished epochs are saved in .*--resume"):
        run(False, stop_after_third_epoch_of_step_2)
    lines = run(True)
    assert "resumed after step 1 of 2" in lines
    assert any(line.startswith("[2/2 long] continuing from epoch 4/6: the 3 before it") for line in lines), lines
    assert [line.split(":")[0] for line in lines if line.startswith("[2/2 long] epoch ")] == \
        [f"[2/2 long] epoch {k}/6" for k in (4, 5, 6)]
    assert not list((tmp_path / "out" / ".checkpoint").glob("epochs-*"))   # the step's end replaced them


def test_a_checkpoint_serves_another_recipe_that_begins_with_the_same_steps(tmp_path):
    """A run's checkpoint after its one step, copied into the --out of a recipe (another name) whose first step is
    the same: --resume takes that step's trained weights and runs only the second; a recipe whose first step differs
    (another learning rate) is refused, naming the checkpoint."""
    import shutil

    steps = {"first": [tiny_step("warm", 2)], "longer": [tiny_step("warm", 2), tiny_step("more", 1)],
             "other_lr": [tiny_step("warm", 2, lr=0.02), tiny_step("more", 1)]}
    for name, recipe_steps in steps.items():
        tiny_recipe(tmp_path / f"{name}.yaml", name, *recipe_steps)

    def run(name, out, resume=False):
        return tiny_run(tmp_path, tmp_path / f"{name}.yaml", out, resume)

    run("first", tmp_path / "first")
    for name in ("longer", "other_lr"):
        shutil.copytree(tmp_path / "first" / ".checkpoint", tmp_path / name / ".checkpoint")
    lines, resumed = run("longer", tmp_path / "longer", resume=True)
    assert "resumed after step 1 of 2" in lines
    assert not any(line.startswith("[1/2 warm]") for line in lines)          # the shared step is not trained again
    assert [line.split(":")[0] for line in lines if " epoch " in line] == ["[2/2 more] epoch 1/1"]
    _, whole = run("longer", tmp_path / "longer_whole")          # resumed at a step's end: bit for bit the same
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(BadInput, match=r"other_lr/\.checkpoint: the checkpoint's 1 finished step\(s\) are not this "
                                       r"recipe's first 1 .*run without --resume"):
        run("other_lr", tmp_path / "other_lr", resume=True)
