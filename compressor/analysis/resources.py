"""FPGA resource estimate of an hls4ml design, per layer and total, checked against the board.

Hand-written because hls4ml gives no estimate without running Vivado HLS; this is a first-order model, labelled
as such (BY), to choose a reuse factor and to warn before synthesis. The model:
  - multipliers: ceil(products / reuse_factor) instances (Latency strategy: non-zero weights only, as hls4ml
    removes zero weights from the unrolled products); a product with a <=2-bit or po2 weight is an adder in
    LUTs; one with both operands >= 10 bits takes a DSP48 (2 when an operand exceeds 25/18 bits); narrower
    products are fabric multipliers of wa*wb/8 LUTs (constant weights fold: the scale of published hls4ml
    low-bit results, 5-15 LUTs a product);
  - every product feeds the adder tree and a pipeline register: (wa+wb)/2 LUTs and (wa+wb)/2 FFs each;
  - weights: Latency strategy folds them into the logic; Resource strategy stores them in BRAM_18K as
    (reuse_factor deep) x (products/reuse_factor * weight bits wide), 512 x 36 bits per block;
  - io_stream FIFOs between layers: BRAM_18K when deeper than 128 and over 4 kbit, else shift registers
    (32 bits per LUT);
  - timing: a dense/conv step takes reuse_factor cycles per output (per pixel in io_stream); II is the slowest
    layer, latency the sum, seconds at the target's clock;
  - recurrent layers (LSTM, GRU, SimpleRNN): hls4ml's static kernel runs the sequence inside the layer, one step
    after another: each step multiplies the input and the state by the kernel and the recurrent kernel, so the
    products per step are both kernels' weights and the layer's cycles are sequence length x one step.
"""

import math
import re

import numpy as np

from ..figures import estimated
from ..targets import FPGA_RESOURCES

BY = ("compressor FPGA estimate v1.2 (operand-width multiplier model, zero weights removed, BRAM 512x36, reuse factor "
      "-> II, recurrent layers sequence length x step)")
