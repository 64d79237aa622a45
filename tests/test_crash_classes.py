"""Ordinary input never crashes the `compress` command (issue 14, item 5): each class below either works (exit 0) or
ends in one line on stderr naming the thing and exit 2; never exit 1 (a traceback) nor a signal. The CLI runs as a
real subprocess, since a native crash in the TFLite converter would take an in-process test down with it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from tensorflow import keras

from compressor.keras_io import _first_sentences
from compressor.export import tflite

L = keras.layers


def compress(*args, cwd):
    return subprocess.run([sys.executable, "-m", "compressor.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)


def refused(result, *names) -> str:
    """The run ended in exit 2 with one stderr line naming every one of `names`; returns that line."""
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr[-3000:]}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compress: "), result.stderr[-3000:]
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


def two_outputs():
    inputs = keras.Input((8,))
    h = L.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, [L.Dense(3, activation="softmax", name="scene")(h), L.Dense(1, name="level")(h)],
                       name="two_heads")


def two_inputs():
    a, b = keras.Input((8,), name="audio"), keras.Input((4,), name="meta")
    return keras.Model([a, b], L.Dense(2)(L.Concatenate()([a, b])), name="two_feet")


def recurrent(layer, batch_size=1, name="rnn_model"):
    inputs = keras.Input((6, 3), batch_size=batch_size)
    return keras.Model(inputs, L.Dense(2, activation="softmax")(layer(inputs)), name=name)


def tiny():
    inputs = keras.Input((8,))
    return keras.Model(inputs, L.Dense(3, activation="softmax")(L.Dense(4)(inputs)), name="tiny")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    two_outputs().save(d / "two_out.keras")
    two_inputs().save(d / "two_in.keras")
    recurrent(L.GRU(4, name="gru"), name="gru_fixed").save(d / "gru.keras")
    tiny().save(d / "tiny.keras")
    lam_in = keras.Input((4,))
    keras.Model(lam_in, L.Lambda(lambda t: 2 * t)(L.Dense(4)(lam_in)), name="with_lambda").save(d / "lambda.keras")
    return d


def test_two_outputs_analyze_works_and_export_checks_each_output(models, tmp_path):
    ok = compress("analyze", models / "two_out.keras", "--target", "cortex-m4", "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    record = json.loads(ok.stdout)
    assert record["model"]["task"] == "multi-output"
    assert record["figures"]["arena_bytes"]["value"] > 0 and record["figures"]["macs"]["value"] == 8 * 8 + 8 * 4
    done = compress("--target", "cortex-m4", "--model", models / "two_out.keras", "--out", tmp_path / "o",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    checks = {r["name"]: r["verdict"] for r in json.loads((tmp_path / "o" / "report.json").read_text())["checks"]}
    for head in ("scene", "level"):   # one int8-vs-Keras and one TFLM row per output
        assert checks[f"int8_max_error_lsb[{head}]"] == checks[f"tflm_vs_tflite_lsb[{head}]"] == "pass", checks
    refused(compress("analyze", models / "two_in.keras", "--target", "cortex-m4", cwd=tmp_path),
            "two_feet", "2 inputs", "audio", "meta")


def test_gru_at_a_fixed_batch_size_exports_one_step_and_analyze_is_refused_not_a_segfault(models, tmp_path):
    """--model exports the one-step form (no sequence loop for the converter to crash on); analyze converts the
    whole sequence model, which the converter cannot at a fixed batch size: one line, not a segfault."""
    result = compress("--target", "cortex-m4", "--model", models / "gru.keras", "--out", tmp_path / "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    checks = {c["name"]: c["verdict"] for c in json.loads((tmp_path / "o" / "report.json").read_text())["checks"]}
    assert checks["step_vs_sequence_max_abs"] == checks["int8_max_error_lsb"] == "pass"
    line = refused(compress("analyze", models / "gru.keras", "--target", "cortex-m4", cwd=tmp_path),
                   "gru_fixed", "recurrent layer 'gru'", "crashed (SIGSEGV)", "fixed batch size", "unroll=True")
    assert "tensorflow#62281" in line


def test_recurrent_conversion_in_a_child_gives_the_same_bytes():
    """A recurrent model converts in a child process; its flatbuffer is the one this process makes."""
    keras.utils.set_random_seed(1)
    model = recurrent(L.LSTM(4), name="lstm_fixed")   # an LSTM at batch 1 does convert
    x = np.random.default_rng(0).normal(size=(8, 6, 3)).astype("float32")
    assert tflite._recurrent_layer(model) is not None
    assert tflite.to_int8_tflite(model, x) == tflite._convert(model, x)


def test_models_without_recurrent_layers_convert_in_this_process():
    """Only recurrent graphs pay for the child process: plain models and the effects recipe's streaming step (which
    calls the GRU cell, not the GRU layer) do not."""
    from compressor.export import streaming
    from compressor.zoo import effects

    assert tflite._recurrent_layer(tiny()) is None
    assert tflite._recurrent_layer(streaming.packed_streaming_model(effects.build_gru(8))) is None
    assert tflite._recurrent_layer(effects.build_gru(8)).name == "rnn"
    wrapped = recurrent(L.Bidirectional(L.GRU(4), name="bi"))
    assert tflite._recurrent_layer(wrapped).name == "bi"


def test_out_naming_an_existing_file_is_refused_before_any_work(models, tmp_path):
    blocker = tmp_path / "F"
    blocker.write_text("keep me")
    for command in (["--target", "cortex-m4", "--model", models / "tiny.keras", "--out", blocker],
                    ["--recipe", "speech_cnn_int8", "--quick", "--out", blocker],
                    ["--target", "cortex-m4", "--model", models / "tiny.keras", "--out", blocker / "sub"]):
        result = compress(*command, cwd=tmp_path)
        refused(result, blocker, "is a file")
        assert "[1/" not in result.stdout     # no recipe step started
    assert blocker.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["F"]


def test_a_keras_load_error_is_shown_to_the_end_of_its_sentence(models, tmp_path):
    line = refused(compress("analyze", models / "lambda.keras", "--target", "cortex-m4", cwd=tmp_path),
                   "lambda.keras", "not a Keras model")
    assert "arbitrary code execution and thus it is disallowed by default.)" in line


def test_first_sentences_cut_only_at_a_sentence_end_or_a_word():
    assert _first_sentences("One.\nTwo two. Three") == "One. Two two. Three"
    assert _first_sentences("First sentence. " + "x" * 400) == "First sentence."
    long = _first_sentences("word " * 100, limit=50)
    assert long.endswith("...") and len(long) <= 53 and "word wor..." not in long and long[:-3].endswith("word")
