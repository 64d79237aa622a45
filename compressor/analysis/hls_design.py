"""The design of an hls4ml project, decided without writing or compiling it: which layers hls4ml can convert, the
per-layer precisions (hls4ml's config from the QKeras quantizers, plus what no quantizer fixes, sized from data),
the po2-bias replacement, and the strategy and reuse factor whose resource estimate fits the board.

Kept in analysis/ so the FPGA estimate prices the very design compress writes, while analysis stays free of the
exporter: export/hls.py builds on this module, never the other way round.
"""

import copy
import re
import math

import numpy as np

from ..errors import UnsupportedLayer
from ..graph import leaf_layers
from .resources import estimate_resources

# Layers hls4ml 1.3 cannot convert, with what to build instead (hls4ml has no transposed convolution: SPEC 0).
_IDENTITY = "nothing: it is the identity at inference, remove it from the model before export"
ALTERNATIVES = {
    "Conv2DTranspose": "UpSampling2D + Conv2D (SPEC 1: the FPGA variant of the CAE decoder)",
    "QConv2DTranspose": "UpSampling2D + QConv2D",
    "Conv1DTranspose": "UpSampling1D + Conv1D",
    "Conv3D": "Conv2D over a reshaped input",
    "Lambda": "built-in Keras layers for what it computes (hls4ml cannot convert a Lambda's Python code)",
    "TFOpLambda": "Keras layers (Add, Multiply, ReLU, Activation ...) instead of TensorFlow ops applied to tensors",
    "SlicingOpLambda": "a Cropping1D / Cropping2D layer instead of slicing a tensor",
    "Normalization": "normalizing the data before the model, or a BatchNormalization layer",
    "Rescaling": "scaling the data before the model, or a BatchNormalization layer",
    "ConvLSTM2D": "Conv2D layers followed by an LSTM over a reshaped sequence",
    "MultiHeadAttention": "Dense / Dot layers (hls4ml 1.3 converts no Keras attention layer)",
    "Attention": "Dense / Dot layers (hls4ml 1.3 converts no Keras attention layer)",
    "SpatialDropout1D": _IDENTITY, "SpatialDropout2D": _IDENTITY, "GaussianNoise": _IDENTITY,
    "GaussianDropout": _IDENTITY, "AlphaDropout": _IDENTITY, "ActivityRegularization": _IDENTITY,
}
SKIPPED = ("Dropout",)       # hls4ml's Keras reader drops these itself (identity at inference)
CONV_TYPES = ("Conv1D", "Conv2D", "QConv1D", "QConv2D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
              "DepthwiseConv2D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D", "QConv2DBatchnorm")
INPUT_FRACTION_BITS = 12     # fraction bits of the input (data in [0, 1] lands on a 2**-12 grid)
FRACTION_BITS = 16           # fraction bits of helper layers no quantizer sizes (e.g. QKeras alpha scaling)
# sigmoid / tanh lookup tables: hls4ml's 1024 entries over [-8, 8) step 1/64 gave 0.01 error on a GRU's output;
# 4096 entries (4 BRAM_18K each) with 16 fraction bits cut it about fourfold
SMOOTH_TABLE_SIZE = 4096
SMOOTH_TABLE_PRECISION = "fixed<18,2,RND,SAT>"
SMOOTH = ("sigmoid", "tanh", "hard_sigmoid")
RECURRENT = ("GRU", "LSTM", "SimpleRNN", "QGRU", "QLSTM", "QSimpleRNN")
# softmax (hls4ml's 'stable' kernel: exp(x - max) from a table, times 1/sum from a table). Its defaults, fixed<18,8>
# everywhere and 1024 entries, index exp by x_max - x in steps of 1/8 and 1/sum in steps of 1/4 (the top 10 bits of
# fixed<18,8>): the output was off by 0.19 and near-equal classes swapped. Here: 4096 entries, exp indexed by
# x_max - x on [0, 16) in steps of 1/256 (exp(-16) is far below an output LSB; larger gaps saturate to it),
# 1/sum indexed on [0, 2n) in steps of 2n/4096, both tables 17 fraction bits.
SOFTMAX_TABLE_SIZE = 4096
SOFTMAX_RANGE_BITS = 4       # integer bits of x_max - x: [0, 16)
SOFTMAX_TABLE_PRECISION = "ufixed<18,1,RND,SAT>"    # exp(-d) in (0, 1] and 1/sum in [1/n, 1]
POOLING_AVERAGE = ("GlobalAveragePooling1D", "GlobalAveragePooling2D")
WEIGHTED = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
            "QDense", "QConv1D", "QConv2D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D")


