"""Run the int8 model in the TensorFlow Lite Micro interpreter and measure the tensor arena it needs."""

import os
import re
import tempfile
from contextlib import contextmanager

import numpy as np

from ..errors import UnsupportedLayer


@contextmanager
def captured_stderr():
    """TFLM's C++ code prints to file descriptor 2 (not sys.stderr): redirect the descriptor to a file."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        text = []
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            text.append(f.read().decode(errors="replace"))


def load(tflite_bytes):
    """A TFLM interpreter; an operator TFLM has no kernel for raises UnsupportedLayer naming it."""
    from tflite_micro.python.tflite_micro import runtime

    with captured_stderr() as log:
        try:
            return runtime.Interpreter.from_bytes(bytes(tflite_bytes))
        except RuntimeError as e:
            error = e
    missing = re.findall(r"opcode '([^']+)'", log[0])
    if missing:
        raise UnsupportedLayer(f"TFLite Micro has no kernel for operator {missing[0]}") from None
    raise UnsupportedLayer(f"TFLite Micro cannot load the model: {error}; {log[0].strip()[:200]}") from None


def arena_bytes(interp) -> int:
    with captured_stderr() as log:
        interp.print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", log[0])
    if not found:
        raise RuntimeError(f"tflite-micro print_allocations gave no arena total: {log[0][:200]!r}")
    return int(found.group(1))


def run_tflm(tflite_bytes, xq: np.ndarray) -> tuple[np.ndarray, int]:
    """Outputs of TFLM on int8 inputs `xq` (a batch), and the measured arena in bytes."""
    interp = load(tflite_bytes)
    outputs = []
    for sample in xq:
        interp.set_input(sample[None], 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0))[0])
    return np.stack(outputs), arena_bytes(interp)
