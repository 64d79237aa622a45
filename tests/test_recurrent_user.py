"""A user's own LSTM / GRU model exported to TFLite Micro as a one-step streaming model (issue 16 item 4): the
one-step Keras model streamed equals the sequence model, the int8 model runs in TFLite Micro and matches Keras
within int8_export's stated LSBs over 256 steps; layers that cannot stream are one line naming them."""

import numpy as np
import pytest
import tensorflow as tf

from compressor.errors import BadInput
from compressor.export import int8, recurrent

L = tf.keras.layers
T, F, UNITS, OUT = 16, 6, 16, 3


def _user_model(kind, return_sequences, batch_size, seed=0, stacked=False):
    """The user's model, trained a few steps on random data: Input(T, F) -> LSTM/GRU(16) [-> 2nd RNN] -> Dense."""
    tf.keras.utils.set_random_seed(seed)
    rnn = {"lstm": L.LSTM, "gru": L.GRU, "simple": L.SimpleRNN}[kind]
    inputs = tf.keras.Input((T, F), batch_size=batch_size)
    h = rnn(UNITS, return_sequences=True if stacked else return_sequences)(inputs)
    if stacked:
        h = L.Dense(12, activation="relu")(h)
        h = rnn(8, return_sequences=return_sequences)(h)
    model = tf.keras.Model(inputs, L.Dense(OUT)(h), name=f"user_{kind}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, T, F)).astype(np.float32)
    y = rng.standard_normal((64, *model.output_shape[1:])).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)    # 16 steps: weights away from the initialiser's
    return model, x


def _export(model, x):
    from compressor.targets import load_target

    packed, x_cal, x_verify, note = recurrent.one_step_form(model, x)
    result = int8.int8_export(packed, x_cal, x_verify, load_target("cortex-m7"), classifier=False)
    return packed, x_verify, note, result


CASES = [("lstm", True, None), ("lstm", False, 4), ("gru", True, 4), ("gru", False, None)]
SLOW_CASES = [("lstm", True, 4), ("lstm", False, None), ("gru", True, None), ("gru", False, 4)]


def _check_export(kind, return_sequences, batch_size):
    model, x = _user_model(kind, return_sequences, batch_size)
    assert recurrent.has_recurrent(model)
    packed, x_verify, note, result = _export(model, x)
    # int8_export's own checks (int8 vs Keras <= 16 LSB, TFLM vs TFLite <= 4 LSB on its first 32 steps) ...
    assert not result.failures, result.failures
    # ... and the same tolerances over every verification step (>= 256), plus the float one-step model vs sequence
    rows = recurrent.recurrent_checks(model, packed, x, result.tflite_bytes, x_verify)
    assert [r["name"] for r in rows] == ["step_vs_sequence_max_abs", "int8_steps_max_error_lsb",
                                         "tflm_steps_vs_tflite_lsb"]
    assert all(r["verdict"] == "pass" for r in rows), rows
    assert len(x_verify) >= 256 and rows[1]["by"].endswith(f"{len(x_verify)} streamed steps")
    assert result.figures["arena_bytes"]["value"] > 0
    # the packed layout: [frame, h (, c)] in, [output, new h (, c)] out
    states = UNITS * (2 if kind == "lstm" else 1)
    assert packed.input_shape == (1, F + states) and packed.output_shape == (1, OUT + states)
    assert "fewer than" not in note and f"{len(x_verify)} verification steps" in note
    return model, x, packed, result


@pytest.mark.parametrize("kind,return_sequences,batch_size", CASES)
def test_user_rnn_int8_one_step_runs_in_tflm(kind, return_sequences, batch_size):
    _check_export(kind, return_sequences, batch_size)


@pytest.mark.slow
@pytest.mark.parametrize("kind,return_sequences,batch_size", SLOW_CASES)
def test_user_rnn_int8_one_step_runs_in_tflm_other_settings(kind, return_sequences, batch_size):
    _check_export(kind, return_sequences, batch_size)


