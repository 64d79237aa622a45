"""Per-operator features of an int8 TFLite graph for the MCU cost model (analysis/mcu.py).

Every operator of the graph gets one row: its TFLite type, the class the cost model prices it by, and its shape
features. MACs come from `counts.tflite_layer_counts` (NeSsi rules) for the compute operators; the others get
their output elements. Reshapes are free in TFLite Micro (they alias their input) but still cost an operator call.
"""

import math

from . import counts

# operator type -> cost class (the cost model has coefficients per class)
CLASSES = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fc", "TRANSPOSE_CONV": "conv"}
FREE = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")     # no data movement in TFLite Micro


def op_class(kind: str) -> str:
    if kind in CLASSES:
        return CLASSES[kind]
    return "free" if kind in FREE else "elementwise"


def operator_features(tflite_bytes) -> list[dict]:
    """One row per operator in graph order: {name, type, class, macs, out_elems, elems, reduction}: `elems` is the
    larger of the first input's and the output's elements (what an elementwise or pooling kernel walks), `reduction`
    the MACs per output element (the dot-product length of a convolution or fully connected layer)."""
    interp = counts.interpreter(tflite_bytes)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    compute = iter(counts.tflite_layer_counts(tflite_bytes))
    rows = []
    for op in interp._get_ops_details():
        kind = op["op_name"]
        out = tensors[int(op["outputs"][0])]
        out_elems = int(math.prod(int(d) for d in out["shape"]))
        first = int(op["inputs"][0]) if len(op["inputs"]) else -1
        in_elems = int(math.prod(int(d) for d in tensors[first]["shape"])) if first >= 0 else out_elems
        name = out["name"].split(";")[-1]
        macs = 0
        if kind in counts.NESSI_OPS + counts.EXTRA_OPS:
            row = next(compute)
            name, macs = row["name"], row["macs"]
        cls = op_class(kind)
        if cls == "elementwise":
            macs = 0    # pooling / ADD / MEAN windows are priced by elements, not as MACs
        rows.append({"name": name, "type": kind, "class": cls, "macs": int(macs), "out_elems": out_elems,
                     "elems": max(in_elems, out_elems),
                     "reduction": round(macs / out_elems, 3) if macs and out_elems else 0})
    return rows
