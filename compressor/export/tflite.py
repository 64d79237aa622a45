"""Full-integer TFLite conversion and its check against the Keras model, each output against its Keras output
(matched by name through the serving signature, or by shape: the converter may reorder them).

Two integer formats, both with int8 weights: `int8` activations (TFLite's default full-integer quantization, int8
input and output) and `int16` activations (TFLite's 16x8 mode, int16 input and output, int64 biases), which TFLite
Micro runs where its kernels take int16 (convolutions, fully connected, pooling, softmax ...; a model with another
operator fails to load there, naming it)."""

import os
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import BadInput, Interrupted, UnsupportedLayer, VerificationFailed


ACTIVATIONS = ("int8", "int16")   # the activation formats (weights are int8 in both)


def activations_of(tflite_bytes) -> str:
    """'int16' for a 16x8 flatbuffer (int16 input), else 'int8'."""
    from ..analysis.counts import interpreter

    return "int16" if interpreter(tflite_bytes).get_input_details()[0]["dtype"] == np.int16 else "int8"


def format_label(activations: str) -> str:
    """What reports call the format: 'int8', or 'int16x8' (int16 activations, int8 weights)."""
    return "int16x8" if activations == "int16" else "int8"


def operator_names(tflite_bytes) -> list[str]:
    """The flatbuffer's operator kinds, sorted, each once (read without preparing the graph)."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=tflite_bytes, experimental_op_resolver_type=(
        tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    return sorted({op["op_name"] for op in interp._get_ops_details()})


def interpreter_label(tflite_bytes) -> str:
    """What ran a figure: 'int8 TFLite interpreter', or 'int16x8 TFLite interpreter'."""
    return f"{format_label(activations_of(tflite_bytes))} TFLite interpreter"


def to_int8_tflite(model, calibration: np.ndarray, activations: str = "int8") -> bytes:
    """Convert with the TFLite converter, calibrated on `calibration` (a batch of float model inputs), int8 weights
    and `activations` int8 or int16 (16x8 mode).

    The converter's calibrator can die by SIGSEGV on recurrent layers (GRU / SimpleRNN / Bidirectional at a fixed
    batch size: tensorflow#62281), taking the whole process with it. Those models convert in a fresh Python process,
    which adds ~4.5 s per conversion here (import TensorFlow, save and reload the model; same bytes) and turns the
    crash into a BadInput. Forking was measured and rejected: once this process has run one conversion, TensorFlow's
    session thread pool does not survive fork() and every forked conversion deadlocks. Models without a recurrent
    layer (the recipes' device models included) convert in this process, as before."""
    if activations not in ACTIVATIONS:
        raise BadInput(f"activations: {activations!r} is not a TFLite integer format (known: {', '.join(ACTIVATIONS)})")
    rnn = _recurrent_layer(model)
    converted = _convert_in_child(model, calibration, rnn, activations) if rnn is not None else None
    if converted is None:
        converted = _convert(model, calibration, activations)
    if activations == "int16":
        probe_in_child(converted, f"model '{model.name}'")
    return converted


def probe_in_child(tflite_bytes, label):
    """A 16x8 flatbuffer is prepared and run once by the TFLite interpreter and by TFLite Micro in a child process
    before this one touches it: on some operators without an int16 kernel (those of a LayerNormalization: RSQRT,
    SQUARED_DIFFERENCE ..., measured) both interpreters abort the whole process (SIGABRT, no message) instead of
    failing. A child killed by a signal becomes an UnsupportedLayer; any other failure is left to the interpreters
    in this process, which say what went wrong. `label` names the model in that error."""
    with tempfile.TemporaryDirectory(prefix="compressor-probe-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite_bytes)
        child = subprocess.run([sys.executable, "-c", "import sys; from compressor.export.tflite import _probe_main;"
                                " _probe_main(sys.argv[1])", str(path)],
                               env=_child_env(), stdin=subprocess.DEVNULL, capture_output=True)
    if child.returncode in (-signal.SIGINT, -signal.SIGTERM):   # the user's Ctrl-C reached the child too
        raise Interrupted(f"stopped by {signal.Signals(-child.returncode).name} while the int16x8 model was probed")
    if child.returncode < 0:
        ops = ", ".join(operator_names(tflite_bytes))
        raise UnsupportedLayer(f"{label}: the int16x8 model aborts the TFLite interpreters "
                               f"({signal.Signals(-child.returncode).name}): one of its operators ({ops}) has no "
                               "int16 kernel; export it as int8")


def _probe_main(path):
    """The child's side of probe_in_child."""
    from tflite_micro.python.tflite_micro import runtime

    from ..analysis.counts import interpreter

    tflite_bytes = Path(path).read_bytes()
    interpreter(tflite_bytes).invoke()
    runtime.Interpreter.from_bytes(tflite_bytes, arena_size=PROBE_ARENA_BYTES).invoke()


PROBE_ARENA_BYTES = 256 * 1024 * 1024   # the child's TFLite Micro arena: enough for any model it probes


def _child_env() -> dict:
    """The environment of a child Python that imports this package (from this checkout) and TensorFlow quietly."""
    package_root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}


def _recurrent_layer(model):
    """The first recurrent layer (RNN or Bidirectional), nested models and wrappers included, or None."""
    import tensorflow as tf

    rnn = (tf.keras.layers.RNN, tf.keras.layers.Bidirectional)
    return next((m for m in [model, *model.submodules] if isinstance(m, rnn)), None)


def _convert_in_child(model, calibration, rnn, activations):
    """Bytes converted by a child process, or None when the model cannot make the trip (does not save or reload):
    then it converts in this process, as it always did."""
    with tempfile.TemporaryDirectory(prefix="compressor-convert-") as tmp:
        folder = Path(tmp)
        try:
            model.save(folder / "model.keras")
        except Exception:   # a layer without get_config: nothing to hand over
            return None
        np.save(folder / "calibration.npy", np.asarray(calibration, np.float32))
        child = subprocess.run([sys.executable, "-c", "import sys; from compressor.export.tflite import _child_main;"
                                " sys.exit(_child_main(sys.argv[1], sys.argv[2]))", str(folder), activations],
                               env=_child_env(), stdin=subprocess.DEVNULL, capture_output=True)
        if child.returncode == 0:
            return (folder / "model.tflite").read_bytes()
        if child.returncode in (-signal.SIGINT, -signal.SIGTERM):   # the user's Ctrl-C reached the child too
            raise Interrupted(f"stopped by {signal.Signals(-child.returncode).name} during the int8 conversion")
        if child.returncode < 0:
            name = signal.Signals(-child.returncode).name
            fixed = " at a fixed batch size" if model.inputs[0].shape[0] is not None else ""
            raise UnsupportedLayer(
                f"model '{model.name}': the int8 TFLite converter crashed ({name}) on recurrent layer '{rnn.name}'"
                f"{fixed}, a known TFLite bug (tensorflow#62281); build the layer with unroll=True, or export a "
                "one-step model that calls its cell (as the effects recipe's streaming model does)")
        if child.returncode == _CHILD_REFUSED:
            raise UnsupportedLayer((folder / "error.txt").read_text())
        if child.returncode == _CHILD_CANNOT_LOAD:
            return None
        last = (child.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the int8 conversion process failed (exit {child.returncode}): {last}")


_CHILD_REFUSED, _CHILD_CANNOT_LOAD = 2, 3


def _child_main(folder, activations="int8") -> int:
    """The child's side of _convert_in_child: the same conversion, on the saved model."""
    from ..keras_io import load_model
    from ..errors import CompressorError

    folder = Path(folder)
    try:
        model = load_model(folder / "model.keras")
    except CompressorError:
        return _CHILD_CANNOT_LOAD
    try:
        tflite_bytes = _convert(model, np.load(folder / "calibration.npy"), activations)
    except CompressorError as e:
        (folder / "error.txt").write_text(str(e))
        return _CHILD_REFUSED
    (folder / "model.tflite").write_bytes(tflite_bytes)
    return 0


def _convert(model, calibration: np.ndarray, activations: str = "int8") -> bytes:
    import tensorflow as tf

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    if activations == "int16":
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    from .tflm import captured_stderr

    try:
        with captured_stderr(), warnings.catch_warnings():   # the MLIR converter's op summary is not for users
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as e:  # the converter's message is pages long; its first "error:" line names the op
        raise UnsupportedLayer(f"model '{model.name}': the {format_label(activations)} TFLite converter failed: "
                               f"{_first_error(e)}") from None


def _first_error(e) -> str:
    for line in str(e).splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float inputs in the input tensor's integer type (int8, or int16 in 16x8 mode)."""
    scale, zero = detail["quantization"]
    kind = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), kind.min, kind.max).astype(detail["dtype"])


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return (q.astype(np.float32) - zero) * scale


