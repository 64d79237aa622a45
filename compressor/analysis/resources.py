"""FPGA resource estimate of an hls4ml design, per layer and total, checked against the board.

What it models: **HLS C synthesis** (Vivado / Vitis HLS csynth report: LUT, FF, DSP, BRAM_18K, worst-case latency
in cycles) of the design hls4ml would write for `hls_config`, not post-route Vivado (often 2-3x fewer LUTs).

fpga_layers.py reads hls4ml's view of each layer (products after zero removal, operand widths, the reuse factor
hls4ml uses, io_stream FIFOs and their depths, lookup tables); this module prices those counts with a few
constants fitted on real hls4ml syntheses (data/fpga_cost.json says which designs, how, and the leave-one-design-out
error; tools/check_fpga_estimate.py refits and validates them). Per resource, a sum of per-layer terms:
  - DSP: general multipliers (Resource strategy or reuse factor > 1: hls4ml's own count, weights / RF, one or two
    DSP48s by operand width) + a fitted fraction of the constant multipliers of Latency / RF 1 layers (HLS turns
    many constant products into LUT shift-adds, and which ones depends on the trained values) + per softmax;
  - LUT: product bits of the multiplier instances (w x a), + per hls4ml layer control logic (io_stream layers carry
    a line buffer and a stream FSM), + output bits of io_parallel layers (muxes), + the weight multiplexers of
    Latency layers with a reuse factor > 1;
  - FF: operand + accumulator bits of the instances (Resource strategy's registered pipelines cost far more per
    bit than Latency's folded adder trees), + per layer, + io_parallel output registers, + io_stream weight
    registers of Latency layers with a reuse factor > 1;
  - BRAM_18K: Resource-strategy weights (hls4ml's VivadoMultiObjectiveEstimator), io_stream FIFOs at their depth
    (hls4ml's default is the whole tensor; compressor sizes linear chains to a row), activation table copies;
  - cycles: io_stream layers run as a dataflow pipeline, so latency = the slowest layer (output pixels x
    reuse-factor cycles, Resource strategy adding a fixed overhead per pixel) + a fill per layer; io_parallel
    layers run one after another: a few cycles each plus reuse-factor and conv-position cycles. II is the slowest
    layer.
  - recurrent layers (LSTM, GRU, SimpleRNN): hls4ml's static kernel runs the sequence inside the layer, one step
    after another: II sequence length x the step's reuse factor, latency adds each step's stage fill.
"""

import json
from functools import lru_cache
from pathlib import Path

from ..figures import estimated
from ..targets import FPGA_RESOURCES
from .fpga_layers import fifo_bram18, layer_terms, precision_bits   # noqa: F401 - precision_bits: public here

COST_FILE = Path(__file__).with_name("data") / "fpga_cost.json"
PRICED = ("LUT", "FF", "DSP", "BRAM_18K", "latency_cycles")


@lru_cache(maxsize=1)
def cost_model():
    """The fitted constants, what they were fitted on and their leave-one-design-out error (data/fpga_cost.json)."""
    return json.loads(COST_FILE.read_text())


def by_line(cost=None):
    """The label every figure carries: model version, calibration data, leave-one-design-out median error."""
    cost = cost or cost_model()
    loo = cost.get("leave_one_out_median_abs_error", {})
    errs = ", ".join(f"{r} {100 * loo[r]:.0f} %" for r in PRICED if r in loo)
    return (f"compressor FPGA estimate {cost['version']} of HLS C synthesis (hls4ml's per-layer view, constants "
            f"fitted on {len(cost['fitted_on'])} real hls4ml syntheses; leave-one-design-out median |error| {errs})")


def features(t, stream, min_fifo_depth):
    """{resource: {term: count}} of one layer's terms; each count is priced by one constant of the cost file."""
    io = "stream" if stream else "parallel"
    fifo_bram = sum(fifo_bram18(w, d, min_fifo_depth) for w, d in t["fifos"])
    return {
        "DSP": {"dsp_shared": t.get("dsp_shared", 0), "dsp_const": t.get("dsp_const", 0), "softmax": t["softmax"]},
        "LUT": {"mult_bits": t.get("mult_bits", 0), f"layers_{io}": t["hls_layers"],
                "out_bits_parallel": 0 if stream else t["out_bits"],
                "shared_weight_bits": t.get("shared_weight_bits", 0)},
        "FF": {"acc_bits_latency": t.get("acc_bits_latency", 0), "acc_bits_resource": t.get("acc_bits_resource", 0),
               f"layers_{io}": t["hls_layers"],
               "out_bits_parallel": 0 if stream else t["out_bits"],
               "shared_weight_bits_stream": t.get("shared_weight_bits", 0) if stream else 0},
        "BRAM_18K": {"weight_bram": t.get("weight_bram", 0), "fifo_bram": fifo_bram, "tables": t["tables"]},
    }


def _price(terms, constants):
    return sum(constants.get(k, 0.0) * v for k, v in terms.items())


def layer_ii(t, stream, lat):
    """Cycles between inputs of one layer: output pixels (a conv's positions, a recurrent layer's time steps) x
    reuse-factor cycles, + Resource strategy's overhead per pixel in io_stream; 1 for io_parallel activations."""
    return max(1, t["ii_base"] + (lat.get("resource_pixels", 0.0) * t["resource_pixels"] if stream else 0))