TABLE_ACTIVATIONS = ("sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "hard_sigmoid")
_PREC = re.compile(r"(u?)(fixed|int)<\s*(\d+)\s*(?:,\s*(-?\d+))?")


def precision_bits(text, default=16):
    """(width, integer, signed) of an hls4ml precision string like 'fixed<8,1,TRN,WRAP,0>' or 'int<2>'."""
    m = _PREC.search(str(text or ""))
    if not m:
        return None
    width = int(m.group(3))
    integer = int(m.group(4)) if m.group(4) is not None else width
    return width, integer, m.group(1) != "u"


def _width(text, fallback):
    p = precision_bits(text)
    return p[0] if p else fallback


def _layer_cfg(hls_config, name):
    return (hls_config or {}).get("LayerName", {}).get(name, {})


def _recurrent_kernels(layer):
    """The kernel and recurrent kernel of an LSTM / GRU / SimpleRNN layer (they live on its cell), else None."""
    cell = getattr(layer, "cell", None)
    if cell is None or getattr(cell, "recurrent_kernel", None) is None:
        return None
    return np.asarray(cell.kernel.numpy()), np.asarray(cell.recurrent_kernel.numpy())


def _products(layer):
    """(products per output step, output steps per inference, n_weights) for layers that multiply."""
    recurrent = _recurrent_kernels(layer)
    if recurrent is not None:                                   # one step per time step of the sequence
        n_weights = sum(k.size for k in recurrent)
        return n_weights, int(layer.input_shape[1] or 1), n_weights
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    n_weights = int(np.prod(kernel.shape))
    out_shape = layer.output_shape if isinstance(layer.output_shape, tuple) else layer.output_shape[0]
    if len(kernel.shape) == 2:                                  # Dense: one step
        return n_weights, 1, n_weights
    steps = int(np.prod(out_shape[1:-1]))                       # conv: one step per output pixel
    return n_weights, steps, n_weights


def _multiplier_cost(w_bits, a_bits, weight_is_trivial):
    """(LUT, DSP) of one multiplier instance."""
    if weight_is_trivial:
        return 0.0, 0
    if min(w_bits, a_bits) >= 10:
        return 0.0, 1 if max(w_bits, a_bits) <= 25 and min(w_bits, a_bits) <= 18 else 2
    return w_bits * a_bits / 8.0, 0


def _bram18(width_bits, depth):
    return math.ceil(width_bits / 36) * math.ceil(depth / 512)


def _fifo_bram18(width_bits, depth):
    return _bram18(width_bits, depth) if depth > 128 and width_bits * depth > 4096 else 0


def estimate_resources(qmodel, hls_config, target) -> dict:
    """Per-layer and total LUT/FF/DSP/BRAM_18K/URAM, II and latency for the design `hls_config` describes."""
    model_cfg = (hls_config or {}).get("Model", {})
    strategy = str(model_cfg.get("Strategy", "Latency")).lower()
    default_w = _width(model_cfg.get("Precision", {}).get("default") if isinstance(model_cfg.get("Precision"), dict)
                       else model_cfg.get("Precision"), 16)
    stream = any(len(layer.output_shape) > 2 for layer in qmodel.layers[1:]
                 if isinstance(getattr(layer, "output_shape", None), tuple))
    clock_hz = target.clock_mhz * 1e6
    rows, a_bits = [], None
    for layer in qmodel.layers:
        cfg = _layer_cfg(hls_config, layer.name)
        prec = cfg.get("Precision", {}) if isinstance(cfg.get("Precision"), dict) else {}
        if type(layer).__name__ == "InputLayer":
            a_bits = _width(prec.get("result"), default_w)
            continue
        rf = int(cfg.get("ReuseFactor", model_cfg.get("ReuseFactor", 1)))
        row = {"name": layer.name, "type": type(layer).__name__, "reuse_factor": rf,
               "LUT": 0.0, "FF": 0.0, "DSP": 0, "BRAM_18K": 0, "URAM": 0, "ii_cycles": 1, "latency_cycles": 1}
        prod = _products(layer)
        if prod:
            per_step, steps, n_weights = prod
            w = precision_bits(prec.get("weight"))
            w_bits = w[0] if w else default_w
            trivial = w_bits <= 2 or "exponent" in str(prec.get("weight", ""))
            layer_strategy = str(cfg.get("Strategy", strategy)).lower()
            if layer_strategy == "latency":     # hls4ml drops zero weights from the unrolled products (n_zeros)
                kernels = _recurrent_kernels(layer) or [np.asarray(layer.get_weights()[0])]
                per_step = max(1, sum(int(np.count_nonzero(k)) for k in kernels))
            instances = math.ceil(per_step / rf)
            lut, dsp = _multiplier_cost(w_bits, a_bits or default_w, trivial)
            a = a_bits or default_w
            row["LUT"] = instances * (lut + (w_bits + a) / 2.0)
            row["FF"] = instances * (w_bits + a) / 2.0
            row["DSP"] = instances * dsp
            if strategy == "resource":
                row["BRAM_18K"] = _bram18(instances * w_bits, rf)
            row["ii_cycles"] = steps * rf
            row["latency_cycles"] = steps * rf + math.ceil(math.log2(max(per_step, 2))) + 2
            row.update(products=per_step * steps, weight_bits=n_weights * w_bits, operand_bits=[w_bits, a_bits])
            a_bits = _width(prec.get("result"), default_w)     # hls4ml: no result precision -> the model default
            act_bits = getattr(getattr(layer, "activation", None), "bits", None)
            if act_bits:                        # a QKeras activation quantizer inside the layer sets its output
                a_bits = int(act_bits)
        else:
            act = getattr(layer, "activation", None)
            activation = str(getattr(act, "__name__", act) or "").lower()
            if type(layer).__name__ == "Softmax" or activation in TABLE_ACTIVATIONS:
                row["BRAM_18K"] = 1                                         # one 1024-entry lookup table
            a_bits = _width(prec.get("result"), a_bits or default_w)
            out = layer.output_shape if isinstance(layer.output_shape, tuple) else None
            if stream and out is not None and len(out) > 2:
                row["ii_cycles"] = row["latency_cycles"] = int(np.prod(out[1:-1]))
        out = layer.output_shape if isinstance(layer.output_shape, tuple) else None
        if stream and out is not None and len(out) > 2:                  # the FIFO that carries this output
            depth, width = int(np.prod(out[1:-1])), int(out[-1]) * (a_bits or default_w)
            fifo_bram = _fifo_bram18(width, depth)
            row["BRAM_18K"] += fifo_bram
            row["LUT"] += 0 if fifo_bram else math.ceil(width * depth / 32)
        row["LUT"], row["FF"] = int(math.ceil(row["LUT"])), int(math.ceil(row["FF"]))
        row["latency_s"] = row["latency_cycles"] / clock_hz
        rows.append(row)
    total = {r: int(sum(row[r] for row in rows)) for r in FPGA_RESOURCES}
    ii = max((row["ii_cycles"] for row in rows), default=1)
    latency = sum(row["latency_cycles"] for row in rows)
    total.update(ii_cycles=ii, latency_cycles=latency, latency_s=latency / clock_hz,
                 inferences_per_s=clock_hz / ii)
    fits = all(total[r] <= target.resources.get(r, 0) for r in FPGA_RESOURCES)
    figures = {r: estimated(total[r], "count", BY) for r in FPGA_RESOURCES}
    figures["latency_s"] = estimated(total["latency_s"], "s", BY)
    figures["ii_cycles"] = estimated(ii, "cycles", BY)
    return {"layers": rows, "total": total, "fits": bool(fits), "figures": figures, "by": BY,
            "strategy": model_cfg.get("Strategy", "Latency"), "target": target.name}