def run_tflite_outputs(tflite_bytes, x: np.ndarray) -> tuple[np.ndarray, list]:
    """Run the int8 model on float inputs `x` with the TFLite interpreter: (int8 inputs fed, [int8 outputs of each
    output tensor, in the flatbuffer's order - output_details' order, which need not be Keras' order])."""
    from ..analysis.counts import interpreter

    interp = interpreter(tflite_bytes)
    inp, outs = interp.get_input_details()[0], interp.get_output_details()
    xq = quantize_input(x, inp)
    outputs = [[] for _ in outs]
    for sample in xq:
        interp.set_tensor(inp["index"], sample[None])
        interp.invoke()
        for got, out in zip(outputs, outs):
            got.append(interp.get_tensor(out["index"])[0])
    return xq, [np.stack(got) for got in outputs]


def run_tflite(tflite_bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the int8 model on float inputs `x` with the TFLite interpreter: (int8 inputs fed, int8 outputs of its
    first output tensor; run_tflite_outputs gives every output)."""
    xq, outputs = run_tflite_outputs(tflite_bytes, x)
    return xq, outputs[0]


def output_detail(tflite_bytes) -> dict:
    """The first output tensor's details (output_details gives every output's)."""
    return output_details(tflite_bytes)[0]


def output_details(tflite_bytes) -> list[dict]:
    """Every output tensor's details (name, index, shape, quantization), in the flatbuffer's order."""
    from ..analysis.counts import interpreter

    return interpreter(tflite_bytes).get_output_details()


def signature_outputs(tflite_bytes) -> dict:
    """Output name -> tensor index from the flatbuffer's serving signature (the converter keys it by the Keras
    outputs' names); {} when the flatbuffer has no signature."""
    from ..analysis.counts import interpreter

    interp = interpreter(tflite_bytes)
    try:
        runners = interp.get_signature_list()
        if len(runners) != 1:
            return {}
        return {name: int(d["index"]) for name, d in
                interp.get_signature_runner(next(iter(runners))).get_output_details().items()}
    except (ValueError, KeyError, RuntimeError):
        return {}


