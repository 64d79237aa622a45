"""The FPGA resource estimate: counts from hls4ml's view of the model, reuse factor trades resources for II, FIFOs
priced at their depth, fit against the board."""

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu, ternary

from compressor.analysis.fpga_layers import valid_reuse_factor
from compressor.analysis.resources import cost_model, estimate_resources, precision_bits
from compressor.analysis.hls_design import choose_schedule, hls_config
from compressor.targets import load_target

L = tf.keras.layers
X = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)


def _cnn(kernel_quantizer):
    inp = tf.keras.Input((8, 8, 1))
    x = QConv2D(8, 3, kernel_quantizer=kernel_quantizer, bias_quantizer=quantized_bits(8, 3, 1), name="conv")(inp)
    x = QActivation(quantized_relu(6, 2), name="relu")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(10, kernel_quantizer=quantized_bits(12, 2, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, 1),
               name="dense")(x)
    return tf.keras.Model(inp, x)


def test_precision_strings_parse():
    assert precision_bits("fixed<8,1,TRN,WRAP,0>") == (8, 1, True)
    assert precision_bits("ap_ufixed<8,3>") == (8, 3, False)
    assert precision_bits("int<2>") == (2, 2, True)
    assert precision_bits("auto") is None


def test_layer_counts_operand_widths_and_labels():
    model = _cnn(quantized_bits(8, 0, 1, alpha=1))
    target = load_target("pynq-z2")
    est = estimate_resources(model, hls_config(model, target, X), target)
    rows = {r["name"]: r for r in est["layers"]}
    assert rows["conv"]["products"] == 3 * 3 * 1 * 8 * 6 * 6        # kernel x output pixels
    assert rows["dense"]["products"] == 3 * 3 * 8 * 10
    assert rows["conv"]["operand_bits"][0] == 8 and rows["dense"]["operand_bits"] == [12, 6]
    assert rows["conv"]["DSP"] == 0                                  # 8-bit constants: LUT logic (hls4ml's rule)
    # 12-bit constants: a DSP each by hls4ml's rule, of which HLS keeps the calibrated fraction
    assert rows["dense"]["DSP"] == round(3 * 3 * 8 * 10 * cost_model()["constants"]["DSP"]["dsp_const"])
    assert est["total"]["LUT"] == sum(r["LUT"] for r in est["layers"])
    by = est["figures"]["LUT"]["by"]
    assert est["figures"]["LUT"]["provenance"] == "estimated"
    assert "HLS C synthesis" in by and "leave-one-design-out" in by
    # 720 unrolled 12-bit products need more DSPs than the Zynq-7020's 220: the design does not fit
    assert est["total"]["DSP"] > 220 and est["fits"] is False


def test_ternary_kernels_need_no_multipliers():
    target = load_target("pynq-z2")
    m8, m3 = _cnn(quantized_bits(8, 0, 1, alpha=1)), _cnn(ternary(alpha=1))
    conv8 = estimate_resources(m8, hls_config(m8, target, X), target)["layers"][0]
    conv3 = estimate_resources(m3, hls_config(m3, target, X), target)["layers"][0]
    assert conv3["LUT"] < conv8["LUT"] and conv3["DSP"] == 0


def test_reuse_factor_trades_resources_for_interval():
    model = _cnn(quantized_bits(8, 0, 1, alpha=1))
    target = load_target("pynq-z2")
    fast = estimate_resources(model, hls_config(model, target, X, reuse_factor=1), target)["total"]
    slow = estimate_resources(model, hls_config(model, target, X, strategy="Resource", reuse_factor=8), target)["total"]
    assert slow["LUT"] < fast["LUT"] and slow["DSP"] <= fast["DSP"]
    # Resource strategy: hls4ml moves the conv's reuse factor 8 to the valid 9 (3x3x1 inputs, 8 filters), then 9
    # cycles a conv output pixel plus the fitted Resource overhead a pixel
    overhead = cost_model()["constants"]["latency_cycles"]["resource_pixels"]
    assert valid_reuse_factor(9, 8, 8) == 9
    assert slow["ii_cycles"] == round(6 * 6 * (9 + overhead)) and fast["ii_cycles"] == 6 * 6
    assert slow["BRAM_18K"] >= fast["BRAM_18K"]                     # Resource strategy keeps weights in BRAM


def test_fifos_are_priced_at_their_depth():
    """io_stream FIFOs at hls4ml's default depth (the whole tensor), at compressor's sized depth (a row), or at the
    depths a caller gives: deep wide FIFOs take BRAM, shallow ones registers."""
    inp = tf.keras.Input((64, 64, 1))
    x = QConv2D(32, 3, padding="same", kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="conv")(inp)
    x = QActivation(quantized_relu(8, 2), name="relu")(x)
    model = tf.keras.Model(inp, QConv2D(1, 1, kernel_quantizer=ternary(alpha=1), name="out")(x))
    target = load_target("pynq-z2")
    cfg = hls_config(model, target, np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 1)).astype(np.float32))
    assert cfg["FifoDepths"] == "sized"                              # what export_hls does by default
    sized = estimate_resources(model, cfg, target)["total"]["BRAM_18K"]
    full = estimate_resources(model, dict(cfg, FifoDepths=None), target)["total"]["BRAM_18K"]
    tiny = estimate_resources(model, dict(cfg, FifoDepths={"relu": 2, "conv": 2, "conv_pad": 2}), target)
    assert full > 4 * sized > 0 and tiny["total"]["BRAM_18K"] == 0


def test_schedule_is_chosen_to_fit_the_board():
    inp = tf.keras.Input((64,))
    x = QDense(512, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="wide")(inp)
    x = QActivation(quantized_relu(8, 3), name="relu")(x)
    model = tf.keras.Model(inp, QDense(8, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="out")(x))
    x_s = np.random.default_rng(0).uniform(0, 1, (2, 64)).astype(np.float32)
    small, big = load_target("arty-a7-100t"), load_target("alveo-u250")

    def cfg_for(target):
        return lambda s, rf: hls_config(model, target, x_s, strategy=s, reuse_factor=rf)

    _, s_big, rf_big, est_big, _ = choose_schedule(model, cfg_for(big), big)
    _, s_small, rf_small, est_small, reason = choose_schedule(model, cfg_for(small), small)
    assert (s_big, rf_big) == ("Latency", 1) and est_big["fits"]        # 32k products fit a U250 unrolled
    assert s_small == "Resource" and rf_small > 1 and est_small["fits"]  # but not an Artix-7
    assert estimate_resources(model, cfg_for(small)("Latency", 1), small)["fits"] is False
    _, s, rf, _, why = choose_schedule(model, cfg_for(small), small, reuse_factor=4)
    assert (s, rf, why) == ("Resource", 4, "set by the recipe")
