"""Int8 TFLite for a Cortex-M, checked in this run: convert, count on the flatbuffer (NeSsi), measure the TFLite
Micro arena, estimate latency and energy, then verify Keras vs the TFLite interpreter vs TFLite Micro.
`activations="int16"` makes the same export in TFLite's 16x8 mode (int16 activations, int8 weights; tflite.py).

    result = int8_export(model, x_calibration, x_verify, target, classifier=True, data_label="data")

A model with several outputs is checked output by output (each in its own output LSBs, one row each).
The result holds what the run record gets (figures, layer rows, check rows, the two steps); the caller adds it.
"""

import dataclasses
import time

import numpy as np

from ..analysis import budgets, counts, mcu, mcu_features, memory
from ..figures import counted, estimated, measured

CALIBRATION_SAMPLES = 200    # representative set for the converter
VERIFY_SAMPLES = 32          # samples run through Keras, TFLite and TFLite Micro
MAX_ERROR_LSB = 16           # int8 vs Keras: beyond this many output LSBs the export is wrong, not just rounded
MIN_TOP1_AGREEMENT = 0.9     # classifiers: fraction of samples whose top-1 class must agree
TFLM_MAX_DIFF_LSB = 4        # TFLite Micro vs TFLite: TFLM's reference softmax, rsqrt and mean kernels round apart
                             # from TFLite's optimized ones: 1 LSB on CNNs, 3 on the MAE student transformer
# 16x8: the tolerances above as the same fractions of the output range, in int16 output LSBs (256 to an int8 LSB)
INT16_LSB_PER_INT8_LSB = 256


@dataclasses.dataclass
class Int8Export:
    """What an int8 export adds to a run record: the caller merges figures, replaces layers, extends checks and
    steps (nothing here edits a record)."""
    tflite_bytes: bytes
    figures: dict                                           # name -> figure dict
    layers: list                                            # per-layer rows of the int8 flatbuffer (NeSsi)
    checks: list = dataclasses.field(default_factory=list)  # check rows (analysis.budgets.check_row)
    steps: list = dataclasses.field(default_factory=list)   # step entries: 'int8_tflite', then 'verify'
    failures: list = dataclasses.field(default_factory=list)  # failed checks, one line each


def mcu_figures(model, x, target, kernels=None, activations="int8") -> Int8Export:
    """Convert to int8 (int16 activations with activations="int16"), count on the flatbuffer (NeSsi), measure the
    TFLM arena, estimate latency and energy per operator (analysis/mcu.py; `kernels` overrides the target's default
    kernel library): an Int8Export with no checks yet and the 'int8_tflite' step. Each layer row gets its
    `latency_s`."""
    from . import tflite

    started = time.time()
    tflite_bytes = tflite.to_int8_tflite(model, x[:CALIBRATION_SAMPLES], activations)
    return flatbuffer_figures(tflite_bytes, target, kernels, calibrated_on=min(len(x), CALIBRATION_SAMPLES),
                              started=started)


