"""Effects emulators (SPEC 3): published parameter counts, streaming == sequence, plain TFLite builtins."""

import numpy as np
import pytest
import tensorflow as tf

from compressor import zoo
from compressor.errors import BadInput
from compressor.zoo import effects

PLAIN_OPS = {"FULLY_CONNECTED", "ADD", "SUB", "MUL", "LOGISTIC", "TANH", "SPLIT", "SPLIT_V"}


@pytest.mark.parametrize("name,hidden,params", [("effects_lstm", 64, 16_961), ("effects_gru", 64, 12_929),
                                                ("effects_gru", 16, 929), ("effects_gru", 8, 273)])
def test_published_parameter_counts(name, hidden, params):
    assert zoo.build(name, hidden=hidden).count_params() == params


def _run_streaming(step, seq_model, signal):
    states = [np.zeros((1, n), np.float32) for n in effects.state_sizes(seq_model)]
    out = []
    for t in range(signal.shape[0]):
        result = step([signal[t].reshape(1, 1)] + states)
        out.append(float(result[0].numpy()[0, 0]))
        states = [s.numpy() for s in result[1:]]
    return np.array(out)


@pytest.mark.parametrize("cell,hidden", [("lstm", 64), ("gru", 16)])
def test_streaming_equals_sequence(cell, hidden):
    seq = effects.build(cell, hidden)
    rng = np.random.default_rng(0)
    # random non-trivial weights (not the initialiser's), set on the sequence model only: the step must follow
    seq.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in seq.get_weights()])
    step = effects.streaming_model(seq)
    signal = (0.5 * np.sin(np.arange(200) * 0.07) + 0.1 * rng.standard_normal(200)).astype(np.float32)
    expected = seq(signal.reshape(1, -1, 1)).numpy().reshape(-1)
    np.testing.assert_allclose(_run_streaming(step, seq, signal), expected, atol=1e-5)


def test_streaming_converts_to_plain_builtin_ops():
    from tflite_runtime.interpreter import Interpreter

    seq = effects.build("lstm", 8)
    step = effects.streaming_model(seq)
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(step).convert()
    interpreter = Interpreter(model_content=flatbuffer)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops <= PLAIN_OPS, ops - PLAIN_OPS
    interpreter.allocate_tensors()
    feed = [np.array([[0.3]], np.float32), np.full((1, 8), 0.1, np.float32), np.full((1, 8), -0.2, np.float32)]
    by_name = {d["name"]: d for d in interpreter.get_input_details()}
    for i, name in enumerate(["sample", "state0", "state1"]):
        detail = next(d for n, d in by_name.items() if name in n)
        interpreter.set_tensor(detail["index"], feed[i])
    interpreter.invoke()
    keras_out = step(feed)[0].numpy()
    tflite_outs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    assert any(o.shape == (1, 1) and np.allclose(o, keras_out, atol=1e-5) for o in tflite_outs)


def test_residual_adds_the_input():
    seq = effects.build("gru", 8)
    seq.get_layer("out_dense").set_weights([np.zeros((8, 1), np.float32), np.zeros(1, np.float32)])
    x = np.linspace(-1, 1, 50, dtype=np.float32).reshape(1, -1, 1)
    np.testing.assert_allclose(seq(x).numpy(), x, atol=1e-7)


def test_bad_cell_and_not_an_effects_model():
    with pytest.raises(BadInput, match="cell"):
        effects.build("rnn", 8)
    with pytest.raises(BadInput, match="rnn"):
        effects.streaming_model(zoo.build("dcase_student"))