def _class_name(layer) -> str:
    return type(layer).__name__


def check_supported(model):
    """Raise UnsupportedLayer (a BadInput: one line) naming the first layer hls4ml cannot convert and what to use
    instead, before anything is converted or written."""
    import hls4ml
    import keras

    supported = set(hls4ml.converters.get_supported_keras_layers())
    for layer in leaf_layers(model):
        cls = _class_name(layer)
        if cls in SKIPPED or cls in supported and cls not in ALTERNATIVES:
            continue
        module = type(layer).__module__
        if cls in ALTERNATIVES:
            instead = ALTERNATIVES[cls]
        elif not module.startswith(("keras", "tensorflow", "tf_keras", "qkeras")) or isinstance(layer, keras.Model):
            instead = ("built-in Keras / QKeras layers for what it computes (hls4ml converts no custom layer "
                       "without an hls4ml extension)")
        else:
            instead = (f"one of hls4ml 1.3's Keras layers (Dense, Conv1D/2D, DepthwiseConv2D, pooling, "
                       f"BatchNormalization, Activation, Add, Concatenate, Flatten, Reshape, UpSampling ...)")
        raise UnsupportedLayer(f"layer '{layer.name}' ({cls}) is not supported by hls4ml for FPGA export; "
                               f"use {instead}")


def uses_convolution(model) -> bool:
    return any(_class_name(layer) in CONV_TYPES for layer in leaf_layers(model))


# -- po2 biases ---------------------------------------------------------------------------------------------------

def replace_po2_biases(qmodel):
    """Return (model, notes): every quantized_po2 bias replaced by a quantized_bits quantizer that holds the same
    power-of-two values exactly (hls4ml's C simulation cannot add a po2 bias in io_stream: SPEC 0)."""
    import keras
    from qkeras import quantized_bits

    notes, replaced = [], {}
    for layer in leaf_layers(qmodel):
        q = getattr(layer, "bias_quantizer_internal", None)
        if q is None or "po2" not in type(q).__name__ or not getattr(layer, "use_bias", False):
            continue
        values = np.asarray(q(layer.bias).numpy(), dtype=np.float64)
        nonzero = np.abs(values[values != 0])
        top = int(math.ceil(math.log2(nonzero.max()))) if nonzero.size else 0
        low = int(math.floor(math.log2(nonzero.min()))) if nonzero.size else 0
        integer = max(top + 1, 0)              # 2**top must fit: quantized_bits' range is [-2**i, 2**i)
        fraction = max(-low, 0)
        bits = 1 + integer + fraction
        replaced[layer.name] = (quantized_bits(bits, integer, 1, alpha=1), values.astype(np.float32))
        notes.append(f"{layer.name}: po2 bias {type(q).__name__} converted to the equal fixed-point values "
                     f"quantized_bits({bits},{integer},1) before hls4ml (SPEC 0: po2 bias C-sim does not compile)")
    if not replaced:
        return qmodel, notes

    def clone(layer):
        if layer.name not in replaced:
            return layer.__class__.from_config(layer.get_config())
        cfg = layer.get_config()
        cfg["bias_quantizer"] = replaced[layer.name][0]
        return layer.__class__.from_config(cfg)

    model = keras.models.clone_model(qmodel, clone_function=clone)
    model.set_weights(qmodel.get_weights())
    for name, (_, values) in replaced.items():
        layer = model.get_layer(name)
        weights = layer.get_weights()
        weights[-1] = values
        layer.set_weights(weights)
    return model, notes


# -- configuration ------------------------------------------------------------------------------------------------

def integer_bits(max_abs: float) -> int:
    """Integer bits (sign included) of a signed fixed-point type holding +-max_abs (+1.0 itself needs 2)."""
    return max(int(math.floor(math.log2(max_abs))) + 2, 1) if max_abs > 0 else 1


