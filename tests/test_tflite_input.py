"""An int8 .tflite in place of a Keras model (issue 16 item 5): `compress analyze x.tflite` gives the Keras path's
figures on the same model, `compress --model x.tflite` writes the C array and the report after checking TFLite Micro
against TFLite; a float, corrupt or FPGA-bound .tflite is one line and exit 2."""

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from compressor.cli import main


def small_cnn():
    inputs = keras.Input((20, 12, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h), name="small_cnn")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tflite_in")
    model = small_cnn()
    model.save(d / "m.keras")
    (d / "float.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    np.save(d / "inputs.npy", np.random.default_rng(2).normal(size=(12, 20, 12, 1)).astype("float32"))
    # the int8 model through compressor's own path: what a user gets from `compress --model m.keras`
    assert main(["--target", "cortex-m4", "--model", str(d / "m.keras"), "--out", str(d / "keras_out")]) == 0
    int8 = (d / "keras_out" / "model_int8.tflite").read_bytes()
    (d / "x.tflite").write_bytes(int8)
    (d / "cut.tflite").write_bytes(int8[:len(int8) * 3 // 4])
    (d / "junk.tflite").write_bytes(b"\x00" * 64)
    return d


def _analyze_json(capsys, model):
    assert main(["analyze", str(model), "--target", "cortex-m4", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_analyze_tflite_gives_the_keras_paths_macs_and_arena(files, capsys):
    from_keras = _analyze_json(capsys, files / "m.keras")
    from_tflite = _analyze_json(capsys, files / "keras_out" / "model_int8.tflite")
    k, t = from_keras["figures"], from_tflite["figures"]
    assert t["macs"]["value"] == k["macs"]["value"] > 0 and t["macs"]["provenance"] == "counted"
    assert t["arena_bytes"]["value"] == k["arena_bytes"]["value"] > 0 and t["arena_bytes"]["provenance"] == "measured"
    assert t["weights_bytes"]["value"] == k["weights_bytes"]["value"]
    for name in ("latency_s", "energy_j"):
        assert t[name]["provenance"] == "estimated" and t[name]["value"] == pytest.approx(k[name]["value"])
    assert from_tflite["verdict"] == "pass" and {r["name"] for r in from_tflite["budgets"]} >= {"flash_bytes",
                                                                                                "arena_bytes"}
    model = from_tflite["model"]
    assert model["name"] == "model_int8" and model["source"].endswith("model_int8.tflite")
    assert model["task"] == "classification" and model["input_shape"] == [None, 20, 12, 1]
    assert model["output_shape"] == [None, 3]
    assert len(from_tflite["layers"]) == len(from_keras["layers"])


def test_compress_tflite_writes_c_array_and_report(files, capsys):
    out = files / "tflite_out"
    assert main(["--target", "cortex-m4", "--model", str(files / "x.tflite"), "--out", str(out)]) == 0
    capsys.readouterr()
    given = (files / "x.tflite").read_bytes()
    assert (out / "model_int8.tflite").read_bytes() == given
    assert f"g_model_len = {len(given)};" in (out / "model_data.cc").read_text()
    record = json.loads((out / "report.json").read_text())
    assert record["status"] == "complete" and record["verdict"] == "pass"
    assert record["data"]["source"] == "synthetic" and "zero point" in record["data"]["quantized"]
    assert any("synthetic" in w for w in record["warnings"])
    check = {r["name"]: r for r in record["checks"]}["tflm_vs_tflite_lsb"]
    assert check["verdict"] == "pass" and check["provenance"] == "measured" and "synthetic" in check["by"]
    assert record["model"]["name"] == "x" and record["figures"]["flash_bytes"]["value"] == len(given)


def test_compress_tflite_checks_tflm_on_the_users_data(files, capsys):
    out = files / "data_out"
    assert main(["--target", "cortex-m4", "--model", str(files / "x.tflite"), "--data", str(files / "inputs.npy"),
                 "--out", str(out)]) == 0
    record = json.loads((out / "report.json").read_text())
    assert record["data"]["source"].endswith("inputs.npy") and record["data"]["shapes"]["x"] == [12, 20, 12, 1]
    assert "12 data samples" in {r["name"]: r for r in record["checks"]}["tflm_vs_tflite_lsb"]["by"]
    assert record["warnings"] == []


@pytest.mark.parametrize("argv, says", [
    (["analyze", "{d}/float.tflite", "--target", "cortex-m4"], ["float.tflite", "float TFLite model",
                                                               "pass the Keras model"]),
    (["--target", "cortex-m4", "--model", "{d}/float.tflite", "--out", "{d}/never"], ["pass the Keras model"]),
    (["analyze", "{d}/cut.tflite", "--target", "cortex-m4"], ["cut.tflite", "corrupt"]),
    (["--target", "cortex-m4", "--model", "{d}/cut.tflite", "--out", "{d}/never"], ["cut.tflite", "corrupt"]),
    (["analyze", "{d}/junk.tflite", "--target", "cortex-m4"], ["junk.tflite", "not a TFLite flatbuffer"]),
    (["analyze", "{d}/x.tflite", "--target", "pynq-z2"], ["x.tflite", "FPGA", "hls4ml", "Keras"]),
    (["analyze", "{d}/missing.tflite", "--target", "cortex-m4"], ["missing.tflite", "no such model file"]),
])
def test_bad_tflite_is_one_line_and_exit_2(files, capsys, argv, says):
    assert main([a.format(d=files) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err + captured.out, err
    for part in says:
        assert part in err, err
    assert not (files / "never").exists()


def test_a_flatbuffer_that_crashes_the_interpreter_is_refused_not_fatal(files, capsys, monkeypatch):
    """TFLite's interpreter does not verify a flatbuffer: damaged bytes that unpack can still SIGSEGV it. The child
    process that loads them first turns that into one line (a stand-in child crashes the same way here)."""
    from compressor import flatbuffer_in

    monkeypatch.setattr(flatbuffer_in, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert main(["analyze", str(files / "x.tflite"), "--target", "cortex-m4"]) == 2
    err = capsys.readouterr().err
    assert "x.tflite: corrupt TFLite flatbuffer" in err and "SIGSEGV" in err


def test_analyze_takes_flatbuffer_bytes_from_python(files):
    import compressor

    run = compressor.analyze((files / "x.tflite").read_bytes(), "cortex-m4", budgets={"macs": 10})
    assert run.record["model"]["name"] == "model" and run.record["model"]["source"] is None
    assert run.verdict == "fail" and {r["name"]: r for r in run.record["budgets"] if r["source"] == "cli"}[
        "macs"]["verdict"] == "fail"


def test_a_16x8_tflite_is_delivered_with_its_tflm_check_in_int16_lsb(files, capsys):
    """A 16x8 flatbuffer (int16 activations, int8 weights) is taken like an int8 one: delivered as
    model_int16x8.tflite with its C array, TFLite Micro checked against TFLite in int16 output LSBs."""
    from compressor.export import tflite

    model = keras.models.load_model(files / "m.keras")
    x = np.load(files / "inputs.npy")
    given = tflite.to_int8_tflite(model, x, "int16")
    (files / "x16.tflite").write_bytes(given)
    out = files / "out16"
    assert main(["--target", "cortex-m4", "--model", str(files / "x16.tflite"), "--data", str(files / "inputs.npy"),
                 "--out", str(out)]) == 0, capsys.readouterr()
    record = json.loads((out / "report.json").read_text())
    assert (out / "model_int16x8.tflite").read_bytes() == given and record["verdict"] == "pass"
    check = {r["name"]: r for r in record["checks"]}["tflm_vs_tflite_lsb"]
    assert check["limit"] == 1024 and check["value"] <= 4
    assert "extrapolation" in record["figures"]["latency_s"]["by"]


def test_a_16x8_tflite_that_aborts_the_interpreters_is_one_line(files, capsys):
    """TFLite and TFLite Micro abort the process on a 16x8 LayerNormalization: refused in one line, not a crash."""
    from compressor.export import tflite

    inputs = keras.Input((10, 8), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.LayerNormalization()(
        keras.layers.Dense(8)(inputs)))), name="ln")
    x = np.random.default_rng(0).random((16, 10, 8)).astype("float32")
    (files / "ln16.tflite").write_bytes(tflite._convert(model, x, "int16"))   # unprobed: as another tool writes it
    code = main(["analyze", str(files / "ln16.tflite"), "--target", "cortex-m4"])
    captured = capsys.readouterr()
    assert code == 2 and len(captured.err.strip().splitlines()) == 1, captured.err
    assert "ln16.tflite: the int16x8 model aborts the TFLite interpreters (SIGABRT)" in captured.err
    assert "RSQRT" in captured.err and "Traceback" not in captured.err + captured.out
