"""hls4ml export: unsupported layers refused before writing, C simulation agrees with QKeras, divergence traced."""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_po2, quantized_relu, ternary

from compressor.errors import UnsupportedLayer, VerificationFailed
from compressor.analysis.hls_design import check_supported, replace_po2_biases
from compressor.export.hls import export_hls, hls4ml_notes, quiet_hls4ml
from compressor.targets import load_target

L = tf.keras.layers


def _cnn_classifier(n_classes=3):
    inp = tf.keras.Input((8, 8, 1))
    x = QConv2D(4, 3, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, 1),
                name="conv")(inp)
    x = QActivation(quantized_relu(8, 3), name="relu")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(n_classes, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, 1),
               name="logits")(x)
    return tf.keras.Model(inp, L.Activation("softmax", name="softmax")(x))


def _bright_quadrant_data(n, rng):
    """Class = which of three quadrants holds a bright blob: easy, so a few epochs learn it."""
    x = rng.uniform(0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    for i, c in enumerate(y):
        r, col = [(0, 0), (0, 4), (4, 0)][c]
        x[i, r:r + 4, col:col + 4, 0] += 0.7
    return x, y


def _ternary_po2_regressor():
    """SPEC 1 Model 7's quantizer kinds: ternary kernels with auto alpha, po2 biases."""
    inp = tf.keras.Input((8, 8, 1))
    x = QConv2D(4, 3, kernel_quantizer=ternary(), bias_quantizer=quantized_po2(4), name="c1")(inp)
    x = QActivation(quantized_relu(8, 3), name="a1")(x)
    x = L.Flatten(name="f")(x)
    x = QDense(3, kernel_quantizer=quantized_bits(8, 0, 1), bias_quantizer=quantized_po2(4), name="d1")(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        w = layer.get_weights()
        if w:
            w[-1] = rng.normal(0, 0.3, size=w[-1].shape).astype(np.float32)
            layer.set_weights(w)
    return model


def test_transposed_convolution_refused_before_anything_is_written(tmp_path):
    inp = tf.keras.Input((8, 8, 2))
    x = L.Conv2DTranspose(2, 3, strides=2, padding="same", name="up_deconv")(inp)
    model = tf.keras.Model(inp, x)
    with pytest.raises(UnsupportedLayer, match=r"'up_deconv' \(Conv2DTranspose\).*UpSampling2D \+ Conv2D"):
        check_supported(model)
    out = tmp_path / "hls"
    with pytest.raises(UnsupportedLayer):
        export_hls(model, load_target("pynq-z2"), out, np.zeros((1, 8, 8, 2), np.float32))
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_po2_biases_become_equal_fixed_point_values():
    model = _ternary_po2_regressor()
    converted, notes = replace_po2_biases(model)
    assert len(notes) == 2 and all("po2" in n for n in notes)
    for name in ("c1", "d1"):
        old, new = model.get_layer(name), converted.get_layer(name)
        assert type(new.bias_quantizer_internal).__name__ == "quantized_bits"
        po2_values = old.bias_quantizer_internal(old.bias).numpy()
        np.testing.assert_array_equal(new.bias_quantizer_internal(new.bias).numpy(), po2_values)
    x = np.random.default_rng(2).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(converted.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_cnn_classifier_csim_agrees_on_every_class(tmp_path):
    rng = np.random.default_rng(0)
    tf.keras.utils.set_random_seed(0)
    model = _cnn_classifier()
    x, y = _bright_quadrant_data(96, rng)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    x_test, y_test = _bright_quadrant_data(16, rng)
    out = tmp_path / "hls"
    result = export_hls(model, load_target("pynq-z2"), out, x_test, task="classification", y_test=y_test)
    m = result["metrics"]
    print(f"\nclassifier C-sim: agreement {m['agreement']}, max error {m['max_error_lsb']:.1f} LSB "
          f"of {m['output_precision']}, config {result['config']['strategy']} RF {result['config']['reuse_factor']}")
    assert m["agreement"] == 1.0
    assert m["accuracy_hls"] == m["accuracy_qkeras"] >= 0.9          # the task metric of both
    assert result["config"]["io_type"] == "io_stream"                # convolutional -> streaming
    assert result["config"]["part"] == "xc7z020clg400-1" and result["config"]["clock_mhz"] == 100.0
    assert result["figures"]["csim_agreement"]["provenance"] == "measured"
    assert "C simulation" in result["figures"]["csim_agreement"]["by"]
    assert (out / "firmware" / "myproject.cpp").is_file() and (out / "project.tcl").is_file()
    assert str(tmp_path) not in (out / "hls4ml_config.yml").read_text().replace(str(out.resolve()), "")
    assert [p.name for p in tmp_path.iterdir()] == ["hls"]           # no staging folder left behind
    # the precisions came from the quantizers, not the flat default
    assert result["config"]["precisions"]["conv"]["weight_t"].startswith("fixed<8,1")
    assert result["config"]["precisions"]["relu"]["result_t"].startswith("ufixed<8,3")


@pytest.mark.slow
def test_ternary_po2_model_is_bit_accurate_and_beats_a_flat_default(tmp_path):
    import hls4ml

    model = _ternary_po2_regressor()
    x = np.random.default_rng(3).uniform(0, 1, (8, 8, 8, 1)).astype(np.float32)
    result = export_hls(model, load_target("pynq-z2"), tmp_path / "hls", x, tolerance_lsb=2)
    ours = result["metrics"]["max_abs_error"]
    assert result["metrics"]["max_error_lsb"] <= 2
    assert any("po2" in n for n in result["notes"])
    # the same (po2-converted) model with hls4ml's flat fixed<16,6> everywhere, as SPEC 0 measured it
    converted, _ = replace_po2_biases(model)
    flat = hls4ml.utils.config_from_keras_model(converted, granularity="model", default_precision="fixed<16,6>")
    hm = hls4ml.converters.convert_from_keras_model(converted, hls_config=flat, output_dir=str(tmp_path / "flat"),
                                                    io_type="io_stream", backend="Vivado", part="xc7z020clg400-1")
    hm.compile()
    flat_err = float(np.max(np.abs(hm.predict(x).reshape(len(x), -1) - converted.predict(x, verbose=0))))
    print(f"\nternary/po2 model: derived precisions max error {ours:.3g}, flat fixed<16,6> {flat_err:.3g}")
    assert ours < flat_err


@pytest.mark.slow
def test_divergence_fails_the_export_with_a_layer_trace(tmp_path):
    inp = tf.keras.Input((6,))
    x = QDense(4, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, 1),
               name="hidden")(inp)
    x = L.Activation("sigmoid", name="squash")(x)                 # a lookup table in hls4ml: not exact
    model = tf.keras.Model(inp, x)
    x_test = np.random.default_rng(4).normal(0, 2, (8, 6)).astype(np.float32)
    out = tmp_path / "hls"
    with pytest.raises(VerificationFailed, match=r"first divergent layer: squash") as err:
        export_hls(model, load_target("arty-a7-100t"), out, x_test, tolerance_lsb=0.5)
    rows = {r["layer"]: r for r in err.value.trace}
    assert rows["hidden"]["error_lsb"] <= 1 < rows["squash"]["error_lsb"]
    assert not out.exists()


@pytest.mark.slow
def test_vitis_backend_for_an_ultrascale_board(tmp_path):
    inp = tf.keras.Input((16,))
    x = QDense(8, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, 1),
               name="fc1")(inp)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDense(4, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, 1),
               name="fc2")(x)
    model = tf.keras.Model(inp, x)
    x_test = np.random.default_rng(5).uniform(-1, 1, (16, 16)).astype(np.float32)
    target = load_target("zcu104")
    result = export_hls(model, target, tmp_path / "hls", x_test, tolerance_lsb=1)
    assert result["config"]["backend"] == "Vitis" and result["config"]["io_type"] == "io_parallel"
    assert 'set backend "vitis"' in (tmp_path / "hls" / "project.tcl").read_text()
    assert 'set part "xczu7ev-ffvc1156-2-e"' in (tmp_path / "hls" / "project.tcl").read_text()
    assert result["metrics"]["max_error_lsb"] <= 1


