"""An int8 `.tflite` the user already has (or a 16x8 one: int16 activations, int8 weights), in place of a Keras
model: analyze it and deliver it, never converting.

    run = compressor.analyze("kws_int8.tflite", "cortex-m4")               # api.analyze / api.compress hand a
    run = compressor.compress("kws_int8.tflite", "cortex-m4", out="out/kws")  # .tflite (or its bytes) to this module

The figures are the Keras path's, measured on the same flatbuffer (export.int8.flatbuffer_figures: NeSsi counts,
the TFLite Micro arena, latency and energy); the check is TFLite Micro vs the TFLite interpreter
(export.int8.tflm_agreement) - there is no Keras model to compare with. Refused in one line before any work: a float
flatbuffer (pass the Keras model: compress converts it to full-integer int8 itself), one that is not int8 (or int16)
in and out, a truncated or corrupt file, an FPGA target (hls4ml builds its design from the Keras/QKeras model).

api passes its budget judge and report writer in (`judge`, `write_record`), so this module never imports api.
"""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import data_arrays
from .analysis import budgets as budget_rules
from .errors import BadInput, Interrupted, UnsupportedLayer
from .figures import counted
from .record import Run, RunRecord
from .targets import load_target

SUFFIX = ".tflite"
IDENTIFIER = b"TFL3"      # the TFLite schema's file identifier, bytes 4-8 of every flatbuffer the converter writes
FLOAT_TYPES = ("float16", "float32", "float64")


def is_tflite(model_or_path) -> bool:
    """True for a path ending in .tflite and for flatbuffer bytes: what this module takes instead of a Keras model."""
    if isinstance(model_or_path, (bytes, bytearray, memoryview)):
        return True
    return isinstance(model_or_path, (str, Path)) and Path(model_or_path).suffix.lower() == SUFFIX


@dataclasses.dataclass
class Flatbuffer:
    """A checked int8 flatbuffer and what the record says about it."""
    data: bytes
    where: str            # the file, or "the .tflite bytes": what a one-line refusal names
    model: dict           # the record's model section
    input: dict           # the TFLite interpreter's input details (scale / zero point under "quantization")


def analyze(model_or_path, target, budgets=None, data=None, command=None, kernels=None, hls_config=None, *,
            judge) -> Run:
    """api.analyze for an int8 flatbuffer on an MCU target: counts (NeSsi), the TFLite Micro arena (measured),
    latency and energy (estimated), judged by `judge(record, target, budgets)`. Nothing written; `data` is only
    checked against the input shape (a quantized flatbuffer needs no calibration)."""
    target = _mcu_target(target, model_or_path, "--hls-config" if hls_config is not None else None)
    kernels = _kernels(target, kernels)
    budgets = budget_rules.normalize(budgets, "budgets")
    fb = read(model_or_path)
    record = _start(fb, target, command, kernels)
    if data is not None:
        _inputs(fb, data, record)
        record.warn("--data is not used by analyze of an int8 .tflite: the flatbuffer is already quantized and its "
                    "figures come from its graph (compress checks TFLite Micro on the data)")
    _add_figures(record, fb, target, kernels)
    judge(record, target, budgets)
    record["status"] = "complete"
    return Run(record, {})


def compress(model_or_path, target, data=None, out=None, budgets=None, command=None, kernels=None, recipe=None,
             frontend=None, *, judge, write_record) -> Run:
    """api.compress for an int8 flatbuffer (no recipe, no front end): model_int8.tflite (the flatbuffer as given),
    model_data.cc / .h and the reports in `out`, after checking TFLite Micro against the TFLite interpreter on
    `data` (inputs, quantized with the input tensor's scale and zero point) or, without data, on synthetic inputs -
    the record says which."""
    from . import atomic
    from .export import carray, tflite
    from .export.int8 import VERIFY_SAMPLES, tflite_name, tflm_agreement

    target = _mcu_target(target, model_or_path)
    where = model_or_path if isinstance(model_or_path, (str, Path)) else "the .tflite bytes"
    if recipe is not None:
        raise BadInput(f"{where}: a recipe quantizes and trains a Keras model; an int8 .tflite is delivered as it is "
                       "(pass the Keras model to run a recipe on it)")
    if frontend is not None:
        raise BadInput(f"{where}: a front end turns audio into a Keras model's inputs; with a .tflite, --data takes "
                       "the model's inputs (.npy, or .npz with x)")
    kernels = _kernels(target, kernels)
    budgets = budget_rules.normalize(budgets, "budgets")
    named = Path(model_or_path).stem if isinstance(model_or_path, (str, Path)) else "model"
    out = Path(out) if out else Path("out") / named
    atomic.check_output_folder(out)     # before any work
    fb = read(model_or_path)
    outputs = fb.model["output_shape"]
    if fb.model["task"] == "multi-output":
        raise BadInput(f"{fb.where}: {len(outputs)} outputs; the MCU export verifies a single-output model: save each "
                       "head as its own model (`compress analyze` gives the counts and memory of the whole)")
    record = _start(fb, target, command, kernels)
    x = _inputs(fb, data, record)[:VERIFY_SAMPLES]
    scale, zero = fb.input["quantization"]
    record["data"]["quantized"] = f"with the input tensor's scale {scale:.6g} and zero point {zero}"
    if data is None:
        record.warn(f"no --data: TFLite Micro was checked against the TFLite interpreter on {len(x)} synthetic "
                    "standard-normal inputs quantized with the input tensor's scale and zero point; real inputs "
                    "exercise the model as deployed")
    _add_figures(record, fb, target, kernels)

    started = time.time()
    xq, yq = tflite.run_tflite(fb.data, x)
    by = f"{len(x)} {'synthetic' if data is None else 'data'} samples"
    metric, row = _tflm_named(fb, lambda: tflm_agreement(fb.data, xq, yq, by))
    record.add_checks([row])
    failures = [budget_rules.describe(row)] if row["verdict"] == "fail" else []
    record.add_step("verify", "check", seconds=round(time.time() - started, 2),
                    metrics={"tflm_vs_tflite_lsb": metric}, notes=failures)
    judge(record, target, budgets)

    # every check has run: now write, each file atomically
    name = tflite_name(tflite.activations_of(fb.data))
    record.add_artifacts({name: name, "model_data.cc": "model_data.cc", "model_data.h": "model_data.h",
                          "report.json": "report.json"})
    atomic.write_bytes(out / name, fb.data)
    carray.write_c_array(fb.data, out)
    record["status"] = "complete"
    write_record(record, out)
    return Run(record, {}, out)   # a failed check makes the verdict "unverified"


