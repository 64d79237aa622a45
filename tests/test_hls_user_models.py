"""A user's own small models through QKeras quantization and hls4ml: C-sim agrees with QKeras on the class
(Dense, Conv1D with global average pooling, Conv2D fed a non C-contiguous batch, a forked CNN with BatchNorm,
depthwise, Add, Concatenate, pooling), io_stream FIFOs of a linear chain sized below hls4ml's default with the
same C-sim result, and an unsupported layer refused in one line."""

import re

import numpy as np
import pytest
import tensorflow as tf

from compressor.analysis.hls_design import FIFO_RULE_FORK, FIFO_RULE_LINEAR, check_supported
from compressor.errors import BadInput
from compressor.export.hls import export_hls
from compressor.methods.quantize import quantize_model
from compressor.targets import load_target

L = tf.keras.layers
# 8-bit kernels and biases, 8-bit ReLUs; the softmax head keeps its function (no activation quantizer)
DEFAULT = {"kernel": "quantized_bits(8,0,alpha=1)", "bias": "quantized_bits(8,0,alpha=1)",
           "activation": "quantized_relu(8,0)"}
HEAD = {"head": {"activation": None}}


def _train_and_quantize(model, x, y, seed=0):
    """What a user does: train the float model, quantize it with rules, fine-tune the QKeras twin briefly."""
    tf.keras.utils.set_random_seed(seed)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    qmodel, _ = quantize_model(model, HEAD, DEFAULT)
    qmodel.compile(optimizer=tf.keras.optimizers.Adam(0.002), loss="sparse_categorical_crossentropy")
    qmodel.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return qmodel


def _dense_data(n, rng):
    x = rng.normal(0, 0.3, (n, 16)).astype(np.float32)
    y = rng.integers(0, 3, n)
    for i, c in enumerate(y):
        x[i, 5 * c:5 * c + 5] += 1.0
    return x, y


def _channel_data(n, rng):
    """(64 frames, 8 channels): the class raises a group of channels over the whole clip (a global average keeps it)."""
    x = rng.normal(0, 0.3, (n, 64, 8)).astype(np.float32)
    y = rng.integers(0, 3, n)
    for i, c in enumerate(y):
        x[i, :, 3 * c:3 * c + 2] += 1.0
    return x, y


