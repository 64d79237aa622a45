"""hls4ml's view of a Keras model, per layer: what the FPGA estimate (resources.py) prices.

Each Keras layer becomes the hls4ml layers the converter would make of it (a Dense / Conv with a non-linear
activation is two: the product layer and its activation; a 'same' Conv in io_stream gets a ZeroPadding layer in
front; Flatten and Dropout are none) and the quantities hls4ml's converted graph carries: precisions (from the
configuration, as hls4ml reads them), the reuse factor hls4ml really uses (Resource strategy moves it to the nearest
valid one, hls4ml's own FPGABackend rule), strategy, the zero weights it removes (`n_zeros`, Latency strategy), the
io_stream FIFOs with their depths, and the activation tables. These are read from the Keras model and the
configuration instead of running hls4ml's converter: the converter takes seconds a model and choose_schedule
prices a dozen schedules per export, while everything priced here is fixed by the configuration before conversion.

The result is a list of `terms` per Keras layer: counts with no cost attached (products, operand bits, output
elements, FIFO bits, ...). resources.py turns them into LUT / FF / DSP / BRAM_18K / cycles with fitted constants.
"""

import math
import re

import numpy as np

TABLE_ACTIVATIONS = ("sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "hard_sigmoid")
NO_HLS_LAYER = ("InputLayer", "Flatten", "Dropout", "Reshape")   # input port, in-place or removed by hls4ml
_PREC = re.compile(r"(u?)(fixed|int)<\s*(\d+)\s*(?:,\s*(-?\d+))?")
DSP_A, DSP_B = 25, 18        # DSP48E1 multiplier port widths (25 x 18; E2 is 27 x 18): a wider product takes two
CONSTANT_LUT_BELOW = 9       # hls4ml VivadoDSPEstimator: a weight narrower than 9 bits needs no DSP (LUT product)
GENERAL_LUT_BELOW = 10       # HLS builds a shared multiplier whose operands are both under 10 bits in LUTs: read off
                             # tut_p7 (its 9 DSPs fit its 6 x 16-bit first layer and softmax, not its 6 x 6-bit
                             # layers) and eeg_conv1d_encoder_m2 (8 x 24-bit products: 813 DSPs)


def precision_bits(text):
    """(width, integer, signed) of an hls4ml precision string like 'fixed<8,1,TRN,WRAP,0>' or 'int<2>'."""
    m = _PREC.search(str(text or ""))
    if not m:
        return None
    width = int(m.group(3))
    integer = int(m.group(4)) if m.group(4) is not None else width
    return width, integer, m.group(1) != "u"


def width_of(text, fallback):
    p = precision_bits(text)
    return p[0] if p else fallback


def _recurrent_kernels(layer):
    """The kernel and recurrent kernel of an LSTM / GRU / SimpleRNN layer (they live on its cell), else None."""
    cell = getattr(layer, "cell", None)
    if cell is None or getattr(cell, "recurrent_kernel", None) is None:
        return None
    return np.asarray(cell.kernel.numpy()), np.asarray(cell.recurrent_kernel.numpy())


def _out_shape(layer):
    out = layer.output_shape
    return out if isinstance(out, tuple) else out[0]


def _activation_name(layer):
    """'relu', 'softmax', 'linear', a QKeras quantizer's class name ('quantized_relu'), or '' without one."""
    act = getattr(layer, "activation", None)
    if act is None:
        return ""
    return str(getattr(act, "__name__", None) or type(act).__name__).lower()


def _matrix(layer):
    """(n_in, n_out, kernels, steps) of a layer that multiplies: hls4ml's dense view (a conv is a dense of
    kernel x channels inputs applied once per output pixel; a recurrent layer is both kernels once per time step)."""
    recurrent = _recurrent_kernels(layer)
    if recurrent is not None:
        n_in = recurrent[0].shape[0] + recurrent[1].shape[0]
        return n_in, recurrent[0].shape[1], list(recurrent), int(layer.input_shape[1] or 1)
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    k = np.asarray(layer.get_weights()[0])
    steps = int(np.prod(_out_shape(layer)[1:-1])) if k.ndim > 2 else 1
    return int(np.prod(k.shape[:-1])), int(k.shape[-1]), [k], steps


def valid_reuse_factor(n_in, n_out, rf):
    """The reuse factor hls4ml's Vivado backend uses for Resource strategy: the nearest valid one, by its own
    rule (FPGABackend._validate_reuse_factor). Its get_valid_reuse_factors tries every RF up to n_in x n_out; a valid
    one divides n_in x n_out, so only the divisors are tried here (the same list, fast for a 400k-weight layer)."""
    from hls4ml.backends.fpga.fpga_backend import FPGABackend
    backend = object.__new__(FPGABackend)        # the two methods read no backend state; no writer set-up needed
    n = n_in * n_out
    divisors = sorted({d for i in range(1, math.isqrt(n) + 1) if n % i == 0 for d in (i, n // i)})
    valid = [d for d in divisors if backend._validate_reuse_factor(n_in, n_out, d)]
    return backend.get_closest_reuse_factor(valid, rf)


def dsp_per_product(w_bits, a_bits):
    """DSP48s of one general multiplier (operands that fit the 25 x 18 ports: one, else two)."""
    hi, lo = max(w_bits, a_bits), min(w_bits, a_bits)
    return 1 if hi <= DSP_A and lo <= DSP_B else 2


def product_terms(layer, cfg, strategy, a_bits, default_w):
    """Terms of a layer that multiplies. Latency strategy with reuse factor 1 multiplies by constants (HLS folds
    them: narrow weights become LUT logic, some wide ones too - `dsp_const` is a fitted fraction); a reuse factor
    above 1 or Resource strategy shares a general multiplier among weights (`dsp_shared`, one per instance)."""
    n_in, n_out, kernels, steps = _matrix(layer)
    prec = cfg.get("Precision", {}) if isinstance(cfg.get("Precision"), dict) else {}
    quantizer = getattr(layer, "kernel_quantizer_internal", None)
    w_text = str(prec.get("weight", "") or type(quantizer).__name__)
    # hls4ml takes a QKeras kernel's width from its quantizer when the configuration names none
    w_bits = width_of(prec.get("weight"), int(getattr(quantizer, "bits", 0) or default_w))
    n_weights = sum(k.size for k in kernels)
    nonzero = max(1, sum(int(np.count_nonzero(k)) for k in kernels))
    rf = int(cfg.get("ReuseFactor", 1))
    if strategy == "resource":
        rf = valid_reuse_factor(n_in, n_out, rf)
        instances = math.ceil(n_weights / rf)            # Resource keeps every weight in memory, zeros included
    else:
        instances = math.ceil(nonzero / rf)              # hls4ml's multiplier_limit drops n_zeros
    trivial = w_bits <= 2 or "exponent" in w_text or "po2" in w_text   # ternary/binary/po2 weights: add or shift
    constant = strategy == "latency" and rf == 1
    narrow = w_bits < CONSTANT_LUT_BELOW if constant else max(w_bits, a_bits) < GENERAL_LUT_BELOW
    dsp = 0 if trivial or narrow else instances * dsp_per_product(w_bits, a_bits)
    return {"products": nonzero * steps, "n_weights": n_weights, "instances": instances, "reuse_factor": rf,
            "steps": steps, "operand_bits": [w_bits, a_bits],
            "dsp_const": dsp if constant else 0, "dsp_shared": 0 if constant else dsp,
            "mult_bits": 0 if trivial else instances * w_bits * a_bits,
            # operand + accumulator bits of the multiplier instances: Resource strategy's general multipliers read
            # weights from BRAM through registered pipelines, Latency strategy's fold constants into an adder tree
            "acc_bits_resource": instances * (w_bits + a_bits) if strategy == "resource" else 0,
            "acc_bits_latency": 0 if strategy == "resource" else instances * (w_bits + a_bits),
            # Latency strategy with a reuse factor > 1: a shared multiplier picks its weight each cycle from a
            # multiplexed register file of the weights (Resource strategy reads them from BRAM: weight_bram)
            "shared_weight_bits": nonzero * w_bits if strategy == "latency" and rf > 1 else 0,
            "weight_bram": _weight_bram(n_weights, w_bits, rf) if strategy == "resource" else 0,
            "rf_cycles": min(rf, nonzero)}


def _weight_bram(n_weights, w_bits, rf):
    """BRAM_18K of Resource-strategy weights: hls4ml's VivadoMultiObjectiveEstimator (ceil(weights x bits /
    (RF x 36)), none at RF 1). It is the only per-layer figure hls4ml's estimators give that this model uses
    unchanged; its DSP figure (weights / RF for >= 9-bit weights) is dsp_shared above with zeros removed and a
    second DSP for operands wider than the ports. hls4ml prices nothing else (LUT, FF, FIFOs, tables, latency),
    so the remaining terms are this model's, fitted on real synthesis (resources.py)."""
    from hls4ml.optimization.dsp_aware_pruning.objectives.vivado_objectives import VivadoMultiObjectiveEstimator
    from types import SimpleNamespace as NS
    attrs = NS(weight_shape=(n_weights,), args={"hls4ml_attributes": NS(
        strategy="Resource", reuse_factor=rf, weight_precision=NS(width=w_bits))})
    return int(VivadoMultiObjectiveEstimator.layer_resources(attrs)[1])


def fifo_bram18(width_bits, depth, min_depth):
    """BRAM_18K of one FIFO: 512 x 36 or 1K x 18 blocks, whichever fewer; shallower than min_depth: registers."""
    if depth < min_depth:
        return 0
    wide = math.ceil(width_bits / 36) * math.ceil(depth / 512)
    return min(wide, math.ceil(width_bits / 18) * math.ceil(depth / 1024))


def sized_depth(layer, shape):
    """compressor's FIFO depth for a linear chain (hls_design.plan_fifo_depths, applied to the Keras shape): one
    row of the tensor, or the up-sampling burst of whole rows, at least 2."""
    row = shape[1] if len(shape) == 3 else 1
    if type(layer).__name__.startswith("UpSampling"):
        size = getattr(layer, "size", (1,))
        row = max(row, (size[0] if len(shape) == 3 else 1) * row)
    return max(2, row)


def _layer_cfg(hls_config, name):
    return (hls_config or {}).get("LayerName", {}).get(name, {})


def _result_bits(cfg, fallback):
    prec = cfg.get("Precision", {})
    return width_of(prec.get("result") if isinstance(prec, dict) else prec, fallback)


def table_bram(activation, reads):
    """BRAM_18K of an activation's lookup tables. hls4ml's table is 1024 entries of <= 18 bits: one BRAM_18K; a
    BRAM has two read ports, so `reads` lookups in the same cycle (the layer's elements in io_parallel, its channels
    in io_stream) need ceil(reads / 2) copies. Softmax reads its exp table per element and its inverse table once
    (jet tagger: 5 outputs -> 3 + 1 = 4 BRAM_18K, the HLS figure; iris MLP: 3 outputs -> 2 + 1 = 3)."""
    copies = math.ceil(max(reads, 1) / 2)
    if activation == "softmax":
        return copies + 1
    return copies if activation in TABLE_ACTIVATIONS else 0


def _needs_padding(layer, stream):
    """hls4ml puts a ZeroPadding layer (and its FIFO) in front of a 'same' convolution in io_stream."""
    return stream and getattr(layer, "padding", None) == "same" and getattr(layer, "kernel", None) is not None \
        and len(np.asarray(layer.get_weights()[0]).shape) > 2


def _model_defaults(hls_config):
    """(strategy, reuse factor, default width) of the configuration's Model section."""
    model_cfg = (hls_config or {}).get("Model", {})
    prec = model_cfg.get("Precision")
    return (str(model_cfg.get("Strategy", "Latency")).lower(), int(model_cfg.get("ReuseFactor", 1)),
            width_of(prec.get("default") if isinstance(prec, dict) else prec, 16))


def _product_layer(layer, t, cfg, strategy, a_bits, ctx):
    """Fill `t` for a layer that multiplies (and its activation, a layer of its own in hls4ml); returns the output
    width and [(FIFO name, width)] of its internal FIFO (product -> activation)."""
    hls_config, stream, default_w = ctx
    shape = _out_shape(layer)[1:]
    t.update(product_terms(layer, cfg, strategy, a_bits, default_w))
    t["hls_layers"] = 1 + _needs_padding(layer, stream)
    t["recurrent"] = _recurrent_kernels(layer) is not None
    t["ii_base"] = t["steps"] * t["rf_cycles"]                  # a conv repeats its product per output pixel
    t["resource_pixels"] = t["steps"] if strategy == "resource" else 0
    t["parallel_rf"], t["parallel_positions"] = t["rf_cycles"] - 1, t["steps"] - 1
    out_bits = _result_bits(cfg, default_w)     # hls4ml: no result precision given -> the model default
    act = _activation_name(layer)
    if act in ("linear", "") or t["recurrent"]:
        return out_bits, []
    channels = shape[-1] if stream else int(np.prod(shape))
    t["hls_layers"] += 1
    t["tables"] += table_bram(act, channels)
    t["softmax"] += int(act == "softmax")
    internal = [(layer.name + "_linear", shape[-1] * out_bits)]
    act_bits = getattr(getattr(layer, "activation", None), "bits", None)   # a QKeras activation quantizer
    act_cfg = _layer_cfg(hls_config, f"{layer.name}_{act}")
    return (int(act_bits) if act_bits else _result_bits(act_cfg, default_w)), internal


def _other_layer(layer, t, cfg, a_bits, ctx):
    """Fill `t` for a layer without weights (activation, pooling, up-sampling, padding ...); returns its width."""
    _, stream, default_w = ctx
    shape = _out_shape(layer)[1:]
    cls, act = type(layer).__name__, _activation_name(layer)
    t["hls_layers"] = 1
    if cls in ("Activation", "QActivation", "ReLU", "Softmax", "LeakyReLU"):
        act = "softmax" if cls == "Softmax" else act
        t["tables"] = table_bram(act, shape[-1] if stream else int(np.prod(shape)))
        t["softmax"] = int(act == "softmax")
        act_bits = getattr(getattr(layer, "activation", None), "bits", None) if cls == "QActivation" else None
        keeps = act in ("relu", "linear")                   # a table activation outputs the default type
        return int(act_bits) if act_bits else _result_bits(cfg, a_bits if keeps else default_w)
    return _result_bits(cfg, a_bits)


def layer_terms(qmodel, hls_config, stream, fifo_depths=None):
    """[{name, type, strategy, terms}] for every Keras layer hls4ml implements. fifo_depths: None (hls4ml's
    default, the whole tensor), "sized" (compressor's linear-chain rule) or {producer layer name: depth}."""
    if fifo_depths == "sized" and any(isinstance(getattr(layer, "input", None), list) for layer in qmodel.layers):
        fifo_depths = None       # a join (Add, Concatenate): compressor keeps hls4ml's depths on the forked paths
    default_strategy, default_rf, default_w = _model_defaults(hls_config)
    ctx = (hls_config, stream, default_w)
    rows, a_bits = [], default_w
    for layer in qmodel.layers:
        cls, cfg = type(layer).__name__, _layer_cfg(hls_config, layer.name)
        if cls == "InputLayer":
            a_bits = _result_bits(cfg, default_w)
        if cls in NO_HLS_LAYER:
            continue
        cfg = dict(cfg, ReuseFactor=cfg.get("ReuseFactor", default_rf))
        strategy = str(cfg.get("Strategy", default_strategy)).lower()
        shape = _out_shape(layer)[1:]
        pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        t = {"hls_layers": 0, "out_bits": 0, "tables": 0, "softmax": 0, "fifos": [],
             "resource_pixels": 0, "parallel_rf": 0, "parallel_positions": 0, "recurrent": False,
             "ii_base": pixels if stream else 1}                   # a stream layer takes a pixel per cycle
        in_bits = a_bits
        if _matrix(layer) is not None:
            a_bits, internal = _product_layer(layer, t, cfg, strategy, a_bits, ctx)
        else:
            a_bits, internal = _other_layer(layer, t, cfg, a_bits, ctx), []
        t["out_bits"] = int(np.prod(shape)) * a_bits
        if stream and len(shape) > 1:
            t["fifos"] = _stream_fifos(layer, internal, a_bits, in_bits, layer.name == qmodel.layers[-1].name,
                                       fifo_depths)
        rows.append({"name": layer.name, "type": cls, "strategy": strategy, "terms": t})
    return rows


def _stream_fifos(layer, internal, a_bits, in_bits, last, fifo_depths):
    """[(width bits, depth)] of the io_stream FIFOs a layer writes: its internal ones, its output (the model's
    output is a port, not a FIFO) and the padded input hls4ml makes for a 'same' convolution."""
    shape = _out_shape(layer)[1:]
    pixels = int(np.prod(shape[:-1]))
    fifos = [(w, _depth(layer, shape, pixels, fifo_depths, name)) for name, w in internal]
    if not last:
        fifos.append((shape[-1] * a_bits, _depth(layer, shape, pixels, fifo_depths, layer.name)))
    if _needs_padding(layer, True):
        fifos.append(((layer.input_shape[-1] or 1) * in_bits,
                      _depth(layer, layer.input_shape[1:], pixels, fifo_depths, layer.name + "_pad")))
    return fifos


def _depth(layer, shape, pixels, fifo_depths, name):
    if fifo_depths is None:
        return pixels                                   # hls4ml 1.3: the whole tensor (StreamVariableConverter)
    if fifo_depths == "sized":
        return min(pixels, sized_depth(layer, shape))
    return int(fifo_depths.get(name, pixels))
