"""Latency and energy per inference on a microcontroller: a per-operator cost model fitted to MLPerf Tiny.

Cycles of one int8 operator = a x MACs of a convolution (CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV) + b x elements
(a convolution's output, or the larger tensor of an elementwise / pooling operator) + c x MACs of a FULLY_CONNECTED;
reshapes are free. (a, b, c) are fitted per (core, kernel library) by tools/fit_mcu_cost.py to the MLPerf Tiny
closed-division latencies (data/mlperf_tiny_cortex_m.csv) and stored in data/mcu_cost.json with the board's power
(energy / latency of the same rows) and the fit's leave-one-model-out errors; this module only reads that file.
Latency = cycles / the target's clock; energy = latency x the calibration board's power.

A 16x8 graph (int16 activations, int8 weights) is priced with the same int8 cycles: MLPerf Tiny has no int16 row to
fit, so its figures say they are an extrapolation of unknown error. (Why it may be near, not a measurement: CMSIS-NN's
s8 kernels widen int8 operands to 16 bits for their dual 16-bit multiply-accumulates; its s16 kernels move twice the
activation bytes and accumulate in 64 bits.)
"""

import functools
import json
from pathlib import Path

from ..errors import BadInput
from ..figures import estimated
from ..targets import KERNEL_LIBRARIES

DATA = Path(__file__).resolve().parent / "data"
COST_FILE = DATA / "mcu_cost.json"
FEATURES = ("conv_mac", "element", "fc_mac")
FEATURE_DOC = {"conv_mac": "MACs of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV",
               "element": "output elements of those convolutions + the larger tensor of every other operator "
                          "except RESHAPE / SQUEEZE / EXPAND_DIMS",
               "fc_mac": "MACs of FULLY_CONNECTED"}


def op_vector(row) -> tuple:
    """(conv MACs, elements, FC MACs) of one operator row of mcu_features.operator_features."""
    cls = row["class"]
    if cls in ("conv", "depthwise"):
        return (row["macs"], row["out_elems"], 0)
    if cls == "fc":
        return (0, 0, row["macs"])
    if cls == "elementwise":
        return (0, row["elems"], 0)
    return (0, 0, 0)


def feature_vector(rows) -> list:
    """The graph's totals of the three features."""
    return [int(sum(op_vector(r)[i] for r in rows)) for i in range(len(FEATURES))]


@functools.lru_cache(maxsize=1)
def cost_table() -> dict:
    return json.loads(COST_FILE.read_text())


def calibration(target, kernels=None) -> dict:
    kernels = kernels or target.kernels
    if kernels not in KERNEL_LIBRARIES:
        raise BadInput(f"unknown kernel library '{kernels}' (known: {', '.join(KERNEL_LIBRARIES)})")
    core = target.core
    key = f"{core}/{kernels}"
    table = cost_table()["calibrations"]
    if key not in table:
        have = sorted(k.split("/")[1] for k in table if k.startswith(core + "/"))
        raise BadInput(f"no MLPerf Tiny measurement of {kernels} on a {core}: no calibration "
                       f"(for {target.name}: {', '.join(have) or 'none'})")
    return table[key]


def describe(cal, kernels) -> str:
    return (f"per-operator model fitted to MLPerf Tiny {cal['round']} {cal['board']} {cal['software_stack']} rows "
            f"({kernels}), leave-one-model-out error +-{cal['band'] * 100:.0f} %")


def op_cycles(row, cal) -> float:
    return float(sum(v * cal["cycles"][f] for v, f in zip(op_vector(row), FEATURES)))


EXTRAPOLATED_INT16 = ("int16 activations priced at the int8 cycles, an extrapolation: no 16x8 row to fit to, "
                      "its error is not known; the int8 fit:")


def estimate(op_rows, target, kernels=None, activations="int8") -> dict:
    """{latency_s, energy_j} figures and per-operator seconds (list aligned with op_rows) for an int8 graph (a 16x8
    one with activations="int16": the same cycles, said to be extrapolated)."""
    kernels = kernels or target.kernels
    cal = calibration(target, kernels)
    per_op = [op_cycles(r, cal) / target.clock_hz for r in op_rows]
    seconds = sum(per_op)
    by = describe(cal, kernels)
    if activations == "int16":
        by = f"{EXTRAPOLATED_INT16} {by}"
    clock = f"/ {target.clock_hz / 1e6:g} MHz ({target.name})"
    if cal["power_w"]:
        power, power_by = cal["power_w"], f"{cal['power_w'] * 1e3:.1f} mW (energy / latency of the same rows)"
    else:
        power, power_by = target.power_w, (f"{target.power_w * 1e3:g} mW ({target.name} YAML: the rows measured "
                                           "no energy)")
    band = cal["band"]   # largest |leave-one-model-out error| of the calibration's rows
    return {"latency_s": estimated(seconds, "s", f"{by} {clock}"),
            "energy_j": estimated(seconds * power, "J", f"{by} {clock} x {power_by}"), "band": band,
            "per_op_s": per_op, "calibration": cal, "kernels": kernels}


def latency_s(macs: int, target, kernels=None) -> dict:
    """MACs only (no graph at hand): every MAC priced as a convolution MAC plus its share of output elements,
    at the ratio of the keyword-spotting reference. Prefer `estimate` on the graph's operators."""
    cal = calibration(target, kernels)
    ref = cost_table()["reference_models"]["kws"]["features"]
    per_mac = sum(ref[f] * cal["cycles"][f] for f in FEATURES) / (ref["conv_mac"] + ref["fc_mac"])
    return estimated(macs * per_mac / target.clock_hz, "s",
                     f"MACs x {per_mac:.2f} cycles/MAC (the keyword-spotting mix of the "
                     f"{describe(cal, kernels or target.kernels)}) / {target.clock_hz / 1e6:g} MHz")


def energy_j(macs: int, target, kernels=None) -> dict:
    lat = latency_s(macs, target, kernels)
    cal = calibration(target, kernels)
    power = cal["power_w"] or target.power_w
    return estimated(lat["value"] * power, "J", f"{lat['by']} x {power * 1e3:.1f} mW")


def macs_per_second(target, kernels=None) -> float:
    """The MAC rate `latency_s` assumes (MACs only, keyword-spotting operator mix)."""
    return 1e6 / latency_s(1_000_000, target, kernels)["value"]
