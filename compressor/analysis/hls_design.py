"""The design of an hls4ml project, decided without writing or compiling it: which layers hls4ml can convert, the
per-layer precisions (hls4ml's config from the QKeras quantizers, plus what no quantizer fixes, sized from data),
the po2-bias replacement, and the strategy and reuse factor whose resource estimate fits the board.

Kept in analysis/ so the FPGA estimate prices the very design compress writes, while analysis stays free of the
exporter: export/hls.py builds on this module, never the other way round.
"""

import copy
import math

import numpy as np

from ..errors import UnsupportedLayer
from ..graph import leaf_layers
from .resources import estimate_resources

# Layers hls4ml 1.3 cannot convert, with what to build instead (hls4ml has no transposed convolution: SPEC 0).
ALTERNATIVES = {
    "Conv2DTranspose": "UpSampling2D + Conv2D (SPEC 1: the FPGA variant of the CAE decoder)",
    "QConv2DTranspose": "UpSampling2D + QConv2D",
    "Conv1DTranspose": "UpSampling1D + Conv1D",
    "Conv3D": "Conv2D over a reshaped input",
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


def _class_name(layer) -> str:
    return type(layer).__name__


def check_supported(model):
    """Raise UnsupportedLayer naming the first layer hls4ml cannot convert (and what to use instead)."""
    import hls4ml

    supported = set(hls4ml.converters.get_supported_keras_layers())
    for layer in leaf_layers(model):
        cls = _class_name(layer)
        if cls in SKIPPED or cls in supported and cls not in ALTERNATIVES:
            continue
        instead = ALTERNATIVES.get(cls, "a layer from hls4ml's supported list (hls4ml.converters."
                                        "get_supported_keras_layers())")
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


def hls_config(model, target, x_sample, *, backend=None, strategy="Latency", reuse_factor=1) -> dict:
    """hls4ml's per-layer config from the quantizers, plus the precisions no quantizer fixes, sized from data."""
    import hls4ml

    backend = backend or target.backend
    outputs = layer_outputs(model, x_sample)
    peak = max(float(np.max(np.abs(o))) for o in outputs.values())
    default_i = integer_bits(peak) + 1                                   # one guard bit for helper layers
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                               default_precision=f"fixed<{default_i + FRACTION_BITS},{default_i}>",
                                               default_reuse_factor=reuse_factor)
    layers = cfg["LayerName"]
    input_name = model.layers[0].name
    in_i = integer_bits(float(np.max(np.abs(x_sample))))
    layers[input_name]["Precision"]["result"] = f"fixed<{in_i + INPUT_FRACTION_BITS},{in_i}>"
    for layer in leaf_layers(model):
        act = getattr(layer, "activation", None)
        act = str(getattr(act, "__name__", act) or "")
        if layer.name in layers and "table" in layers[layer.name].get("Precision", {}) and (
                _class_name(layer) in RECURRENT or act in SMOOTH):
            layers[layer.name]["Precision"]["table"] = SMOOTH_TABLE_PRECISION
            layers[layer.name]["TableSize"] = SMOOTH_TABLE_SIZE
    for name in layers:
        layers[name]["Trace"] = True            # so hls4ml's trace() reports every layer on a divergence
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