def _quadrant_data(n, rng):
    x = rng.normal(0, 0.3, (n, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 3, n)
    for i, c in enumerate(y):
        r, col = [(0, 0), (0, 8), (8, 0)][c]
        x[i, r:r + 8, col:col + 8, 0] += 1.0
    return x, y


@pytest.fixture(scope="module")
def conv2d_user_model():
    rng = np.random.default_rng(2)
    inp = tf.keras.Input((16, 16, 1))
    h = L.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = L.MaxPooling2D(2, name="pool")(h)
    h = L.Conv2D(4, 3, activation="relu", name="conv2")(h)
    h = L.Flatten(name="flat")(h)
    model = tf.keras.Model(inp, L.Dense(3, activation="softmax", name="head")(h))
    x, y = _quadrant_data(256, rng)
    return _train_and_quantize(model, x, y), _quadrant_data(64, rng)


def _csim(qmodel, tmp_path, x_test, y_test, **kw):
    return export_hls(qmodel, load_target("pynq-z2"), tmp_path / "hls", x_test, task="classification",
                      y_test=y_test, **kw)


def _report(name, result):
    m = result["metrics"]
    print(f"\n{name}: C-sim agreement {m['agreement']:.3f}, accuracy QKeras {m['accuracy_qkeras']:.3f} / C-sim "
          f"{m['accuracy_hls']:.3f}, max |error| {m['max_abs_error']:.4g} ({m['output_precision']}), "
          f"{result['config']['io_type']}")


@pytest.mark.slow
def test_sequential_dense_classifier_agrees(tmp_path):
    rng = np.random.default_rng(0)
    model = tf.keras.Sequential([L.Dense(16, activation="relu", input_shape=(16,), name="fc1"),
                                 L.Dense(3, activation="softmax", name="head")])
    x, y = _dense_data(256, rng)
    qmodel = _train_and_quantize(model, x, y)
    x_test, y_test = _dense_data(64, rng)
    result = _csim(qmodel, tmp_path, x_test, y_test)
    _report("Dense", result)
    m = result["metrics"]
    assert result["config"]["io_type"] == "io_parallel" and result["config"]["fifo_depths"] == []
    assert m["agreement"] >= 0.98 and m["accuracy_qkeras"] >= 0.9
    # a Sequential model's input is 'fc1_input', not its first layer: sized from the data, 12 fraction bits
    assert re.match(r"fixed<\d+,\d+", result["config"]["precisions"]["fc1_input"]["result_t"])
    assert m["input_precision"] == result["config"]["precisions"]["fc1_input"]["result_t"]
    # the softmax tables are sized (hls4ml's fixed<18,8> tables were off by 0.19)
    assert m["max_abs_error"] < 0.01


@pytest.mark.slow
def test_conv1d_with_global_average_pooling_agrees(tmp_path):
    """The reported 0.000: hls4ml does not infer a GlobalAveragePooling accumulator; the flat default wrapped."""
    rng = np.random.default_rng(1)
    inp = tf.keras.Input((64, 8))
    h = L.Conv1D(4, 3, padding="same", activation="relu", name="conv")(inp)
    h = L.GlobalAveragePooling1D(name="gap")(h)
    model = tf.keras.Model(inp, L.Dense(3, activation="softmax", name="head")(h))
    x, y = _channel_data(256, rng)
    qmodel = _train_and_quantize(model, x, y)
    x_test, y_test = _channel_data(64, rng)
    result = _csim(qmodel, tmp_path, x_test, y_test)
    _report("Conv1D", result)
    m = result["metrics"]
    assert m["agreement"] >= 0.98 and m["accuracy_qkeras"] >= 0.9
    accum = result["config"]["precisions"]["gap"]["accum_t"]          # holds the sum of 64 values in [0, 1)
    assert int(re.match(r"u?fixed<\d+,(\d+)", accum).group(1)) >= 7, accum


@pytest.mark.slow
def test_conv2d_on_a_non_contiguous_batch_agrees(tmp_path, conv2d_user_model):
    """The reported 'Array must be c_contiguous': a Fortran-ordered / swapped-axes batch (e.g. a front end's
    np.swapaxes output) reaches hls4ml's predict."""
    qmodel, (x_test, y_test) = conv2d_user_model
    x_f = np.asfortranarray(x_test)
    assert not x_f.flags["C_CONTIGUOUS"]
    result = _csim(qmodel, tmp_path, x_f, y_test)
    _report("Conv2D", result)
    assert result["metrics"]["agreement"] >= 0.98 and result["metrics"]["accuracy_qkeras"] >= 0.9


@pytest.mark.slow
def test_linear_stream_cnn_fifos_below_default_and_csim_unchanged(tmp_path, conv2d_user_model):
    qmodel, (x_test, y_test) = conv2d_user_model
    sized = _csim(qmodel, tmp_path / "sized", x_test, y_test)
    default = _csim(qmodel, tmp_path / "default", x_test, y_test, fifo_depths="default")
    fifos = sized["config"]["fifo_depths"]
    print("\nFIFO depths (default -> sized): " + ", ".join(f"{r['from']}->{r['to']} {r['default_depth']}->"
                                                           f"{r['depth']}" for r in fifos))
    assert sized["config"]["io_type"] == "io_stream" and fifos
    assert all(r["rule"] == FIFO_RULE_LINEAR for r in fifos)           # a linear chain: nothing forks
    assert all(2 <= r["depth"] < r["default_depth"] for r in fifos if len(r["shape"]) == 3)
    assert all(r["depth"] <= r["default_depth"] for r in fifos)
    assert sum(r["depth"] for r in fifos) < sum(r["default_depth"] for r in fifos)
    assert [r["depth"] for r in default["config"]["fifo_depths"]] == [r["default_depth"] for r in fifos]
    # the depths are what the written project asks of HLS
    top = (tmp_path / "sized" / "hls" / "firmware" / "myproject.cpp").read_text()
    for r in fifos:
        assert f"#pragma HLS STREAM variable={r['fifo']} depth={r['depth']}" in top
    # and the C simulation is the same design: same outputs as with hls4ml's depths
    assert sized["metrics"]["agreement"] == default["metrics"]["agreement"] >= 0.98
    assert sized["metrics"]["max_abs_error"] == default["metrics"]["max_abs_error"]
    assert any("FIFO depths" in n for n in sized["notes"])


@pytest.mark.slow
def test_forked_cnn_with_batchnorm_depthwise_add_concatenate_agrees(tmp_path):
    """What hls4ml 1.3 converts beyond a chain; the FIFOs between the fork and its joins keep hls4ml's depth."""
    rng = np.random.default_rng(3)
    inp = tf.keras.Input((16, 16, 1))
    a = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    a = L.BatchNormalization(name="bn")(a)
    a = L.ReLU(name="relu")(a)
    b = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(a)
    c = L.Concatenate(name="cat")([L.Add(name="add")([a, b]), a])
    c = L.AveragePooling2D(2, name="avg")(c)
    c = L.Conv2D(4, 3, activation="relu", name="conv2")(c)
    c = L.MaxPooling2D(2, name="max")(c)
    h = L.GlobalAveragePooling2D(name="gap")(c)
    model = tf.keras.Model(inp, L.Dense(3, activation="softmax", name="head")(h))
    x, y = _quadrant_data(256, rng)
    qmodel = _train_and_quantize(model, x, y)
    x_test, y_test = _quadrant_data(64, rng)
    result = _csim(qmodel, tmp_path, x_test, y_test)
    _report("forked CNN", result)
    assert result["metrics"]["agreement"] >= 0.98
    rows = {(r["from"], r["to"]): r for r in result["config"]["fifo_depths"]}
    for key in [("clone_relu", "add"), ("add", "cat"), ("clone_relu", "cat")]:
        assert rows[key]["rule"] == FIFO_RULE_FORK and rows[key]["depth"] == rows[key]["default_depth"], key
    for key in [("conv", "bn"), ("cat", "avg"), ("avg", "conv2")]:
        assert rows[key]["rule"] == FIFO_RULE_LINEAR and rows[key]["depth"] < rows[key]["default_depth"], key
    bn = result["config"]["precisions"]["bn"]                    # sized from gamma / sqrt(var + eps), not default
    assert "scale_t" in bn and "bias_t" in bn


class Scale(L.Layer):
    """A user's custom layer."""

    def call(self, x):
        return 2.0 * x


@pytest.mark.parametrize("make, cls, hint", [
    (lambda h: L.Lambda(lambda t: t * 2.0, name="double")(h), "Lambda", "built-in Keras layers"),
    (lambda h: Scale(name="double")(h), "Scale", "custom layer"),
    (lambda h: L.Conv1DTranspose(4, 3, name="double")(h), "Conv1DTranspose", "UpSampling1D"),
])
def test_unsupported_layer_is_one_line_naming_it_and_what_to_use(tmp_path, make, cls, hint):
    inp = tf.keras.Input((16, 4))
    h = L.Conv1D(4, 3, name="conv")(inp)
    model = tf.keras.Model(inp, L.Flatten(name="flat")(make(h)))
    with pytest.raises(BadInput) as err:
        check_supported(model)
    message = str(err.value)
    assert "\n" not in message and f"'double' ({cls})" in message and "use " in message and hint in message
    out = tmp_path / "hls"
    with pytest.raises(BadInput):
        export_hls(model, load_target("pynq-z2"), out, np.zeros((2, 16, 4), np.float32), task="classification")
    assert not out.exists()


def test_a_c_simulation_that_does_not_compile_is_a_failed_check_naming_gpp(tmp_path, monkeypatch, capsys):
    """Without the shared recurrent type (share_recurrent_types), hls4ml 1.3's LSTM does not compile: the export
    fails as a check (VerificationFailed, no project written) naming g++'s first error, not pages of g++ output."""
    from compressor.analysis import hls_design
    from compressor.errors import VerificationFailed

    monkeypatch.setattr(hls_design, "share_recurrent_types", lambda model, layers: None)
    inputs = tf.keras.Input((6, 3))
    model = tf.keras.Model(inputs, L.Dense(2, activation="softmax")(L.LSTM(4)(inputs)))
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    with pytest.raises(VerificationFailed) as caught:
        export_hls(model, load_target("pynq-z2"), tmp_path / "hls", x, task="classification")
    message = str(caught.value)
    assert "did not compile" in message and "no matching function" in message and len(message.splitlines()) == 1
    assert caught.value.check["passed"] is False
    assert not (tmp_path / "hls").exists() and "nnet_recurrent.h" not in capsys.readouterr().err