def latency_features(rows, stream, lat):
    """Design-level latency terms: io_stream, the slowest layer's cycles and a fill per hls4ml layer; io_parallel,
    a fill per hls4ml layer and each layer's extra reuse-factor / conv-position cycles."""
    layers = sum(r["terms"]["hls_layers"] for r in rows)
    if stream:
        slow = max(rows, key=lambda r: layer_ii(r["terms"], True, lat), default=None)
        base = slow["terms"]["ii_base"] if slow else 0
        return {"ii_stream": base, "resource_pixels": slow["terms"]["resource_pixels"] if slow else 0,
                "fill_stream": layers}
    flat = [r["terms"] for r in rows if not r["terms"]["recurrent"]]
    return {"fill_parallel": layers, "rf_parallel": sum(t["parallel_rf"] for t in flat),
            "positions_parallel": sum(t["parallel_positions"] for t in flat)}


RECURRENT_STEP_STAGES = 4    # hls4ml's recurrent step: input product, state product, gate tables, state update


def recurrent_cycles(rows, stream, lat):
    """io_parallel recurrent layers' own cycles: sequence length x one step, a step being its reuse-factor cycles
    plus the fill of its stages (the next step needs this one's state). Not fitted - no calibration design is
    recurrent - but priced with the io_parallel fill; in io_stream they are dataflow layers like any other."""
    if stream:
        return 0
    return sum(r["terms"]["ii_base"] + r["terms"]["steps"] * RECURRENT_STEP_STAGES * lat.get("fill_parallel", 0.0)
               for r in rows if r["terms"]["recurrent"])


def is_stream(qmodel, hls_config):
    """io_stream when the configuration says so (IOType), else as compressor exports: convolutions stream."""
    io = (hls_config or {}).get("IOType")
    if io:
        return io == "io_stream"
    return any(len(getattr(layer, "kernel", None).shape) > 2 for layer in qmodel.layers
               if getattr(layer, "kernel", None) is not None)


def design_features(qmodel, hls_config, cost=None) -> dict:
    """{resource: {term: design total}}: what the calibration fits the constants on (tools/check_fpga_estimate.py)."""
    cost = cost or cost_model()
    stream = is_stream(qmodel, hls_config)
    rows = layer_terms(qmodel, hls_config, stream, (hls_config or {}).get("FifoDepths"))
    out = {}
    for r in rows:
        for res, terms in features(r["terms"], stream, cost["fifo_min_depth"]).items():
            for k, v in terms.items():
                out.setdefault(res, {}).setdefault(k, 0.0)
                out[res][k] += v
    out["latency_cycles"] = latency_features(rows, stream, cost["constants"]["latency_cycles"])
    return out


def estimate_resources(qmodel, hls_config, target) -> dict:
    """Per-layer and total LUT/FF/DSP/BRAM_18K/URAM, II and latency for the design `hls_config` describes.
    hls_config may carry "IOType" and "FifoDepths" ("sized": compressor's export rule; {layer: depth}; absent:
    hls4ml's whole-tensor default)."""
    return estimate_with(qmodel, hls_config, target, cost_model())


def _layer_row(r, stream, cost, clock_hz) -> dict:
    """The public per-layer row: resources, II and this layer's own latency share (io_stream: its fill; the
    design's latency is the slowest layer plus the fills, see latency_features)."""
    const, lat, t = cost["constants"], cost["constants"]["latency_cycles"], r["terms"]
    f = features(t, stream, cost["fifo_min_depth"])
    row = {"name": r["name"], "type": r["type"], "reuse_factor": t.get("reuse_factor", 1), "URAM": 0}
    for res in ("LUT", "FF", "DSP", "BRAM_18K"):
        row[res] = int(round(_price(f[res], const[res])))
    row["ii_cycles"] = int(round(layer_ii(t, stream, lat)))
    fill = lat.get("fill_stream" if stream else "fill_parallel", 0.0) * t["hls_layers"]
    if stream:
        own = 0.0
    elif t["recurrent"]:
        own = recurrent_cycles([r], False, lat)
    else:
        own = (lat.get("rf_parallel", 0.0) * t["parallel_rf"]
               + lat.get("positions_parallel", 0.0) * t["parallel_positions"])
    row["latency_cycles"] = int(round(fill + own))
    row["latency_s"] = row["latency_cycles"] / clock_hz
    if "products" in t:
        row.update(products=t["products"], weight_bits=t["n_weights"] * t["operand_bits"][0],
                   operand_bits=t["operand_bits"])
    return row


def estimate_with(qmodel, hls_config, target, cost) -> dict:
    """estimate_resources with the constants of `cost` (the calibration tool prices left-out designs with it)."""
    by, lat = by_line(cost), cost["constants"]["latency_cycles"]
    stream = is_stream(qmodel, hls_config)
    rows_in = layer_terms(qmodel, hls_config, stream, (hls_config or {}).get("FifoDepths"))
    clock_hz = target.clock_mhz * 1e6
    rows = [_layer_row(r, stream, cost, clock_hz) for r in rows_in]
    total = {res: int(sum(row[res] for row in rows)) for res in FPGA_RESOURCES}
    ii = max((row["ii_cycles"] for row in rows), default=1)
    latency = int(round(max(1.0, _price(latency_features(rows_in, stream, lat), lat))
                        + recurrent_cycles(rows_in, stream, lat)))
    total.update(ii_cycles=ii, latency_cycles=latency, latency_s=latency / clock_hz, inferences_per_s=clock_hz / ii)
    fits = all(total[r] <= target.resources.get(r, 0) for r in FPGA_RESOURCES)
    figures = {r: estimated(total[r], "count", by) for r in FPGA_RESOURCES}
    figures["latency_s"] = estimated(total["latency_s"], "s", by)
    figures["ii_cycles"] = estimated(ii, "cycles", by)
    model_cfg = (hls_config or {}).get("Model", {})
    return {"layers": rows, "total": total, "fits": bool(fits), "figures": figures, "by": by,
            "strategy": model_cfg.get("Strategy", "Latency"), "target": target.name}