def layer_outputs(model, x) -> dict:
    """Keras output of every layer on x (hls4ml's own profiling helper needs pandas, which the stack lacks)."""
    import keras

    layers = [layer for layer in model.layers if _class_name(layer) != "InputLayer"]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outs = probe.predict(x, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    return {layer.name: np.asarray(o) for layer, o in zip(layers, outs)}


def layer_input_peaks(model, x) -> dict:
    """Largest |input| of every layer of `model` (not of nested models) on x: what its accumulators must hold."""
    import keras

    layers = [layer for layer in model.layers if _class_name(layer) != "InputLayer"]
    tensors, owners = [], []
    for layer in layers:
        for t in (layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]):
            tensors.append(t)
            owners.append(layer.name)
    outs = keras.Model(model.inputs, tensors).predict(x, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    peaks = {}
    for name, o in zip(owners, outs):
        peaks[name] = max(peaks.get(name, 0.0), float(np.max(np.abs(o))))
    return peaks


def _fixed(max_abs, fraction_bits, signed=True, tail="") -> str:
    """An hls4ml fixed-point string holding +-max_abs (or [0, max_abs] unsigned) with `fraction_bits`."""
    i = integer_bits(max_abs) - (0 if signed else 1)
    return f"{'' if signed else 'u'}fixed<{max(i, 0) + fraction_bits},{i}{tail}>"


def _significant(values, bits=12) -> int:
    """Fraction bits that keep `bits` significant bits of the smallest non-zero |value| (at least FRACTION_BITS)."""
    nonzero = np.abs(values[values != 0])
    if not nonzero.size:
        return FRACTION_BITS
    return int(min(max(FRACTION_BITS, bits - math.floor(math.log2(float(nonzero.min())))), 32))


def size_unquantized(model, layers, x_sample):
    """Precisions hls4ml would otherwise take from the flat model default (`_infer_default_type` in hls4ml 1.3's
    infer_precision pass), sized here from the layer's own values or data. hls4ml infers 'auto' exactly for Dense /
    Conv / pooling / merge layers, but not for
      - GlobalAveragePooling: its accumulator sums every pixel (64 x a [0, 1) input overflowed fixed<18,2> and
        wrapped: C-sim class agreement 0.000 on a Conv1D classifier);
      - BatchNormalization kept float: scale gamma / sqrt(var + eps) and bias beta - mean * scale;
      - a Dense / Conv left float (no kernel quantizer): its weights and biases;
      - softmax: its tables (SOFTMAX_* above).
    Edits the hls4ml per-layer config `layers` in place."""
    in_peaks = layer_input_peaks(model, x_sample)
    out_shapes = {}
    for layer in model.layers:
        shape = layer.output_shape
        out_shapes[layer.name] = shape[0] if isinstance(shape, list) else shape
    for layer in leaf_layers(model):
        cls = _class_name(layer)
        entry = layers.get(layer.name)
        if entry is None:
            continue
        precision = entry.setdefault("Precision", {})
        if cls in POOLING_AVERAGE and precision.get("accum", "auto") == "auto" and layer.name in in_peaks:
            pixels = int(np.prod(layer.input_shape[1:-1]))
            precision["accum"] = _fixed(pixels * in_peaks[layer.name] or 1.0, FRACTION_BITS)
        elif cls == "BatchNormalization":
            gamma = layer.gamma.numpy() if layer.scale else np.ones(layer.moving_variance.shape)
            beta = layer.beta.numpy() if layer.center else np.zeros(layer.moving_mean.shape)
            scale = gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
            bias = beta - layer.moving_mean.numpy() * scale
            for key, values in (("scale", scale), ("bias", bias)):
                if precision.get(key, "auto") == "auto":
                    precision[key] = _fixed(float(np.max(np.abs(values))) or 1.0, _significant(values))
        elif cls in WEIGHTED:            # a float layer: its config says 'auto', hls4ml would use the default
            kernel = getattr(layer, "kernel", None)
            depthwise = getattr(layer, "depthwise_kernel", None)
            for key, values in (("weight", depthwise if kernel is None else kernel),   # a depthwise's weight_t
                                ("bias", getattr(layer, "bias", None)), ("depthwise", depthwise),
                                ("pointwise", getattr(layer, "pointwise_kernel", None))):
                if values is not None and precision.get(key) == "auto":
                    values = np.asarray(values.numpy(), dtype=np.float64)
                    precision[key] = _fixed(float(np.max(np.abs(values))) or 1.0, _significant(values))
    for name, entry in layers.items():
        precision = entry.get("Precision", {})
        if "exp_table" not in precision:            # only hls4ml's softmax entries carry exp/inv tables
            continue
        owner = name if name in out_shapes else name.rsplit("_", 1)[0]     # Dense(activation=softmax) -> d_softmax
        shape = out_shapes.get(owner)
        n = int(shape[-1]) if shape and shape[-1] else 16
        grow = max(int(math.ceil(math.log2(max(n, 2)))), 1)   # integer bits of a sum of n values in [0, 1]
        address = int(math.log2(SOFTMAX_TABLE_SIZE))
        types = {"exp_table": SOFTMAX_TABLE_PRECISION, "inv_table": SOFTMAX_TABLE_PRECISION,
                 "accum": f"ufixed<{18 + grow},{1 + grow},RND,SAT>",
                 "inv_inp": f"ufixed<{address},{1 + grow},RND,SAT>",                  # all its bits address 1/sum
                 "inp_norm": f"ufixed<{address},{SOFTMAX_RANGE_BITS},RND,SAT>"}       # all its bits address exp
        precision.update(types)
        # hls4ml 1.3 reads a softmax's table types only from '<name>_t' keys of the layer's config (Layer.__init__),
        # not from its Precision entry (which sets only result and accum)
        entry.update({f"{key}_t": value for key, value in types.items() if key != "accum"})
        entry["TableSize"] = SOFTMAX_TABLE_SIZE


def _width_and_integer(precision):
    match = re.fullmatch(r"u?fixed<(\d+),\s*(-?\d+)[^>]*>", str(precision).replace("ap_", ""))
    return (int(match[1]), int(match[2])) if match else None


def share_recurrent_types(model, layers):
    """hls4ml 1.3's LSTM / GRU kernels call dense<data_T, res_T> on the input and on the state with an accum_t
    array as the output, so the input (data_T), the state (result_t) and accum_t must be one type or the C
    simulation does not compile ('no matching function for call to dense<...>', a user's LSTM on its data). Give
    the recurrent layer and the layer feeding it one type wide enough for all three: the input's range, the state's
    (-1, 1), and two guard bits for the gate sums."""
    for layer in leaf_layers(model):
        if _class_name(layer) not in RECURRENT or layer.name not in layers:
            continue
        inbound = layer.inbound_nodes[0].inbound_layers
        source = (inbound[0] if isinstance(inbound, list) else inbound).name
        if source not in layers:
            continue
        given = [_width_and_integer(layers[name].get("Precision", {}).get("result")) for name in (source, layer.name)]
        known = [g for g in given if g]
        integer = max([2] + [i for _, i in known]) + 2
        fraction = max([FRACTION_BITS] + [w - i for w, i in known])
        shared = f"fixed<{integer + fraction},{integer}>"
        layers[source].setdefault("Precision", {})["result"] = shared
        layers[layer.name].setdefault("Precision", {}).update(result=shared, accum=shared)


def input_layer_names(model) -> list:
    """Names of the model's input layers as hls4ml's config names them (a Sequential model's is 'first_input',
    not its first layer)."""
    return [t._keras_history.layer.name for t in model.inputs]


def hls_config(model, target, x_sample, *, backend=None, strategy="Latency", reuse_factor=1, io_type=None) -> dict:
    """hls4ml's per-layer config from the quantizers, plus the precisions no quantizer fixes, sized from data;
    `io_type` (io_stream / io_parallel) is recorded for the estimate (hls4ml takes it as the converter's argument)."""
    import hls4ml

    backend = backend or target.backend
    outputs = layer_outputs(model, x_sample)
    peak = max(float(np.max(np.abs(o))) for o in outputs.values())
    default_i = integer_bits(peak) + 1                                   # one guard bit for helper layers
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                               default_precision=f"fixed<{default_i + FRACTION_BITS},{default_i}>",
                                               default_reuse_factor=reuse_factor)
    layers = cfg["LayerName"]
    in_i = integer_bits(float(np.max(np.abs(x_sample))))
    for input_name in input_layer_names(model):
        layers[input_name]["Precision"]["result"] = f"fixed<{in_i + INPUT_FRACTION_BITS},{in_i}>"
    size_unquantized(model, layers, x_sample)
    share_recurrent_types(model, layers)
    for layer in leaf_layers(model):
        act = getattr(layer, "activation", None)
        act = str(getattr(act, "__name__", act) or "")
        if layer.name in layers and "table" in layers[layer.name].get("Precision", {}) and (
                _class_name(layer) in RECURRENT or act in SMOOTH):
            layers[layer.name]["Precision"]["table"] = SMOOTH_TABLE_PRECISION
            layers[layer.name]["TableSize"] = SMOOTH_TABLE_SIZE
    for name in layers:
        layers[name]["Trace"] = True            # so hls4ml's trace() reports every layer on a divergence
    # export_hls sizes io_stream FIFOs by plan_fifo_depths (its default): the estimate prices them at those depths
    # (hls4ml ignores this key)
    cfg["FifoDepths"] = "sized"
    if io_type:
        cfg["IOType"] = io_type
    return with_schedule(cfg, strategy, reuse_factor)