def read(model_or_path) -> Flatbuffer:
    """The flatbuffer checked: it parses, the TFLite interpreter loads it, it is int8 in and out with integer
    weights, one input. Each refusal is one line naming the file."""
    if isinstance(model_or_path, (str, Path)):
        path = Path(model_or_path)
        if not path.is_file():
            raise BadInput(f"{path}: no such model file")
        data, where, name, source = path.read_bytes(), str(path), path.stem, str(path)
    else:
        data, where, name, source = bytes(model_or_path), "the .tflite bytes", "model", None
    interp = _interpreter(data, where)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    floats = [t["name"] for t in interp.get_tensor_details() if np.dtype(t["dtype"]).name in FLOAT_TYPES]
    io_floats = [d for d in inputs + outputs if np.dtype(d["dtype"]).name in FLOAT_TYPES]
    if io_floats or floats:
        said = (f"{np.dtype(io_floats[0]['dtype']).name} input/output" if io_floats
                else f"{len(floats)} float tensor(s) inside, first '{floats[0]}'")
        raise BadInput(f"{where}: a float TFLite model ({said}); pass the Keras model instead (compress converts it to "
                       "full-integer int8 itself)")
    kind = np.dtype(inputs[0]["dtype"]).name if inputs else "int8"
    other = next((d for d in inputs + outputs if np.dtype(d["dtype"]).name != kind or kind not in ("int8", "int16")),
                 None)
    if other is not None:
        raise BadInput(f"{where}: tensor '{other['name']}' is {np.dtype(other['dtype']).name}; compress takes "
                       "full-integer flatbuffers, int8 input and output (or int16 in 16x8 mode) - or pass the Keras "
                       "model")
    if len(inputs) != 1:
        raise BadInput(f"{where}: {len(inputs)} inputs ({', '.join(d['name'] for d in inputs)}); analysis and export "
                       "take single-input models (e.g. the encoder, or a streaming step)")
    in_shape = _shape(inputs[0])
    out_shapes = [_shape(d) for d in outputs]
    return Flatbuffer(data, where, {
        "name": name, "source": source, "family": None,
        "task": _task(in_shape, out_shapes), "input_shape": in_shape,
        "output_shape": out_shapes[0] if len(out_shapes) == 1 else out_shapes}, inputs[0])


def _interpreter(data: bytes, where: str):
    """The TFLite interpreter on `data`, or a BadInput naming the file. TFLite's interpreter does not verify a
    flatbuffer: truncated or damaged bytes can crash this process (SIGSEGV). So the bytes are first unpacked in
    Python (reads past the end raise), then loaded once in a child process whose crash becomes the refusal."""
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise BadInput(f"{where}: not a TFLite flatbuffer (no '{IDENTIFIER.decode()}' identifier at byte 4); the "
                       "file is truncated or not a .tflite")
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        unpacked = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        graph = unpacked.subgraphs[0]
        int16 = bool(graph.inputs is not None and len(graph.inputs)) and \
            graph.tensors[graph.inputs[0]].type == schema.TensorType.INT16
    except Exception as e:   # struct.error, IndexError, ValueError ... from offsets pointing outside the bytes
        raise BadInput(f"{where}: corrupt TFLite flatbuffer ({_first_line(e)}); the file is truncated or "
                       "damaged") from None
    _crash_guard(data, where)
    if int16:   # TensorFlow's own interpreter aborts on some 16x8 operators the tflite_runtime one above refuses
        from .export.tflite import probe_in_child
        probe_in_child(data, where)
    from .analysis.counts import interpreter

    try:
        return interpreter(data)
    except Exception as e:   # the interpreter's own checks: ValueError / RuntimeError with its reason
        raise BadInput(f"{where}: the TFLite interpreter cannot load it ({_first_line(e)})") from None


