"""Parameters, zeros, MACs and constant bytes, per layer and in total, for a Keras model and its TFLite form.

Keras side: QKeras' `extract_model_operations` for the Q-layers it covers; the other layers are counted here by
hand (it skips every non-Q layer). TFLite side: DCASE's NeSsi rules (SPEC section 2) over the flatbuffer read with
`tf.lite.Interpreter`: MACs of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX/AVERAGE_POOL_2D (window counted as
MACs), MEAN and ADD; bytes = the constant tensors of those operators (each tensor once, zeros included).
"""

import math

import numpy as np

from ..graph import leaf_layers

# NeSsi's compute operators; TRANSPOSE_CONV is added (NeSsi predates it) so a decoder's MACs are not lost.
NESSI_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "ADD")
EXTRA_OPS = ("TRANSPOSE_CONV",)
QKERAS_COVERED = ("QDense", "QConv2D", "QConv1D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D")


def _prod(shape):
    return int(math.prod(int(d) for d in shape if d is not None))


# ---------------------------------------------------------------- Keras


def _shape(shape):
    """First shape of a (possibly multi-output) layer's shape, batch dimension dropped."""
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape)[1:]


def _bits(layer):
    """Kernel bits: the QKeras kernel quantizer's, else 32 (float)."""
    if hasattr(layer, "get_quantizers"):
        quantizers = [q for q in layer.get_quantizers() if q is not None]
        if quantizers and hasattr(quantizers[0], "bits"):
            return int(quantizers[0].bits)
    return 32


def _hand_macs(layer):
    """MACs of one inference for the layers QKeras' estimator skips (float Keras layers, RNNs, pooling, Add)."""
    kind = layer.__class__.__name__.lstrip("Q")
    try:
        cin, cout = _shape(layer.input_shape), _shape(layer.output_shape)
    except (AttributeError, RuntimeError):
        return 0
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        k = layer.kernel.shape
        return _prod(cout) * _prod(k[:-1])                          # every output x (window x input channels)
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return _prod(cout) * _prod(layer.depthwise_kernel.shape[:-2])
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        dw = layer.depthwise_kernel.shape
        return _prod(cin[:-1]) * cin[-1] * _prod(dw[:-2]) // _prod(layer.strides) + _prod(cout) * _prod(
            layer.pointwise_kernel.shape[:-1])
    if kind in ("Conv1DTranspose", "Conv2DTranspose"):
        return _prod(cin) * _prod(layer.kernel.shape[:-2]) * layer.kernel.shape[-2]
    if kind == "Dense":
        return _prod(cout) * int(layer.kernel.shape[0])
    if kind in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"):
        return _prod(cout) * _prod(np.atleast_1d(layer.pool_size))  # NeSsi counts the window as MACs
    if kind in ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
        return _prod(cin)
    if kind == "Add":
        return _prod(cout)
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
        steps = cin[0] if cin[0] is not None else 1               # unknown length: per time step
        units = layer.units
        return steps * gates * (cin[-1] * units + units * units)
    if kind == "MultiHeadAttention":
        return sum(_prod(w.shape) for w in layer.weights if len(w.shape) > 1) * (cin[0] or 1)
    return 0


def keras_layer_counts(model) -> list[dict]:
    """Per-layer rows {name, type, params, zeros, bits, macs} of a Keras, QKeras or pruned (tfmot) model."""
    model = strip_pruning(model)
    qk_ops = {}
    if any(layer.__class__.__name__ in QKERAS_COVERED for layer in leaf_layers(model)):
        from qkeras.estimate import extract_model_operations
        try:
            qk_ops = extract_model_operations(model)
        except Exception:  # it crashes on float quantizers (`logging.warnings` typo upstream): count by hand
            qk_ops = {}
    rows = []
    for layer in leaf_layers(model):
        weights = layer.get_weights()
        params = int(sum(w.size for w in weights))
        zeros = int(sum(int(np.count_nonzero(w == 0)) for w in weights))
        if layer.name in qk_ops:
            macs, by = int(qk_ops[layer.name]["number_of_operations"]), "qkeras.estimate"
        else:
            macs, by = int(_hand_macs(layer)), "counted"
        rows.append({"name": layer.name, "type": layer.__class__.__name__, "params": params, "zeros": zeros,
                     "bits": _bits(layer) if params else None, "macs": macs, "macs_by": by})
    return rows


