"""int16 activations on an MCU (TFLite's 16x8 mode: int16 activations, int8 weights): the export, its checks against
Keras and in TensorFlow Lite Micro, its figures (the latency extrapolated from the int8 calibration, and saying so),
the export step's parameter, and the search knob that picks the format."""

import dataclasses

import numpy as np
import pytest
from tensorflow import keras

from compressor.analysis.counts import interpreter
from compressor.engine import load_checked_recipe
from compressor.errors import BadInput
from compressor.export import tflite
from compressor.export.int8 import INT16_LSB_PER_INT8_LSB, int8_export
from compressor.targets import load_target

L = keras.layers


@pytest.fixture(scope="module")
def trained():
    """A small conv classifier trained for a few epochs (its activations spread as a trained model's do)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 256)
    x = rng.normal(0, 1, (256, 16, 16, 1)).astype("float32")
    for i, label in enumerate(y):
        x[i, 4 * label:4 * label + 4] += 1.5
    inputs = keras.Input((16, 16, 1))
    h = L.Conv2D(8, 3, activation="relu")(inputs)
    h = L.DepthwiseConv2D(3, activation="relu")(h)
    h = L.MaxPooling2D()(h)
    h = L.Conv2D(16, 3, activation="relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, L.Dense(4, activation="softmax")(h), name="conv16")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    return model, x


@pytest.fixture(scope="module")
def both(trained):
    model, x = trained
    target = load_target("cortex-m4")
    return {a: int8_export(model, x[:64], x[64:96], target, classifier=True, activations=a) for a in ("int8", "int16")}


def test_16x8_has_int16_activations_and_int8_weights(both):
    interp = interpreter(both["int16"].tflite_bytes)
    assert interp.get_input_details()[0]["dtype"] == np.int16 and interp.get_output_details()[0]["dtype"] == np.int16
    kinds = {t["dtype"] for t in interp.get_tensor_details()}
    assert {np.int8, np.int16, np.int64} <= kinds          # int8 weights, int16 activations, int64 biases
    assert tflite.activations_of(both["int16"].tflite_bytes) == "int16"
    assert tflite.activations_of(both["int8"].tflite_bytes) == "int8"


def test_16x8_passes_its_checks_and_is_closer_to_keras_than_int8(both):
    for result in both.values():
        assert result.failures == [] and all(r["verdict"] == "pass" for r in result.checks)
    rows = {a: {r["name"]: r for r in result.checks} for a, result in both.items()}
    assert rows["int16"]["int8_max_error_lsb"]["title"] == "int16x8 vs Keras"
    # the tolerances are the int8 ones as the same fraction of the output range
    assert rows["int16"]["int8_max_error_lsb"]["limit"] == rows["int8"]["int8_max_error_lsb"]["limit"] * 256
    # measured in the same units (int8 output LSBs), 16-bit activations round less than 8-bit ones
    error16 = rows["int16"]["int8_max_error_lsb"]["value"] / INT16_LSB_PER_INT8_LSB
    assert error16 < rows["int8"]["int8_max_error_lsb"]["value"] / 2


def test_16x8_figures_measure_the_wider_arena_and_say_the_latency_is_extrapolated(both):
    f8, f16 = both["int8"].figures, both["int16"].figures
    assert f16["macs"]["value"] == f8["macs"]["value"]
    assert f16["arena_bytes"]["value"] > 1.5 * f8["arena_bytes"]["value"]        # twice the bytes an activation
    assert f16["flash_bytes"]["by"] == "size of model_int16x8.tflite"
    assert f16["latency_s"]["provenance"] == "estimated"
    assert "extrapolation" in f16["latency_s"]["by"] and "extrapolation" not in f8["latency_s"]["by"]
    assert "extrapolation" in f16["energy_j"]["by"]


def test_the_export_step_refuses_an_unknown_format(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\ndescription: d\nfamily: generic\ntarget: cortex-m4\nmodels:\n  model: {path: m.keras}\n"
                      "deliver: model\nsteps:\n  - {name: ptq, kind: export_tflite, model: model, "
                      "params: {activations: int4}}\n")
    from compressor.steps.base import step_params

    loaded = load_checked_recipe(recipe)
    with pytest.raises(BadInput, match=r"steps\[0\] \(ptq\)\.params: field 'activations': expected one of int8, "):
        step_params(loaded, loaded.steps[0])


def test_a_user_model_exports_16x8_end_to_end(trained, tmp_path, capsys):
    from compressor.cli import main

    model, x = trained
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x=x, y=np.argmax(model.predict(x, verbose=0), -1))
    recipe = tmp_path / "r16.yaml"
    recipe.write_text("name: r16\ndescription: int16 activations\nfamily: generic\ntarget: cortex-m4\n"
                      "models:\n  model: {path: \"{model}\"}\ndeliver: model\nsteps:\n"
                      "  - {name: ptq, kind: export_tflite, model: model, params: {activations: int16}}\n")
    out = tmp_path / "out"
    code = main(["--target", "cortex-m4", "--model", str(tmp_path / "m.keras"), "--data", str(tmp_path / "d.npz"),
                 "--recipe", str(recipe), "--out", str(out)])
    assert code == 0, capsys.readouterr()
    import json
    report = json.loads((out / "report.json").read_text())
    assert report["artifacts"]["tflite"] == "model_int16x8.tflite" and (out / "model_data.cc").exists()
    assert report["verdict"] == "pass"
    assert report["figures"]["int8_accuracy"]["by"].startswith("int16x8 TFLite interpreter")
    # the C array is the 16x8 flatbuffer
    assert str(len((out / "model_int16x8.tflite").read_bytes())) in (out / "model_data.cc").read_text()


def test_the_search_knob_sets_the_export_and_the_cheap_check_prices_it(trained, tmp_path):
    from compressor.search.feasible import int8_estimate
    from compressor.search.plans import EXPORT_SEARCH_STEP, plan_recipe
    from compressor.search.space import search_spec
    from compressor.user_data import user_dataset

    user = load_checked_recipe("default_mcu_search")
    spec = search_spec(user, "mcu", quick=True)
    assert spec.space["tflite_activations"] == ["int8", "int16"]
    plan = {"width": 0.5, "sparsity": 0.0, "tflite_activations": "int16"}
    trial = plan_recipe(user.profile(True), spec, plan)
    assert [(s.kind, s.params.get("activations")) for s in trial.steps] == [("distill", None),
                                                                             ("export_tflite", "int16")]
    # a recipe without an export step gets one in the plan's format
    bare = dataclasses.replace(user, steps=user.steps[:1])
    assert plan_recipe(bare.profile(True), spec, plan).steps[-1].name == EXPORT_SEARCH_STEP
    with pytest.raises(BadInput, match="a TFLite export knob, for an MCU target"):
        search_spec(dataclasses.replace(user, search={"space": {"tflite_activations": ["int16"]}}), "fpga")

    model, x = trained
    np.savez(tmp_path / "d.npz", x=x, y=np.argmax(model.predict(x, verbose=0), -1))
    data = user_dataset(tmp_path / "d.npz", model, "classification", quick=True)
    base = plan_recipe(user.profile(True), spec, {**plan, "width": 1.0})
    wide = plan_recipe(user.profile(True), spec, {**plan, "width": 1.0, "tflite_activations": "int8"})
    arena16 = int8_estimate(model, base, data)["arena_bytes"]["value"]
    assert arena16 > 1.5 * int8_estimate(model, wide, data)["arena_bytes"]["value"]



def test_a_plan_with_an_operator_16x8_lacks_is_rejected_before_training(tmp_path):
    """TFLite has no 16x8 ELU: that plan is infeasible before any training, naming the operator (the search goes
    on); the int8 plan of the same model trains and runs."""
    from compressor.search.runner import _why_none
    from compressor.search.space import search_spec
    from compressor.search.trial import evaluate
    from compressor.search.user import pack
    from compressor.user_data import user_dataset

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    h = L.GlobalAveragePooling2D()(L.Conv2D(8, 3, activation="elu")(inputs))
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(h), name="elu")
    x = np.random.default_rng(0).normal(size=(96, 12, 12, 1)).astype("float32")
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, :6].mean((1, 2, 3)) > 0).astype("int64"))
    data = user_dataset(tmp_path / "d.npz", model, "classification", quick=True)
    user = load_checked_recipe("default_mcu_search")
    spec = dataclasses.replace(search_spec(user, "mcu", quick=True), steps={"distill": {"epochs": 1}})
    job = {"recipe": user.profile(True), "spec": spec, "data": data, "seed": 0, "quick": True, "budgets": {},
           "limits": {}, "given": None, "user": pack(model)}
    int16 = evaluate({"width": 0.5, "sparsity": 0.0, "tflite_activations": "int16"}, job)
    assert int16["status"] == "infeasible" and "not yet supported for op: 'ELU'" in int16["why"]
    assert "cannot run on the device" in _why_none([int16])
    int8 = evaluate({"width": 0.5, "sparsity": 0.0, "tflite_activations": "int8"}, job)
    assert int8["status"] == "ok", int8.get("why")
    assert int8["figures"]["arena_bytes"] > 0


def test_an_interpreter_aborting_on_a_16x8_operator_is_an_error_not_a_crash():
    """The TFLite interpreter and TFLite Micro abort the process on a 16x8 LayerNormalization (RSQRT ...): a 16x8
    model is probed in a child process first, and the abort becomes one line naming the operators."""
    from compressor.errors import UnsupportedLayer
    from compressor.export import tflm

    inputs = keras.Input((10, 8), batch_size=1)
    model = keras.Model(inputs, L.Dense(3)(L.Flatten()(L.LayerNormalization()(L.Dense(8)(inputs)))), name="ln")
    x = np.random.default_rng(0).random((16, 10, 8)).astype("float32")
    assert tflm.load(tflite.to_int8_tflite(model, x, "int8")) is not None
    with pytest.raises(UnsupportedLayer, match=r"model 'ln': the int16x8 model aborts the TFLite interpreters "
                                               r"\(SIGABRT\): one of its operators \(.*RSQRT.*\) has no int16 kernel"):
        tflite.to_int8_tflite(model, x, "int16")