def flatbuffer_figures(tflite_bytes, target, kernels=None, calibrated_on=None, started=None) -> Int8Export:
    """The figures of an int8 flatbuffer on an MCU target: NeSsi counts, the TFLite Micro arena (measured), peak
    activations, latency and energy per operator: an Int8Export with no checks yet and the 'int8_tflite' step.
    `calibrated_on`: how many samples the converter was calibrated on (None: the flatbuffer came as it is);
    `started`: when the step began (time.time(); default now). Each layer row gets its `latency_s`."""
    from . import tflite, tflm

    started = time.time() if started is None else started
    activations = tflite.activations_of(tflite_bytes)
    interp = tflm.load(tflite_bytes)   # fails here, naming the operator, if TFLM cannot run the model
    arena = tflm.arena_bytes(interp)
    rows = counts.tflite_layer_counts(tflite_bytes)
    total = counts.totals(rows)
    peak, at = memory.peak_activation_bytes(tflite_bytes)
    ops = mcu_features.operator_features(tflite_bytes)
    cost = mcu.estimate(ops, target, kernels, activations)
    compute = iter(rows)   # operator_features lists the counted operators in the same order as the layer rows
    others = []
    for op, seconds in zip(ops, cost["per_op_s"]):
        if op["type"] in counts.NESSI_OPS + counts.EXTRA_OPS:
            next(compute)["latency_s"] = seconds
        elif seconds:
            others.append((op["type"], seconds))
    nessi = f"{tflite.format_label(activations)} TFLite, DCASE NeSsi rules"
    figures = {
        "macs": counted(total["macs"], "MAC", nessi),
        "tflite_params": counted(total["params"], "", f"constant tensors of compute operators ({nessi})"),
        "weights_bytes": counted(total["bytes"], "bytes", f"constant tensors of compute operators ({nessi})"),
        "flash_bytes": counted(len(tflite_bytes), "bytes", f"size of {tflite_name(activations)}"),
        "arena_bytes": measured(arena, "bytes", "tflite-micro arena (print_allocations)"),
        "peak_activation_bytes": estimated(peak, "bytes", f"tensor lifetimes over the TFLite graph (peak at {at})"),
        "latency_s": cost["latency_s"],
        "energy_j": cost["energy_j"],
    }
    step = {"name": "int8_tflite", "kind": "export", "seconds": round(time.time() - started, 2), "metrics": {},
            "artifacts": {}, "notes": [
                f"{tflite.format_label(activations)}, calibrated on {calibrated_on} samples"
                if calibrated_on is not None else "the flatbuffer as given (already quantized; not converted)",
                f"MCU latency: {cost['kernels']} kernels, " + (
                    f"leave-one-model-out error band +-{cost['band'] * 100:.0f} %" if activations == "int8" else
                    "the int8 calibration extrapolated to int16 activations (no 16x8 measurement to fit to)")]}
    if others:
        step["notes"].append("latency outside the layer rows: " + ", ".join(
            f"{kind} {seconds * 1e3:.3g} ms" for kind, seconds in others))
    return Int8Export(tflite_bytes, figures, rows, steps=[step])


def int8_export(model, x_calibration, x_verify, target, *, classifier, data_label="data", kernels=None,
                activations="int8") -> Int8Export:
    """Convert `model` to full-integer int8 (int16 activations with activations="int16"), count it (NeSsi), measure
    the TFLite Micro arena, and check it in this run: Keras vs the TFLite interpreter (LSBs of the output scale,
    top-1 for classifiers) and TFLite Micro vs TFLite. A failed check is a row with verdict 'fail' and a line in
    `failures`, not an exception. A 16x8 model's LSB tolerances are the int8 ones scaled to its int16 outputs.

    A model with several outputs gets these rows for each output, in its own output LSBs, named
    'int8_max_error_lsb[<output>]' ... and titled 'int8 vs Keras (<output>)' ... (a single output keeps the plain
    names); the int8 outputs are matched to Keras' by name or shape (tflite.match_outputs), and the outputs checked
    for top-1 agreement are the softmax vectors (classifier_outputs; `classifier` speaks for a single output)."""
    from . import tflite, tflm

    result = mcu_figures(model, x_calibration, target, kernels, activations)
    started = time.time()
    label, per_lsb = tflite.format_label(activations), lsb_scale(activations)
    names = list(model.output_names)
    several = len(names) > 1
    classifiers = classifier_outputs(model) if several else (names if classifier else [])
    checks, xq, yqs = tflite.verify_outputs(model, result.tflite_bytes, x_verify[:VERIFY_SAMPLES], classifiers)
    by = f"{checks[0]['samples']} {data_label} samples"
    micro, _ = tflm.run_tflm_outputs(result.tflite_bytes, xq, len(names))
    metrics, rows = {}, []
    for check, yq in zip(checks, yqs):
        name = check["name"]   # rows of a single output keep their plain names and titles
        key, of, output, head = (f"[{name}]", f" ({name})", f", output '{name}'", f"{name}, ") if several else [""] * 4
        on = by + output
        metrics[f"max_error_lsb{key}"] = measured(round(check["max_error_lsb"], 3), "LSB",
                                                  f"Keras vs TFLite interpreter, {on}")
        metrics[f"mean_error_lsb{key}"] = measured(round(check["mean_error_lsb"], 3), "LSB", f"Keras vs TFLite, {on}")
        rows.append(budgets.check_row(f"int8_max_error_lsb{key}", f"{label} vs Keras{of}",
                                      metrics[f"max_error_lsb{key}"], MAX_ERROR_LSB * per_lsb, "<="))
        if "top1_agreement" in check:
            metrics[f"top1_agreement{key}"] = measured(check["top1_agreement"], "", f"argmax Keras vs TFLite, {on}")
            metrics[f"top1_agreement_decisive{key}"] = measured(
                check["top1_agreement_decisive"], "", f"argmax Keras vs TFLite{output}, the "
                f"{check['decisive_samples']} of {by} whose Keras top-2 gap exceeds 2 output LSBs")
            rows.append(budgets.check_row(f"int8_top1_agreement{key}",
                                          f"{label} vs Keras top-1 ({head}decisive samples)",
                                          metrics[f"top1_agreement_decisive{key}"], MIN_TOP1_AGREEMENT, ">="))
        tflm_metric, tflm_row = _tflm_row(micro[check["position"]], yq, on, key, of, TFLM_MAX_DIFF_LSB * per_lsb)
        metrics[f"tflm_vs_tflite_lsb{key}"] = tflm_metric
        rows.append(tflm_row)
    result.checks = rows
    result.failures = [budgets.describe(r) for r in rows if r["verdict"] == "fail"]
    notes = list(result.failures)
    if several:
        notes.insert(0, f"{len(names)} outputs, each checked in its own output LSBs: "
                     + ", ".join(f"'{c['name']}' (int8 output {c['position']}"
                                 + (", top-1" if "top1_agreement" in c else "") + ")" for c in checks))
    result.steps.append({"name": "verify", "kind": "check", "seconds": round(time.time() - started, 2),
                         "metrics": metrics, "artifacts": {}, "notes": notes})
    return result


