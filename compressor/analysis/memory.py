"""Peak activation memory of an int8 TFLite model, estimated from tensor lifetimes.

Hand-written: the real figure is TFLite Micro's arena (measured in export/tflm.py); this estimate needs no TFLM
run and shows which operator holds the peak. A tensor lives from the operator that writes it to the last operator
that reads it (graph inputs from the start, graph outputs to the end); the peak is the largest sum of live bytes.
"""

from .counts import interpreter


def peak_activation_bytes(tflite_bytes) -> tuple[int, str]:
    """(peak bytes, name of the operator output at the peak)."""
    interp = interpreter(tflite_bytes)
    ops = interp._get_ops_details()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    produced = {int(i): n for n, op in enumerate(ops) for i in op["outputs"]}
    inputs = {t["index"] for t in interp.get_input_details()}
    outputs = {t["index"] for t in interp.get_output_details()}
    first, last = {}, {}
    for i in inputs:
        first[i], last[i] = 0, 0
    for n, op in enumerate(ops):
        for i in op["outputs"]:
            first.setdefault(int(i), n)
            last[int(i)] = max(last.get(int(i), n), n)
        for i in op["inputs"]:
            i = int(i)
            if i in produced or i in inputs:
                last[i] = max(last.get(i, n), n)
    for i in outputs:
        last[i] = len(ops) - 1
    peak, where = 0, ""
    for n, op in enumerate(ops):
        live = sum(_nbytes(tensors[i]) for i in first if first[i] <= n <= last[i])
        if live > peak:
            peak, where = live, tensors[int(op["outputs"][0])]["name"].split(";")[-1]
    return int(peak), where


def _nbytes(t) -> int:
    size = t["dtype"]().itemsize
    for d in t["shape"]:
        size *= int(d)
    return size