def with_schedule(cfg, strategy, reuse_factor) -> dict:
    """A copy of an hls4ml config with one strategy and reuse factor for the model and every layer."""
    cfg = copy.deepcopy(cfg)
    cfg["Model"]["Strategy"], cfg["Model"]["ReuseFactor"] = strategy, reuse_factor
    for layer_cfg in cfg.get("LayerName", {}).values():
        if "ReuseFactor" in layer_cfg:
            layer_cfg["ReuseFactor"] = reuse_factor
        if "Strategy" in layer_cfg or strategy != "Latency":
            layer_cfg["Strategy"] = strategy
    return cfg


def choose_schedule(model, cfg_for, target, strategy=None, reuse_factor=None):
    """Strategy and reuse factor: the most parallel design whose resource estimate fits the board.
    Returns (cfg, strategy, reuse_factor, estimate, reason)."""
    if strategy is not None or reuse_factor is not None:
        s, rf = strategy or ("Latency" if (reuse_factor or 1) == 1 else "Resource"), reuse_factor or 1
        cfg = cfg_for(s, rf)
        return cfg, s, rf, estimate_resources(model, cfg, target), "set by the recipe"
    tried = [("Latency", 1)] + [("Resource", rf) for rf in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)]
    for s, rf in tried:
        cfg = cfg_for(s, rf)
        est = estimate_resources(model, cfg, target)
        if est["fits"]:
            return cfg, s, rf, est, f"first of {tried[0]}..{tried[-1]} whose estimate fits {target.name}"
    return cfg, s, rf, est, f"nothing tried fits {target.name}: most serial design kept, estimate exceeds board"


