"""int8 export, its checks in the TFLite and TFLite Micro interpreters, the C array, MCU estimates, data loading."""

import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from compressor import data_arrays
from compressor.analysis import mcu, memory
from compressor.errors import BadInput, UnsupportedLayer
from compressor.export import carray, tflite, tflm
from compressor.targets import load_target

L = keras.layers


def tiny_classifier():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 10, 1))
    x = L.Conv2D(4, 3, activation="relu")(inputs)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    return keras.Model(inputs, L.Dense(5, activation="softmax")(x), name="tiny")


def topk_model():
    """TOPK_V2 converts to int8 TFLite but TFLite Micro has no kernel for it."""
    inputs = keras.Input((8,))
    x = L.Dense(4)(inputs)
    return keras.Model(inputs, tf.math.top_k(x, k=2).values, name="topk")


@pytest.fixture(scope="module")
def tiny():
    model = tiny_classifier()
    x = np.random.default_rng(0).normal(size=(16, 12, 10, 1)).astype("float32")
    return model, x, tflite.to_int8_tflite(model, x)


def test_int8_model_has_int8_input_and_output(tiny):
    from compressor.analysis.counts import interpreter

    interp = interpreter(tiny[2])
    assert interp.get_input_details()[0]["dtype"] == np.int8
    assert interp.get_output_details()[0]["dtype"] == np.int8


def test_int8_agrees_with_keras_within_a_few_lsb(tiny):
    model, x, b = tiny
    check, xq, yq = tflite.verify_against_keras(model, b, x, classifier=True)
    assert check["max_error_lsb"] <= 3
    assert check["top1_agreement_decisive"] == 1.0
    assert xq.dtype == np.int8 and yq.shape == (16, 5)


def test_tflm_gives_the_tflite_outputs_and_measures_the_arena(tiny):
    _, x, b = tiny
    xq, yq = tflite.run_tflite(b, x)
    micro, arena = tflm.run_tflm(b, xq)
    # TFLM's int8 softmax is not TFLite's lookup table: at most one LSB apart (seen on other seeds)
    assert np.max(np.abs(micro.astype(int) - yq.astype(int))) <= 1
    assert np.mean(micro == yq) > 0.9
    peak, _ = memory.peak_activation_bytes(b)
    assert peak <= arena < peak + 4096        # tensors plus TFLM's own bookkeeping


def test_tflm_names_the_operator_it_cannot_run():
    model = topk_model()
    b = tflite.to_int8_tflite(model, np.random.default_rng(0).normal(size=(4, 8)).astype("float32"))
    with pytest.raises(UnsupportedLayer, match="TOPK_V2"):
        tflm.load(b)


def test_c_array_holds_the_flatbuffer_aligned(tiny):
    b = tiny[2]
    header, source = carray.c_sources(b)
    assert "alignas(16) const unsigned char g_model[]" in source
    assert f"g_model_len = {len(b)};" in source
    assert "extern const unsigned int g_model_len;" in header
    body = source.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == b


def test_latency_and_energy_are_labelled_estimates():
    target = load_target("cortex-m4")
    lat, energy = mcu.latency_s(1_200_000, target), mcu.energy_j(1_200_000, target)
    # MACs only: the keyword-spotting operator mix of the TFLM + CMSIS-NN calibration, 181.9 ms / 2,656,768 MACs
    assert lat["value"] == pytest.approx(1_200_000 * 0.1819 / 2_656_768, rel=1e-3)
    assert energy["value"] == pytest.approx(lat["value"] * 0.0414, rel=0.01)   # 41 mW: energy / latency, v0.5 rows
    assert lat["provenance"] == energy["provenance"] == "estimated"
    assert "tflm_cmsis_nn" in lat["by"] and "120 MHz" in lat["by"]


def test_data_arrays(tmp_path):
    shape = (None, 4, 3)
    x = np.ones((5, 4, 3))
    np.savez(tmp_path / "named.npz", y=np.zeros(5), x=x)
    np.savez(tmp_path / "only.npz", inputs=x)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    np.save(tmp_path / "one.npy", x[0])
    assert data_arrays.load_inputs(tmp_path / "named.npz", shape).shape == (5, 4, 3)
    assert data_arrays.load_inputs(tmp_path / "only.npz", shape).dtype == np.float32
    assert data_arrays.load_inputs(tmp_path / "one.npy", shape).shape == (1, 4, 3)     # one sample, batched
    with pytest.raises(BadInput, match="no array named 'x' among a, b"):
        data_arrays.load_inputs(tmp_path / "two.npz", shape)
    with pytest.raises(BadInput, match=r"shape \(5, 4, 3\) does not match the model input \(N, 4, 4\)"):
        data_arrays.load_inputs(tmp_path / "named.npz", (None, 4, 4))
    with pytest.raises(BadInput, match="no such data file"):
        data_arrays.load_inputs(tmp_path / "missing.npz", shape)
    changes = []                                                     # what was changed is said, with counts
    data_arrays.load_inputs(tmp_path / "one.npy", shape, changes)
    assert changes == [f"{tmp_path / 'one.npy'}: one input of shape (4, 3), read as a batch of 1",
                       f"{tmp_path / 'one.npy'}: converted 1 input from float64 to float32 (the model's input type)"]
    changes = []
    data_arrays.check_inputs(x.astype(np.float32), shape, "data", changes)
    assert changes == []