_PROBE = """import sys
try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from tensorflow.lite import Interpreter
data = sys.stdin.buffer.read()
try:
    Interpreter(model_content=data).allocate_tensors()
    from tflite_micro.python.tflite_micro import runtime
    runtime.Interpreter.from_bytes(data, arena_size=4 * 1024 * 1024)
except Exception:
    pass   # a reason the parent gives again, in one line: only a crash matters here
"""


def _crash_guard(data: bytes, where: str):
    """Load the flatbuffer in the TFLite interpreter (tflite_runtime), then TFLite Micro, in a child process
    (~0.5 s); dying by a signal there is a refusal here. Of 400 randomly damaged copies of a small CNN, 94 passed the
    Python unpacking and one of those crashed the interpreter."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    child = subprocess.run([sys.executable, "-c", _PROBE], input=data, env=env, capture_output=True)
    if child.returncode in (-signal.SIGINT, -signal.SIGTERM):   # the user's Ctrl-C reached the child too
        raise Interrupted(f"stopped by {signal.Signals(-child.returncode).name} while loading {where}")
    if child.returncode < 0:
        raise BadInput(f"{where}: corrupt TFLite flatbuffer (loading it crashed the interpreter: "
                       f"{signal.Signals(-child.returncode).name}); the file is truncated or damaged")


def _first_line(e) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _shape(detail) -> list:
    """The tensor's shape as Keras writes one: a dynamic dimension (-1) is None."""
    return [None if int(d) < 0 else int(d) for d in detail["shape_signature"]]


def _task(in_shape, out_shapes) -> str:
    """As api._task infers it from a Keras model's shapes."""
    if len(out_shapes) > 1:
        return "multi-output"
    out, inp = tuple(out_shapes[0][1:]), tuple(in_shape[1:])
    if out == inp:
        return "autoencoder"
    return "classification" if len(out) == 1 and out[0] and out[0] > 1 else "regression"


def _mcu_target(target, model_or_path, fpga_only_option=None):
    target = load_target(target) if isinstance(target, (str, Path)) else target
    where = model_or_path if isinstance(model_or_path, (str, Path)) else "the .tflite bytes"
    if target.kind != "mcu":
        raise BadInput(f"{where}: target '{target.name}' is an FPGA; hls4ml builds its design from the Keras / QKeras "
                       "model, not a .tflite: pass the Keras model")
    if fpga_only_option:
        raise BadInput(f"{fpga_only_option}: target '{target.name}' is a microcontroller; an hls4ml configuration "
                       "prices an FPGA design")
    return target


def _kernels(target, kernels):
    """The MCU kernel library of the latency model, checked before any work (None: the target's default)."""
    if kernels is not None:
        from .analysis.mcu import calibration
        calibration(target, kernels)     # unknown library, or no measurement on this core: BadInput naming both
    return kernels


def _start(fb: Flatbuffer, target, command, kernels) -> RunRecord:
    record = RunRecord(command, target=dataclasses.asdict(target), model=dict(fb.model))
    if kernels:
        record["target"]["kernels"] = kernels
    return record


def _inputs(fb: Flatbuffer, data, record) -> np.ndarray:
    """Float model inputs (`data`: a file, an array, or None for synthetic ones), recorded under record['data']."""
    shape = fb.model["input_shape"]
    if data is None:
        from .export.int8 import VERIFY_SAMPLES
        x = data_arrays.synthetic_inputs(shape, n=VERIFY_SAMPLES)
        record["data"] = {"source": "synthetic", "shapes": {"x": list(x.shape)}}
        return x
    changes = []                            # a batch axis added, a dtype cast: in the record, never silent
    if isinstance(data, np.ndarray):
        x = data_arrays.check_inputs(data, shape, "data", changes)
        record["data"] = {"source": "array", "shapes": {"x": list(x.shape)}, "changes": changes}
    else:
        x = data_arrays.load_inputs(data, shape, changes)
        record["data"] = {"source": str(data), "shapes": {"x": list(x.shape)}, "changes": changes}
    return x


def _tflm_named(fb: Flatbuffer, work):
    """`work()`, with TFLite Micro's refusal (an operator it has no kernel for) naming the file."""
    try:
        return work()
    except UnsupportedLayer as e:
        raise UnsupportedLayer(f"{fb.where}: {e}") from None


def _add_figures(record, fb: Flatbuffer, target, kernels):
    """The flatbuffer's figures on the target (export.int8.flatbuffer_figures), its layer rows and its step."""
    from .export.int8 import flatbuffer_figures

    result = _tflm_named(fb, lambda: flatbuffer_figures(fb.data, target, kernels))
    record.add_figures({"params": counted(result.figures["tflite_params"]["value"], "",
                                          "constant tensors of compute operators (int8 TFLite, DCASE NeSsi rules)"),
                        **result.figures})
    record.set_layers(result.layers)
    for step in result.steps:
        record.add_step(**step)