def classifier_outputs(model) -> list[str]:
    """The names of the outputs that are class scores: a vector of more than one unit made by a softmax (a Softmax
    layer, an Activation('softmax') or a layer with activation='softmax'). Without labels the shapes cannot tell a
    logits head from a regression head of the same width, so those get the LSB checks only, not top-1."""
    found = []
    for name, tensor in zip(model.output_names, model.outputs):
        shape = tuple(tensor.shape[1:])
        if len(shape) == 1 and shape[0] and shape[0] > 1 and _ends_in_softmax(tensor):
            found.append(name)
    return found


def _ends_in_softmax(tensor) -> bool:
    layer = getattr(getattr(tensor, "_keras_history", None), "layer", None)
    while layer is not None and hasattr(layer, "layers") and getattr(layer, "outputs", None):   # a nested model
        layer = getattr(getattr(layer.outputs[0], "_keras_history", None), "layer", None)
    if layer is None:
        return False
    activation = getattr(layer, "activation", None)
    return type(layer).__name__ == "Softmax" or getattr(activation, "__name__", "") == "softmax"


def tflm_agreement(tflite_bytes, xq: np.ndarray, yq: np.ndarray, by: str) -> tuple[dict, dict]:
    """TFLite Micro run on the int8 inputs `xq` against the TFLite interpreter's int8 outputs `yq` on the same inputs
    (the first output): (the measured max difference in output LSBs, its check row against TFLM_MAX_DIFF_LSB, in
    int16 LSBs for a 16x8 model).
    `by` says on what."""
    from . import tflm
    from .tflite import activations_of

    micro, _ = tflm.run_tflm(tflite_bytes, xq)
    return _tflm_row(micro, yq, by, limit=TFLM_MAX_DIFF_LSB * lsb_scale(activations_of(tflite_bytes)))


def _tflm_row(micro: np.ndarray, yq: np.ndarray, by: str, key="", of="",
              limit=TFLM_MAX_DIFF_LSB) -> tuple[dict, dict]:
    diff = int(np.max(np.abs(micro.astype(np.int32) - yq.reshape(micro.shape).astype(np.int32))))
    metric = measured(diff, "LSB", f"TFLite Micro vs TFLite interpreter, {by}")
    return metric, budgets.check_row(f"tflm_vs_tflite_lsb{key}", f"TFLite Micro vs TFLite{of}", metric, limit, "<=")


def lsb_scale(activations) -> int:
    """Output LSBs of the format to one int8 LSB: what the LSB tolerances above are multiplied by."""
    return INT16_LSB_PER_INT8_LSB if activations == "int16" else 1


def tflite_name(activations="int8") -> str:
    """The exported flatbuffer's file name: model_int8.tflite, or model_int16x8.tflite (16x8 mode)."""
    return "model_int16x8.tflite" if activations == "int16" else "model_int8.tflite"