# -- FIFO depths (io_stream) --------------------------------------------------------------------------------------

FIFO_RULE_LINEAR = "linear chain: producer/consumer need"
FIFO_RULE_FORK = "hls4ml default: graph forks"
FIFO_MIN_DEPTH = 2           # the HLS default for a dataflow channel: one word written while one is read


def _burst(layer, shape, as_producer) -> int:
    """Stream words `layer` writes (as producer) or goes without reading while writing (as consumer) at once, on a
    FIFO of tensor `shape` (hls4ml's channel-last shape: (H, W, C), (L, C) or (N,))."""
    cls = layer.class_name
    if cls == "Resize":                         # nnet::resize_nearest: reads a row, writes it ratio_h x ratio_w times
        if len(shape) == 3:
            rows = (layer.get_attr("out_height") or 1) // max(layer.get_attr("in_height") or 1, 1)
            return max(rows, 1) * shape[1] if as_producer else shape[1]
        ratio = (layer.get_attr("out_width") or 1) // max(layer.get_attr("in_width") or 1, 1)
        return max(ratio, 1)
    if cls.startswith("ZeroPadding") and as_producer:   # nnet::zeropad*: whole pad rows / pad samples of zeros
        if len(shape) == 3:
            return max(layer.get_attr("pad_top", 0), layer.get_attr("pad_bottom", 0), 1) * shape[1]
        return max(layer.get_attr("pad_left", 0), layer.get_attr("pad_right", 0), 1)
    return 1


