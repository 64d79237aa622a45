"""Counts on the Keras model and on its int8 TFLite form (DCASE NeSsi rules), checked against published figures."""

import numpy as np
import pytest
from tensorflow import keras

from compressor import api
from compressor.analysis import counts, memory
from compressor.export import tflite

L = keras.layers
PUBLISHED_MACS = 29_234_920   # DCASE 2022 Task 1 baseline, NeSsi (SPEC section 2)
PUBLISHED_BYTES = 46_512


def dcase_baseline(seed=0):
    """The DCASE 2022 baseline (SPEC 2) with non-zero biases and BN statistics, as a trained model has: the
    converter drops all-zero biases and merges identical constants, which would hide bytes."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((40, 51, 1))
    for filters, pool in ((16, None), (16, (5, 5)), (32, (4, 10))):
        x = L.Conv2D(filters, 7, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        if pool:
            x = L.MaxPooling2D(pool)(x)
            x = L.Dropout(0.3)(x)
    x = L.Flatten()(x)
    x = L.Dense(100, activation="relu")(x)
    x = L.Dropout(0.3)(x)
    model = keras.Model(inputs, L.Dense(10, activation="softmax")(x), name="dcase_baseline")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        w = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w[0].shape), rng.normal(0, 0.1, w[1].shape),
                               rng.normal(0, 0.1, w[2].shape), rng.uniform(0.5, 1.5, w[3].shape)])
        elif len(w) == 2:
            layer.set_weights([w[0], rng.normal(0, 0.1, w[1].shape)])
    return model


@pytest.fixture(scope="module")
def baseline():
    return dcase_baseline()


@pytest.fixture(scope="module")
def baseline_record(baseline):
    return api.analyze(baseline, "cortex-m4", budgets={"params": 128_000, "macs": 30e6}).record


def test_baseline_matches_the_published_dcase_figures(baseline_record):
    figs = baseline_record["figures"]
    assert abs(figs["macs"]["value"] - PUBLISHED_MACS) / PUBLISHED_MACS < 0.005
    assert figs["weights_bytes"]["value"] == PUBLISHED_BYTES
    assert figs["macs"]["provenance"] == "counted"


def test_baseline_passes_the_dcase_limits(baseline_record):
    rows = {r["name"]: r for r in baseline_record["budgets"]}
    assert rows["params"]["verdict"] == "pass" and rows["params"]["value"] == 46_246
    assert rows["macs"]["verdict"] == "pass" and rows["macs"]["source"] == "cli"
    assert baseline_record["verdict"] == "pass"


def test_tflite_rows_follow_nessi(baseline_record):
    rows = baseline_record["layers"]
    kinds = [r["type"] for r in rows]
    assert kinds == ["CONV_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D",
                     "FULLY_CONNECTED", "FULLY_CONNECTED"]        # RESHAPE and SOFTMAX are not compute operators
    assert rows[1]["macs"] == 40 * 51 * 16 * 7 * 7 * 16
    assert rows[2]["macs"] == 8 * 10 * 16 * 25                     # pool window counted as MACs
    assert rows[0]["bytes"] == 16 * 49 + 16 * 4                    # int8 kernel + int32 bias


def test_keras_counts_agree_with_tflite(baseline, baseline_record):
    rows = counts.keras_layer_counts(baseline)
    assert sum(r["params"] for r in rows) == baseline.count_params()
    keras_macs = sum(r["macs"] for r in rows)
    assert keras_macs == sum(r["macs"] for r in baseline_record["layers"])  # same rules on both sides
    assert {r["macs_by"] for r in rows} == {"counted"}                    # float layers: QKeras skips them


def test_qkeras_layers_are_counted_by_qkeras_estimate():
    from qkeras import QConv2D, QDense, quantized_bits

    inputs = keras.Input((8, 8, 1))
    x = QConv2D(4, 3, kernel_quantizer=quantized_bits(4, 0, 1), bias_quantizer=quantized_bits(4, 0, 1),
                name="qconv")(inputs)
    x = L.Flatten()(x)
    y = QDense(3, kernel_quantizer=quantized_bits(4, 0, 1), bias_quantizer=quantized_bits(4, 0, 1), name="qdense")(x)
    rows = {r["name"]: r for r in counts.keras_layer_counts(keras.Model(inputs, y))}
    assert rows["qconv"]["macs_by"] == "qkeras.estimate"
    assert rows["qconv"]["macs"] == 6 * 6 * 4 * 9
    assert rows["qdense"]["macs"] == 6 * 6 * 4 * 3
    assert rows["qconv"]["bits"] == 4


def test_pruned_model_counts_zeros_in_params():
    import tensorflow_model_optimization as tfmot

    model = keras.Sequential([keras.Input((16,)), L.Dense(32), L.Dense(4)])
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        model, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1))
    pruned.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    pruned.fit(x, np.zeros((8, 4)), epochs=1, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    rows = counts.keras_layer_counts(pruned)
    assert [r["params"] for r in rows] == [16 * 32 + 32, 32 * 4 + 4]      # zeros still counted
    assert rows[0]["zeros"] >= 16 * 32 // 2                               # half the kernel pruned


def test_peak_activation_estimate_is_close_to_the_tflm_arena(baseline_record):
    figs = baseline_record["figures"]
    peak, arena = figs["peak_activation_bytes"]["value"], figs["arena_bytes"]["value"]
    assert figs["peak_activation_bytes"]["provenance"] == "estimated"
    assert 0.85 * arena <= peak <= arena        # TFLM adds its own structures on top of the tensors


def test_peak_activation_of_a_chain():
    model = keras.Sequential([keras.Input((10,)), L.Dense(20), L.Dense(5)])
    b = tflite.to_int8_tflite(model, np.random.default_rng(0).normal(size=(4, 10)).astype("float32"))
    peak, _ = memory.peak_activation_bytes(b)
    assert peak == 10 + 20                      # int8: input and first output live together, then 20 + 5