def test_held_out_verification_sequences():
    """With x_verify the verification steps come from sequences the converter never saw (an output beyond the
    calibrated range would clip and count): here the ranges hold."""
    from compressor.targets import load_target

    model, x = _user_model("lstm", False, None)
    packed, x_cal, x_verify, note = recurrent.one_step_form(model, x[:40], x_verify=x[40:])
    assert "held-out" in note and len(x_cal) == 40 * T and len(x_verify) == 16 * T
    result = int8.int8_export(packed, x_cal, x_verify, load_target("cortex-m7"), classifier=False)
    assert not result.failures, result.failures
    rows = recurrent.recurrent_checks(model, packed, x[40:], result.tflite_bytes, x_verify)
    assert all(r["verdict"] == "pass" for r in rows), rows


def test_firmware_loop_in_tflm_follows_the_sequence_model():
    """TFLite Micro carrying its own int8 state over 256 steps (as the firmware does) stays near the float
    sequence model: the error compounds over steps, so the bound is looser than a single step's."""
    model, x, packed, result = _check_export("gru", True, None)
    drift = recurrent.int8_stream_error(model, packed, result.tflite_bytes, x[-16:])
    assert drift["steps"] >= 256
    assert drift["max_abs_error"] < 0.1 * drift["reference_max_abs"], drift


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_step_by_step_equals_sequence_model(kind, return_sequences):
    model, x = _user_model(kind, return_sequences, None)
    packed = recurrent.packed_step_model(model)
    assert recurrent.step_vs_sequence_error(model, packed, x) <= recurrent.STEP_MAX_ABS_ERROR


@pytest.mark.parametrize("return_sequences", [True, False])
def test_two_stacked_layers_with_a_dense_between(return_sequences):
    model, x = _user_model("lstm", return_sequences, 4, stacked=True)
    packed = recurrent.packed_step_model(model)
    assert [(layer, s) for layer, s, _ in packed.state_layout] == [
        (model.layers[1].name, "h"), (model.layers[1].name, "c"), (model.layers[3].name, "h"),
        (model.layers[3].name, "c")]
    assert packed.input_shape == (1, F + 2 * UNITS + 2 * 8)
    assert recurrent.step_vs_sequence_error(model, packed, x) <= recurrent.STEP_MAX_ABS_ERROR


def test_the_float_check_catches_a_wrong_step_model():
    model, x = _user_model("gru", True, None)
    packed = recurrent.packed_step_model(model)
    rows = recurrent.recurrent_checks(model, packed, x)
    assert [(r["name"], r["verdict"]) for r in rows] == [("step_vs_sequence_max_abs", "pass")]
    dense = packed.get_layer(f"{model.name}_step").get_layer(model.layers[-1].name)
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + 1e-3])
    assert recurrent.recurrent_checks(model, packed, x)[0]["verdict"] == "fail"


def test_bidirectional_is_bad_input_naming_the_layer():
    inputs = tf.keras.Input((T, F))
    h = L.Bidirectional(L.LSTM(8), name="both_ways")(inputs)
    model = tf.keras.Model(inputs, L.Dense(2)(h))
    with pytest.raises(BadInput, match="'both_ways'.*unidirectional") as raised:
        recurrent.has_recurrent(model)
    assert "\n" not in str(raised.value)
    with pytest.raises(BadInput, match="'both_ways'"):
        recurrent.one_step_form(model, np.zeros((4, T, F), np.float32))


@pytest.mark.parametrize("layer,name", [(L.Conv1D(8, 3, padding="same", name="conv_t"), "conv_t"),
                                        (L.LayerNormalization(axis=(1, 2), name="norm_t"), "norm_t")])
def test_a_layer_across_time_before_the_rnn_is_bad_input(layer, name):
    inputs = tf.keras.Input((T, F))
    model = tf.keras.Model(inputs, L.Dense(2)(L.GRU(8)(layer(inputs))))
    with pytest.raises(BadInput, match=f"'{name}'") as raised:
        recurrent.packed_step_model(model)
    assert "\n" not in str(raised.value)