def plan_fifo_depths(hls_model) -> list:
    """The depth of every inter-layer FIFO of a converted io_stream hls4ml graph, and the rule that set it.

    hls4ml 1.3 gives every stream variable `pragma = ('stream', depth)` with depth = the tensor's pixel count (the
    whole tensor, backends/fpga/fpga_types.py StreamVariableConverter; its optimizer needs co-simulation). Rules:
    - A FIFO on an undirected cycle of the layer graph (between a fork - a Clone - and its join - Add, Concatenate)
      keeps hls4ml's default: a wait cycle needs a fork and a join, and only a deep enough bypass FIFO breaks it.
    - Any other FIFO is part of a linear stretch: single producer, single consumer, no path around it. Such a
      chain cannot deadlock for any depth >= 1 (SPEC 7), so its depth only decides whether the two sides stall each
      other. Every hls4ml stream kernel reads and writes in raster order, row-periodically: line-buffer Conv / pooling
      keep their windows inside the kernel and write at most one pixel per pixel read; activations, BatchNorm,
      Dense (whose stream output is one word) likewise. Bursts come only from up-sampling (an input row written
      ratio_h times) and zero padding (whole pad rows). Depth = max(one row of the tensor, the producer's write burst,
      the consumer's write pause) - a row lets either side run a full row while the other finishes its own - at
      least 2 (a dataflow channel's full-throughput minimum), never above hls4ml's default. A 1-D tensor's "row" is
      one sample. C simulation cannot see depths (its streams are unbounded): the rule is argued, not simulated.
    Returns [{fifo, from, to, shape, default_depth, depth, rule}], in the graph's order."""
    layers = list(hls_model.get_layers())
    producer = {}
    for layer in layers:
        for out in layer.outputs:
            producer[out] = layer
    consumers = {}
    edges = []                                       # (producer, consumer, output name) between layers
    for layer in layers:
        for name in layer.inputs:
            if name in producer:
                consumers.setdefault(name, []).append(layer)
                edges.append((producer[name].name, layer.name, name))
    ports = {v.name for v in hls_model.get_input_variables()} | {v.name for v in hls_model.get_output_variables()}

    def connected_without(skip):
        """Does the undirected layer graph still join skip's ends when edge `skip` is removed?"""
        start, goal = skip[0], skip[1]
        adjacent = {}
        for e in edges:
            if e is not skip:
                adjacent.setdefault(e[0], []).append(e[1])
                adjacent.setdefault(e[1], []).append(e[0])
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            for nxt in adjacent.get(node, []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    rows = []
    for edge in edges:
        src, name = producer[edge[2]], edge[2]
        var = src.get_output_variable(name) if hasattr(src, "get_output_variable") else None
        pragma = getattr(var, "pragma", None)
        if var is None or var.name in ports or not (isinstance(pragma, tuple) and pragma[0] == "stream"):
            continue                                 # top-level ports, in-place reshapes: no FIFO of their own
        if any(r["fifo"] == var.name for r in rows):
            continue
        shape = [int(d) for d in var.shape]
        default = int(pragma[1])
        if connected_without(edge):
            depth, rule = default, FIFO_RULE_FORK
        else:
            # a FIFO through an in-place reshape (Flatten) feeds the reshape's consumer: follow it
            dst = [lay for lay in layers if lay.name == edge[1]][0]
            while dst.class_name == "Reshape" and getattr(dst.get_output_variable(), "pragma", 1) is None:
                nxt = consumers.get(dst.outputs[0], [])
                if len(nxt) != 1:
                    break
                dst = nxt[0]
            row = shape[1] if len(shape) == 3 else 1
            need = max(row, _burst(src, shape, True), _burst(dst, shape, False))
            depth, rule = min(default, max(FIFO_MIN_DEPTH, need)), FIFO_RULE_LINEAR
            edge = (edge[0], dst.name, name)
        rows.append({"fifo": var.name, "from": src.name, "to": edge[1], "shape": shape, "default_depth": default,
                     "depth": int(depth), "rule": rule})
    return rows
