"""The step kinds are a registry (one module each); the recipe schema reads it; a recipe whose MCU model is never
exported still ends with the int8 figures and a verdict; the public API takes in-memory models."""

import numpy as np
import pytest
import tensorflow as tf
import yaml

import compressor
from compressor import steps
from compressor.errors import BadInput
from compressor.recipe import load_recipe

keras = tf.keras


def test_every_kind_is_registered_once_with_its_alias():
    assert set(steps.names()) == {"train", "quantize", "prune", "distill", "export_tflite", "export_hls", "energy",
                                  "probe", "generate", "qat"}
    assert steps.get("ptq") is steps.get("export_tflite")
    with pytest.raises(BadInput, match=r"unknown step kind 'ptqq' \(known: "):
        steps.get("ptqq")


def test_the_recipe_schema_reads_the_registry(tmp_path):
    recipe = {"name": "r", "description": "d", "family": "speech", "target": "cortex-m4",
              "models": {"cnn": {"zoo": "speech_cnn1d"}}, "deliver": "cnn",
              "steps": [{"name": "train", "kind": "train", "model": "cnn", "params": {"loss": "crossentropy"}},
                        {"name": "ptq", "kind": "ptq", "model": "cnn"}]}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    loaded = load_recipe(path, kinds=steps.KINDS)
    assert [s.kind for s in loaded.steps] == ["train", "export_tflite"]       # the alias names the kind
    recipe["steps"][1]["kind"] = "export_tflit"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(BadInput, match=r"steps\[1\] \(ptq\): field 'kind': expected one of .*export_tflite"):
        load_recipe(path, kinds=steps.KINDS)


def tiny_speech_model():
    inp = keras.Input((32000, 1))
    x = keras.layers.Conv1D(4, 64, strides=32, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, keras.layers.Dense(10)(x), name="tiny_kws")


@pytest.mark.slow
def test_an_mcu_recipe_without_an_export_step_still_gets_int8_figures_and_a_verdict(tmp_path):
    tiny_speech_model().save(tmp_path / "tiny.keras")
    recipe = {"name": "measure_only", "description": "a user's model measured", "family": "speech",
              "target": "cortex-m4", "models": {"m": {"path": str(tmp_path / "tiny.keras")}}, "deliver": "m",
              "steps": [{"name": "measure", "kind": "train", "model": "m",
                         "params": {"loss": "crossentropy", "epochs": 0}}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    run = compressor.run_recipe(str(tmp_path / "r.yaml"), quick=True, out=tmp_path / "out", log=lambda line: None)
    figures = run.record["figures"]
    for name in ("flash_bytes", "arena_bytes", "latency_s", "macs"):
        assert figures[name]["value"] > 0, name
    assert figures["arena_bytes"]["provenance"] == "measured"
    assert run.record["verdict"] in ("pass", "fail", "unverified")
    assert {c["name"] for c in run.record["checks"]} >= {"int8_max_error_lsb", "tflm_vs_tflite_lsb"}
    assert not (tmp_path / "out" / "model_int8.tflite").exists()     # measured, not exported: no step asked


def test_compress_takes_an_in_memory_model(tmp_path):
    inp = keras.Input((16,))
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.Dense(8, activation="relu")(inp)), name="mlp")
    x = np.random.default_rng(0).normal(size=(32, 16)).astype("float32")
    run = compressor.compress(model, "cortex-m4", data=x, out=tmp_path / "out")
    assert run.record["verdict"] == "pass" and run.record["model"]["name"] == "mlp"
    assert run.artifacts["tflite"].read_bytes()[4:8] == b"TFL3"
    assert run.models["model"] is model