def strip_pruning(model):
    """A tfmot-pruned model with its wrappers removed (weights kept, zeros included); others unchanged."""
    if any(layer.__class__.__name__ == "PruneLowMagnitude" for layer in model.layers):
        import tensorflow_model_optimization as tfmot
        return tfmot.sparsity.keras.strip_pruning(model)
    return model


# ---------------------------------------------------------------- TFLite


def _pool_windows(tflite_bytes) -> dict:
    """Operator index -> pool window (h*w); `_get_ops_details` does not expose builtin options."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite_bytes), 0)
    windows = {}
    for i, op in enumerate(model.subgraphs[0].operators):
        opts = op.builtinOptions
        if isinstance(opts, schema.Pool2DOptionsT):
            windows[i] = int(opts.filterHeight) * int(opts.filterWidth)
    return windows


def interpreter(tflite_bytes):
    import tensorflow as tf

    # without the default XNNPACK delegate, which would hide the operators behind one DELEGATE node
    interp = tf.lite.Interpreter(model_content=tflite_bytes, experimental_op_resolver_type=(
        tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    interp.allocate_tensors()
    return interp


def tflite_layer_counts(tflite_bytes) -> list[dict]:
    """Per-operator rows {name, type, params, zeros, bits, macs, bytes} for the compute operators (NeSsi)."""
    interp = interpreter(tflite_bytes)
    ops = interp._get_ops_details()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    produced = {int(i) for op in ops for i in op["outputs"]}
    graph_inputs = {t["index"] for t in interp.get_input_details()}
    windows = _pool_windows(tflite_bytes)
    seen, rows = set(), []
    for op in ops:
        kind = op["op_name"]
        if kind not in NESSI_OPS + EXTRA_OPS:
            continue
        ins = [int(i) for i in op["inputs"] if i >= 0]
        out = tensors[int(op["outputs"][0])]
        consts = [i for i in ins if i not in produced and i not in graph_inputs]
        if kind == "MEAN":
            consts = []  # its constant is the axis list, not a weight (like RESHAPE's shape)
        data_in = [i for i in ins if i not in consts]
        out_elems = _prod(out["shape"])
        weights = tensors[consts[0]]["shape"] if consts else None
        if kind == "MEAN":
            data_in = data_in[:1]
        if kind == "CONV_2D":
            macs = out_elems * _prod(weights[1:])
        elif kind == "DEPTHWISE_CONV_2D":
            macs = out_elems * _prod(weights[1:3])
        elif kind == "FULLY_CONNECTED":
            macs = out_elems * int(weights[1])
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            macs = out_elems * windows.get(op["index"], 1)
        elif kind == "MEAN":
            macs = _prod(tensors[data_in[0]]["shape"])
        elif kind == "ADD":
            macs = out_elems
        else:  # TRANSPOSE_CONV: inputs are (output shape, weights [out, kh, kw, in], input)
            w = tensors[ins[1]]["shape"]
            macs = _prod(tensors[ins[2]]["shape"]) * _prod(w[:3])
        params = zeros = nbytes = 0
        bits = None
        for i in consts:
            if i in seen or tensors[i]["dtype"] not in (np.int8, np.int32, np.int16, np.int64, np.float32,
                                                                np.uint8):   # int64: 16x8 biases
                continue
            if kind == "TRANSPOSE_CONV" and i == ins[0]:
                continue  # the output-shape vector, not a weight
            seen.add(i)
            value = interp.get_tensor(i)
            params += value.size
            zeros += int(np.count_nonzero(value == 0))
            nbytes += value.nbytes
            bits = bits or value.dtype.itemsize * 8
        rows.append({"name": out["name"].split(";")[-1], "type": kind, "params": params, "zeros": zeros, "bits": bits,
                     "macs": int(macs), "bytes": int(nbytes)})
    return rows


def totals(rows) -> dict:
    return {k: int(sum(r.get(k) or 0 for r in rows)) for k in ("params", "zeros", "macs", "bytes")}
