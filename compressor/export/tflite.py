"""Full-integer int8 TFLite conversion (int8 input and output) and its check against the Keras model."""

import warnings

import numpy as np

from ..errors import BadInput, UnsupportedLayer


def to_int8_tflite(model, calibration: np.ndarray) -> bytes:
    """Convert with the TFLite converter, calibrated on `calibration` (a batch of float model inputs)."""
    import tensorflow as tf

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    from .tflm import captured_stderr

    try:
        with captured_stderr(), warnings.catch_warnings():   # the MLIR converter's op summary is not for users
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as e:  # the converter's message is pages long; its first "error:" line names the op
        raise UnsupportedLayer(f"model '{model.name}': the int8 TFLite converter failed: {_first_error(e)}") from None


def _first_error(e) -> str:
    for line in str(e).splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return (q.astype(np.float32) - zero) * scale


def run_tflite(tflite_bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the int8 model on float inputs `x` with the TFLite interpreter: (int8 inputs fed, int8 outputs)."""
    from ..analysis.counts import interpreter

    interp = interpreter(tflite_bytes)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    xq = quantize_input(x, inp)
    outputs = []
    for sample in xq:
        interp.set_tensor(inp["index"], sample[None])
        interp.invoke()
        outputs.append(interp.get_tensor(out["index"])[0])
    return xq, np.stack(outputs)


def output_detail(tflite_bytes) -> dict:
    from ..analysis.counts import interpreter

    return interpreter(tflite_bytes).get_output_details()[0]


def verify_against_keras(model, tflite_bytes, x: np.ndarray, classifier: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """Max |Keras - int8| in LSBs of the output scale and top-1 agreement for a classifier; also returns the int8
    inputs and outputs so TFLite Micro can be run on the same samples."""
    if len(model.outputs) != 1:
        raise BadInput(f"model '{model.name}': {len(model.outputs)} outputs; the MCU export handles one")
    reference = np.asarray(model.predict(x, verbose=0), dtype=np.float32)
    xq, yq = run_tflite(tflite_bytes, x)
    detail = output_detail(tflite_bytes)
    scale = float(detail["quantization"][0])
    y = dequantize(yq, detail).reshape(reference.shape)
    result = {"samples": int(len(x)), "output_scale": scale,
              "max_error_lsb": float(np.max(np.abs(y - reference)) / scale),
              "mean_error_lsb": float(np.mean(np.abs(y - reference)) / scale)}
    if classifier:
        ref, got = reference.reshape(len(x), -1), y.reshape(len(x), -1)
        agree = np.argmax(got, 1) == np.argmax(ref, 1)
        top2 = np.sort(ref, 1)[:, -2:]
        # samples whose top two Keras scores are within 2 output LSBs are ties at int8 resolution
        decisive = (top2[:, 1] - top2[:, 0]) > 2 * scale
        result["top1_agreement"] = float(np.mean(agree))
        result["top1_agreement_decisive"] = float(np.mean(agree[decisive])) if decisive.any() else 1.0
        result["decisive_samples"] = int(decisive.sum())
    return result, xq, yq