def test_hls4ml_chatter_is_captured_and_a_failure_still_shows_it(capsys):
    lines = []
    with quiet_hls4ml(lines):
        print('WARNING: Invalid ReuseFactor=3 in layer "fc1".Using ReuseFactor=2 instead. Valid ReuseFactor(s): 1,2')
        print("Writing HLS project")
    assert capsys.readouterr().out == ""
    assert hls4ml_notes(lines) == ["hls4ml adjusted the reuse factor of 1 layer to the nearest valid value "
                                   "(3 -> 2 in fc1; see config.reuse_factors_used)"]
    with pytest.raises(RuntimeError, match="Failed to compile"):       # hls4ml prints g++'s errors, then raises
        with quiet_hls4ml([]):
            print("firmware/myproject.cpp:12: error: 'x' was not declared")
            raise RuntimeError("Failed to compile project")
    assert "error: 'x' was not declared" in capsys.readouterr().err


@pytest.mark.slow
def test_invalid_reuse_factors_are_one_note_not_terminal_lines(tmp_path, capsys):
    inp = tf.keras.Input((16,))
    x = QDense(8, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), name="fc1")(inp)
    model = tf.keras.Model(inp, QDense(4, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), name="fc2")(x))
    x_test = np.random.default_rng(5).uniform(-1, 1, (4, 16)).astype(np.float32)
    result = export_hls(model, load_target("pynq-z2"), tmp_path / "hls", x_test, reuse_factor=3)
    printed = capsys.readouterr()
    assert "ReuseFactor" not in printed.out + printed.err
    assert "hls4ml adjusted the reuse factor of 2 layers to the nearest valid value (3 -> 2 in fc1, fc2; see " \
           "config.reuse_factors_used)" in result["notes"]
    assert result["config"]["reuse_factors_used"]["fc1"] == 2


def test_csim_class_agreement_is_judged_on_decisive_inputs():
    """A near-tie (the two best QKeras scores within 2 output LSBs) may go either way in the C simulation without the
    design being wrong: it does not count against the check; a decisive input that flips does."""
    from compressor.export.hls import compare_outputs, csim_check

    lsb = 2.0 ** -10
    y_ref = np.array([[0.50, 0.50 + lsb], [0.9, 0.1], [0.2, 0.8]])
    tie_flipped = np.array([[0.50 + lsb, 0.50], [0.9, 0.1], [0.2, 0.8]])
    m = compare_outputs(y_ref, tie_flipped, lsb, "classification")
    assert m["agreement"] == pytest.approx(2 / 3) and (m["agreement_decisive"], m["decisive_samples"]) == (1.0, 2)
    assert csim_check(m, "classification", 128, 0.98, 3)["passed"]
    decisive_flipped = np.array([[0.50, 0.50 + lsb], [0.1, 0.9], [0.2, 0.8]])
    m = compare_outputs(y_ref, decisive_flipped, lsb, "classification")
    assert m["agreement_decisive"] == 0.5 and not csim_check(m, "classification", 128, 0.98, 3)["passed"]