def test_flatten_over_time_is_bad_input():
    inputs = tf.keras.Input((T, F))
    model = tf.keras.Model(inputs, L.Dense(2)(L.Flatten(name="flat")(L.LSTM(8, return_sequences=True)(inputs))))
    with pytest.raises(BadInput, match="'flat' \\(Flatten\\)"):
        recurrent.packed_step_model(model)


def test_a_sequence_rebuilt_after_the_last_step_is_bad_input():
    inputs = tf.keras.Input((T, F))
    h = L.RepeatVector(T, name="again")(L.LSTM(8)(inputs))
    model = tf.keras.Model(inputs, L.Dense(2)(L.LSTM(4, return_sequences=True)(h)))
    with pytest.raises(BadInput, match="'again' \\(RepeatVector\\)"):
        recurrent.packed_step_model(model)


def test_plain_model_has_no_recurrent_layer():
    inputs = tf.keras.Input((T, F))
    assert not recurrent.has_recurrent(tf.keras.Model(inputs, L.Dense(2)(inputs)))


def test_effects_packed_streaming_model_unchanged():
    """streaming.py's generalisation keeps the effects family's packed model and its stream helpers as they were."""
    from compressor.export import streaming
    from compressor.zoo import effects

    seq = effects.build("gru", 8)
    packed = streaming.packed_streaming_model(seq)
    assert packed.input.name.startswith("sample_and_state") and packed.input_shape == (1, 9)
    assert packed.layers[-1].name == "sample_and_new_state"
    signal = np.sin(np.arange(40) * 0.2).astype(np.float32)
    out, seen = streaming.stream(lambda v: packed(v).numpy(), signal, 9)
    np.testing.assert_allclose(out, seq(signal.reshape(1, -1, 1)).numpy().reshape(-1), atol=1e-5)
    assert seen.shape == (40, 9)


@pytest.mark.parametrize("kind, batch_size, labelled", [("lstm", None, True), ("gru", 4, False)])
def test_a_user_rnn_through_the_cli_on_cortex_m7(tmp_path, kind, batch_size, labelled):
    """`compress --target cortex-m7 --model rnn.keras`: the one-step model delivered, every check a row (the int8
    ones over all verification steps); with labels, int8 accuracy measured by streaming each test sequence."""
    import json

    from compressor.cli import main

    tf.keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, T, F)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(int)                     # the sign of a running sum: a recurrent task
    inputs = tf.keras.Input((T, F), batch_size=batch_size)
    h = {"lstm": L.LSTM, "gru": L.GRU}[kind](UNITS)(inputs)
    model = tf.keras.Model(inputs, L.Dense(2, activation="softmax")(h))
    model.compile(tf.keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    model.save(tmp_path / "rnn.keras")
    data = tmp_path / ("xy.npz" if labelled else "x.npy")
    np.savez(data, x=x, y=y) if labelled else np.save(data, x)
    out = tmp_path / "out"
    assert main(["--target", "cortex-m7", "--model", str(tmp_path / "rnn.keras"), "--data", str(data),
                 "--out", str(out)]) == 0
    record = json.loads((out / "report.json").read_text())
    checks = {c["name"]: c for c in record["checks"]}
    assert {"int8_max_error_lsb", "tflm_vs_tflite_lsb", "step_vs_sequence_max_abs", "int8_steps_max_error_lsb",
            "tflm_steps_vs_tflite_lsb"} <= set(checks)
    assert all(c["verdict"] == "pass" for c in checks.values())
    assert checks["int8_steps_max_error_lsb"]["value"] <= int8.MAX_ERROR_LSB
    assert "int8_top1_agreement" not in checks                  # a packed [output, state] vector has no top-1
    if labelled:
        accuracy = record["figures"]["int8_accuracy"]
        assert "streamed in TFLite Micro" in accuracy["by"] and accuracy["value"] >= 0.8
        assert abs(record["figures"]["metric_drop"]["value"]) <= 0.05
