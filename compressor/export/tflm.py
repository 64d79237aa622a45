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


HOST_ARENA_BYTES = 4 * 1024 * 1024   # the host interpreter's first arena; the arena measured is what the model uses


def load(tflite_bytes):
    """A TFLM interpreter; an operator TFLM has no kernel for raises UnsupportedLayer naming it.

    The runtime's default arena is 10x the flatbuffer, too small for a model with few weights and large activations
    (a raw-waveform input): when TFLM reports how many bytes are missing, try again with that much more."""
    from tflite_micro.python.tflite_micro import runtime

    size = max(10 * len(tflite_bytes), HOST_ARENA_BYTES)
    for _ in range(3):
        with captured_stderr() as log:
            try:
                return runtime.Interpreter.from_bytes(bytes(tflite_bytes), arena_size=size)
            except RuntimeError as e:
                error = e
        short = re.search(r"missing: (\d+)", log[0])
        if not short:
            break
        size += int(short.group(1)) + 64 * 1024
    missing = re.findall(r"opcode '([^']+)'", log[0])
    if missing:
        raise UnsupportedLayer(f"TFLite Micro has no kernel for operator {missing[0]}") from None
    said = "; ".join(line.strip() for line in log[0].splitlines() if line.strip())[:300]   # one line for the user
    raise UnsupportedLayer(f"TFLite Micro cannot load the model: {error}; {said}") from None


def arena_bytes(interp) -> int:
    with captured_stderr() as log:
        interp.print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", log[0])
    if not found:
        raise RuntimeError(f"tflite-micro print_allocations gave no arena total: {log[0][:200]!r}")
    return int(found.group(1))


def run_tflm(tflite_bytes, xq: np.ndarray) -> tuple[np.ndarray, int]:
    """Outputs of TFLM on int8 inputs `xq` (a batch) - its first output tensor (run_tflm_outputs gives every one) -
    and the measured arena in bytes."""
    outputs, arena = run_tflm_outputs(tflite_bytes, xq, 1)
    return outputs[0], arena


def run_tflm_outputs(tflite_bytes, xq: np.ndarray, n_outputs: int) -> tuple[list, int]:
    """The first `n_outputs` output tensors of TFLM on int8 inputs `xq` (a batch), in the flatbuffer's order (the
    TFLite interpreter's output_details order), and the measured arena in bytes."""
    interp = load(tflite_bytes)
    outputs = [[] for _ in range(n_outputs)]
    for sample in xq:
        interp.set_input(sample[None], 0)
        interp.invoke()
        for i, got in enumerate(outputs):
            got.append(np.array(interp.get_output(i))[0])
    return [np.stack(got) for got in outputs], arena_bytes(interp)
