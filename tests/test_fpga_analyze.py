"""analyze_fpga fills the run record: layers with energy, estimated resources, budget rows against the board."""

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_po2, quantized_relu

from compressor.analysis import budgets
from compressor.analysis.fpga import analyze_fpga
from compressor.record import RunRecord
from compressor.targets import load_target

L = tf.keras.layers


def judged(record, target):
    """The budgets judged once from the analysis' figures, as compress analyze and the engine do."""
    return budgets.apply(record, {"target": budgets.board_limits(target, record["figures"])})


def _model(width=10):
    inp = tf.keras.Input((8, 8, 1))
    x = QConv2D(4, 3, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), bias_quantizer=quantized_po2(4),
                name="conv")(inp)
    x = QActivation(quantized_relu(8, 3), name="relu")(x)
    x = L.Flatten(name="flat")(x)
    return tf.keras.Model(inp, QDense(width, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="dense")(x))


def test_record_gets_layers_figures_and_budget_rows():
    target = load_target("pynq-z2")
    record = judged(analyze_fpga(_model(), target, RunRecord(["test"]),
                                 x_sample=np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)),
                    target)
    layers = {row["name"]: row for row in record["layers"]}
    assert layers["conv"]["params"] == 3 * 3 * 4 + 4 and set(layers["conv"]["energy_pj"]) == {
        "inputs", "parameters", "operations", "outputs"}
    assert layers["dense"]["fpga"]["LUT"] > 0
    for name in ("energy_pj", "LUT", "FF", "DSP", "BRAM_18K"):
        assert record["figures"][name]["provenance"] == "estimated"
    assert not [k for k in record["figures"] if k.endswith("_estimate")]  # no real figure: LUT is the estimate, once
    rows = {row["name"]: row for row in record["budgets"]}
    assert set(rows) == {"LUT", "FF", "DSP", "BRAM_18K"}             # URAM: the Zynq-7020 has none
    lut = rows["LUT"]
    assert lut["limit"] == 53200 and lut["source"] == "target"
    assert abs(lut["margin"] - (lut["limit"] - lut["value"]) / lut["limit"]) < 1e-12
    assert record["verdict"] == "pass" and record["warnings"] == []


def test_a_design_too_big_for_the_board_fails_its_budget():
    inp = tf.keras.Input((1024,))
    model = tf.keras.Model(inp, QDense(1024, kernel_quantizer=quantized_bits(16, 0, 1, alpha=1), name="huge")(inp))
    target = load_target("arty-a7-100t")
    record = judged(analyze_fpga(model, target, RunRecord(["test"]), energy=False), target)
    assert record["verdict"] == "fail"
    assert any(row["verdict"] == "fail" and row["margin"] < 0 for row in record["budgets"])
    assert any("no input sample" in w for w in record["warnings"])


def test_real_synthesis_figures_go_beside_the_estimate_and_are_judged():
    from pathlib import Path

    project = Path(__file__).parent / "fixtures" / "hls" / "synthesized"
    target = load_target("pynq-z2")
    record = judged(analyze_fpga(_model(), target, RunRecord(["test"]), energy=False,
                                 x_sample=np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32),
                                 project_dir=project), target)
    figs = record["figures"]
    assert figs["LUT_estimate"]["provenance"] == "estimated" and figs["LUT_hls"]["value"] == 23456
    assert figs["LUT"] == figs["LUT_synth"] and figs["LUT"]["value"] == 19876       # post-synthesis wins
    assert figs["latency_s"] == figs["latency_s_hls"]
    rows = {row["name"]: row for row in record["budgets"]}
    assert rows["LUT"]["value"] == 19876 and rows["LUT"]["provenance"] == "measured"