def match_outputs(names, shapes, details, signature=None) -> list[int]:
    """For each Keras output (`names` and per-sample `shapes`, in Keras' order) the position of its tensor in
    `details` (the flatbuffer's outputs, which the converter may order differently, e.g. by name). By name through
    the serving `signature` (name -> tensor index) when it names every output; else by shape where each shape is
    unique; two same-shaped outputs without names cannot be told apart: VerificationFailed, never a guess."""
    shapes = [tuple(int(d) for d in s) for s in shapes]
    got = [tuple(int(d) for d in np.asarray(d["shape"])[1:]) for d in details]
    if len(names) != len(details):
        raise VerificationFailed(f"the int8 model has {len(details)} outputs, the Keras model {len(names)} "
                                 f"({', '.join(names)})")
    position = {int(d["index"]): p for p, d in enumerate(details)}
    signature = signature or {}
    if all(n in signature and signature[n] in position for n in names):
        order = [position[signature[n]] for n in names]
        how = "by name"
    else:
        order = [got.index(s) if shapes.count(s) == 1 and got.count(s) == 1 else None for s in shapes]
        ambiguous = [n for n, p in zip(names, order) if p is None]
        if ambiguous:
            raise VerificationFailed(f"cannot tell which int8 output is Keras output {', '.join(ambiguous)}: the "
                                     "flatbuffer names none of them and their shapes are not unique")
        how = "by shape"
    if sorted(order) != list(range(len(details))):
        raise VerificationFailed(f"Keras outputs {', '.join(names)} matched int8 outputs {order} ({how}): not one "
                                 "each")
    for n, s, p in zip(names, shapes, order):
        if got[p] != s:
            raise VerificationFailed(f"Keras output '{n}' has shape {s}, the int8 output matched to it {how} "
                                     f"{got[p]}")
    return order


