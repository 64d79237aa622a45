"""A model with several outputs exports and is verified output by output (issue 16, item 6): `compress --target
cortex-m4 --model` converts it to int8, checks each output against Keras in its own output LSBs (top-1 too for a
softmax head) and TFLite Micro against TFLite for every output, one row each. The converter may order the outputs
differently from Keras (here: alphabetically), so outputs are matched by name, or by shape when unique; a wrong
pairing fails the checks."""

import json

import numpy as np
import pytest
from tensorflow import keras

from compressor.cli import main
from compressor.errors import VerificationFailed
from compressor.export import int8, tflite

L = keras.layers


def classifier_and_regressor():
    """A shared trunk, a softmax classifier head of 4 and a linear regression head of 3."""
    inputs = keras.Input((16,))
    trunk = L.Dense(16, activation="relu")(inputs)
    kind = L.Dense(4, activation="softmax", name="kind")(trunk)
    level = L.Dense(3, name="level")(L.Dense(8, activation="relu")(trunk))
    return keras.Model(inputs, [kind, level], name="kind_and_level")


def same_shaped_heads():
    """Two linear heads of 3 units whose value ranges differ by ~10x (any swap is far beyond 16 LSB); the converter
    (TF 2.15) puts them in the flatbuffer in the other order: 'zeta' first, 'alpha' second."""
    inputs = keras.Input((16,))
    trunk = L.Dense(16, activation="relu")(inputs)
    alpha = L.Dense(3, name="alpha")(trunk)
    zeta = L.Dense(3, name="zeta", kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(
        L.Dense(8, activation="tanh")(trunk))
    return keras.Model(inputs, [alpha, zeta], name="twin_heads")


def rows_by_name(out):
    record = json.loads((out / "report.json").read_text())
    return record, {row["name"]: row for row in record["checks"]}


def test_classifier_and_regressor_heads_are_each_checked(tmp_path):
    keras.utils.set_random_seed(0)
    path = tmp_path / "two_out.keras"
    classifier_and_regressor().save(path)
    out = tmp_path / "out"
    assert main(["--target", "cortex-m4", "--model", str(path), "--out", str(out)]) == 0
    record, rows = rows_by_name(out)
    assert set(rows) == {"int8_max_error_lsb[kind]", "int8_top1_agreement[kind]", "tflm_vs_tflite_lsb[kind]",
                         "int8_max_error_lsb[level]", "tflm_vs_tflite_lsb[level]"}   # top-1 for the softmax only
    assert all(row["verdict"] == "pass" and row["provenance"] == "measured" for row in rows.values())
    assert rows["int8_max_error_lsb[level]"]["title"] == "int8 vs Keras (level)"
    assert rows["tflm_vs_tflite_lsb[kind]"]["title"] == "TFLite Micro vs TFLite (kind)"
    assert "output 'level'" in rows["int8_max_error_lsb[level]"]["by"]
    assert record["verdict"] == "pass" and record["model"]["task"] == "multi-output"
    assert (out / "model_int8.tflite").stat().st_size > 0 and (out / "model_data.cc").exists()
    assert "int8 vs Keras (kind)" in (out / "summary.md").read_text()


def test_heads_of_the_same_shape_are_matched_by_name(tmp_path):
    keras.utils.set_random_seed(1)
    path = tmp_path / "twins.keras"
    model = same_shaped_heads()
    model.save(path)
    out = tmp_path / "out"
    assert main(["--target", "cortex-m4", "--model", str(path), "--out", str(out)]) == 0
    record, rows = rows_by_name(out)
    assert set(rows) == {f"{check}[{head}]" for check in ("int8_max_error_lsb", "tflm_vs_tflite_lsb")
                         for head in ("alpha", "zeta")}
    assert all(row["verdict"] == "pass" for row in rows.values()), rows
    # the flatbuffer orders them apart from Keras: taken in order, each would be compared with the other head
    note = next(n for step in record["steps"] for n in step["notes"] if n.startswith("2 outputs"))
    assert "'alpha' (int8 output 1), 'zeta' (int8 output 0)" in note, note


@pytest.fixture(scope="module")
def twins():
    keras.utils.set_random_seed(2)
    model = same_shaped_heads()
    x = np.random.default_rng(0).normal(size=(48, 16)).astype("float32")
    return model, tflite.to_int8_tflite(model, x), x


def test_a_wrong_pairing_of_outputs_fails_the_check(twins):
    model, tflite_bytes, x = twins
    right, _, _ = tflite.verify_outputs(model, tflite_bytes, x[:16])
    assert [r["name"] for r in right] == ["alpha", "zeta"] and [r["position"] for r in right] == [1, 0]
    assert max(r["max_error_lsb"] for r in right) <= int8.MAX_ERROR_LSB
    swapped = [1 - r["position"] for r in right]   # = [0, 1], Keras' order: each output against the other's tensor
    wrong, _, _ = tflite.verify_outputs(model, tflite_bytes, x[:16], order=swapped)
    assert all(r["max_error_lsb"] > 4 * int8.MAX_ERROR_LSB for r in wrong), wrong


def test_matching_by_name_by_shape_and_refusing_to_guess():
    details = [{"index": 11, "shape": np.array([1, 3])}, {"index": 10, "shape": np.array([1, 4])},
               {"index": 8, "shape": np.array([1, 3])}]
    names, shapes = ["zeta", "alpha", "mid"], [(3,), (3,), (4,)]
    assert tflite.match_outputs(names, shapes, details, {"alpha": 8, "mid": 10, "zeta": 11}) == [0, 2, 1]
    with pytest.raises(VerificationFailed, match="cannot tell .* zeta, alpha"):   # same shapes, no names
        tflite.match_outputs(names, shapes, details, {})
    assert tflite.match_outputs(["a", "b"], [(4,), (3,)], details[:2], {}) == [1, 0]   # unique shapes
    with pytest.raises(VerificationFailed, match="shape"):   # a name that points at a tensor of another shape
        tflite.match_outputs(names, shapes, details, {"alpha": 10, "mid": 8, "zeta": 11})
    with pytest.raises(VerificationFailed, match="2 outputs"):
        tflite.match_outputs(names, shapes, details[:2], {})


def test_classifier_outputs_are_the_softmax_vectors():
    inputs = keras.Input((8,))
    h = L.Dense(8)(inputs)
    model = keras.Model(inputs, [L.Dense(4, activation="softmax", name="a")(h), L.Softmax(name="b")(L.Dense(3)(h)),
                                 L.Activation("softmax", name="c")(L.Dense(5)(h)), L.Dense(3, name="logits")(h),
                                 L.Dense(1, activation="softmax", name="one")(h)])
    assert int8.classifier_outputs(model) == ["a", "b", "c"]