def keras_outputs(model) -> tuple[list, list]:
    """(names, per-sample shapes) of the Keras model's outputs, in its order."""
    shapes = model.output_shape if len(model.outputs) > 1 else [model.output_shape]
    return list(model.output_names), [tuple(s[1:]) for s in shapes]


def compare_output(reference: np.ndarray, yq: np.ndarray, detail: dict, classifier: bool) -> dict:
    """One output: max and mean |Keras - int8| in LSBs of its own output scale; top-1 agreement for a classifier."""
    scale = float(detail["quantization"][0])
    y = dequantize(yq, detail).reshape(reference.shape)
    n = len(reference)
    result = {"samples": int(n), "output_scale": scale,
              "max_error_lsb": float(np.max(np.abs(y - reference)) / scale),
              "mean_error_lsb": float(np.mean(np.abs(y - reference)) / scale)}
    if classifier:
        ref, got = reference.reshape(n, -1), y.reshape(n, -1)
        agree = np.argmax(got, 1) == np.argmax(ref, 1)
        top2 = np.sort(ref, 1)[:, -2:]
        # samples whose top two Keras scores are within 2 output LSBs are ties at int8 resolution
        decisive = (top2[:, 1] - top2[:, 0]) > 2 * scale
        result["top1_agreement"] = float(np.mean(agree))
        result["top1_agreement_decisive"] = float(np.mean(agree[decisive])) if decisive.any() else 1.0
        result["decisive_samples"] = int(decisive.sum())
    return result


def verify_outputs(model, tflite_bytes, x: np.ndarray, classifiers=(), order=None) -> tuple[list, np.ndarray, list]:
    """Each Keras output against the int8 output matched to it (match_outputs; `order` overrides the matching):
    ([result of compare_output with its 'name' and flatbuffer 'position', in Keras' order], the int8 inputs fed,
    [int8 outputs in Keras' order]). `classifiers`: the names of the outputs to check for top-1 agreement."""
    names, shapes = keras_outputs(model)
    predicted = model.predict(x, verbose=0)
    references = [np.asarray(r, dtype=np.float32) for r in (predicted if len(names) > 1 else [predicted])]
    xq, outputs = run_tflite_outputs(tflite_bytes, x)
    details = output_details(tflite_bytes)
    if order is None:
        order = [0] if len(names) == 1 else match_outputs(names, shapes, details, signature_outputs(tflite_bytes))
    results = [{"name": name, "position": p, **compare_output(ref, outputs[p], details[p], name in classifiers)}
               for name, ref, p in zip(names, references, order)]
    return results, xq, [outputs[p] for p in order]


def verify_against_keras(model, tflite_bytes, x: np.ndarray, classifier: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """Max |Keras - int8| in LSBs of the output scale and top-1 agreement for a classifier; also returns the int8
    inputs and outputs so TFLite Micro can be run on the same samples. One output; verify_outputs checks several."""
    if len(model.outputs) != 1:
        raise BadInput(f"model '{model.name}': {len(model.outputs)} outputs ({', '.join(model.output_names)}); "
                       "verify_against_keras checks a single output (verify_outputs checks each)")
    results, xq, yq = verify_outputs(model, tflite_bytes, x, model.output_names if classifier else ())
    result = {k: v for k, v in results[0].items() if k not in ("name", "position")}
    return result, xq, yq[0]
