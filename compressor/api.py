"""The Python API behind the CLI: analyze a Keras model for a target, or compress it to int8 TFLite for a Cortex-M.

    record = compressor.api.analyze("kws.keras", "cortex-m4", budgets={"macs": 30e6})
    record = compressor.api.compress_model("kws.keras", "cortex-m4", data="inputs.npz", out="out/kws")

Both return the run record (compressor/report/record.py): record["verdict"] is "unverified" when a check of the
int8 model failed (record["checks"] names it), "fail" when a budget fails, "pass" otherwise.
"""

import dataclasses
import re
import time
import zipfile
from pathlib import Path

import numpy as np

from . import data_arrays
from .analysis import budgets as budget_rules
from .analysis import counts, mcu, memory
from .errors import BadInput
from .figures import counted, estimated, measured
from .report.record import new_record
from .targets import load_target

CALIBRATION_SAMPLES = 200    # representative set for the converter
VERIFY_SAMPLES = 32          # samples run through Keras, TFLite and TFLite Micro
MAX_ERROR_LSB = 16           # int8 vs Keras: beyond this many output LSBs the export is wrong, not just rounded
MIN_TOP1_AGREEMENT = 0.9     # classifiers: fraction of samples whose top-1 class must agree
TFLM_MAX_DIFF_LSB = 4        # TFLite Micro vs TFLite: TFLM's reference softmax, rsqrt and mean kernels round apart
                             # from TFLite's optimized ones: 1 LSB on CNNs, 3 on the MAE student transformer


def load_model(path):
    """A Keras model from a .keras / .h5 file or SavedModel folder, QKeras and tfmot layers included."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: no such model file")
    if path.suffix == ".keras" and path.is_file() and not zipfile.is_zipfile(path):
        # Keras would fall back to reading it as HDF5 and report "file signature not found"
        raise BadInput(f"{path}: not a Keras model (a .keras file is a zip archive; this one is truncated or "
                       "not a zip)")
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    from qkeras.utils import _add_supported_quantized_objects

    custom = {}
    _add_supported_quantized_objects(custom)
    try:
        with tfmot.sparsity.keras.prune_scope():
            model = tf.keras.models.load_model(path, custom_objects=custom, compile=False)
    except Exception as e:
        raise BadInput(f"{path}: not a Keras model ({_first_sentences(str(e)) or type(e).__name__})") from None
    if not isinstance(model, tf.keras.Model):
        raise BadInput(f"{path}: not a Keras model")
    # a corrupt file can load with NaN weights: every figure after that would be meaningless
    bad = {w.name: int(np.size(v) - np.isfinite(v).sum()) for w in model.weights for v in [w.numpy()]
           if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()}
    if bad:
        raise BadInput(f"{path}: {sum(bad.values())} NaN or infinite weight value(s), first in "
                       f"'{next(iter(bad))}'; the file is corrupt or the training diverged")
    return model


def _first_sentences(text, limit=300) -> str:
    """`text` on one line, cut after the last whole sentence within `limit` characters (a single longer sentence:
    at a word boundary, with "..."), so a Keras message is never cut mid-word."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    shown = sentences[0]
    for sentence in sentences[1:]:
        if len(shown) + 1 + len(sentence) > limit:
            break
        shown += " " + sentence
    if len(shown) > limit:
        shown = shown[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return shown


def _task(model) -> str:
    if len(model.outputs) > 1:   # output_shape is then a list of shapes
        return "multi-output"
    out, inp = tuple(model.output_shape[1:]), tuple(model.input_shape[1:])
    if out == inp:
        return "autoencoder"
    return "classification" if len(out) == 1 and out[0] and out[0] > 1 else "regression"


def _start(model, source, target, command) -> dict:
    if len(model.inputs) != 1:
        raise BadInput(f"model '{model.name}': {len(model.inputs)} inputs ({', '.join(t.name for t in model.inputs)});"
                       " analysis and export take single-input models (e.g. the encoder, or a streaming step)")
    record = new_record(command)
    record["model"] = {"name": model.name, "source": str(source) if source else None, "family": None,
                       "task": _task(model), "input_shape": list(model.input_shape),
                       "output_shape": list(model.output_shape)}
    record["target"] = dataclasses.asdict(target)
    return record


def _inputs(model, data, record, synthetic=32) -> np.ndarray:
    if data is None:
        x = data_arrays.synthetic_inputs(model.input_shape, n=synthetic)
        record["warnings"].append(data_arrays.SYNTHETIC_WARNING.format(n=len(x)))
        record["data"] = {"source": "synthetic", "shapes": {"x": list(x.shape)}}
    elif isinstance(data, np.ndarray):
        changes = []                        # a batch axis added, a dtype cast: in the record, never silent
        x = data_arrays.check_inputs(data, model.input_shape, "data", changes)
        record["data"] = {"source": "array", "shapes": {"x": list(x.shape)}, "changes": changes}
    else:
        changes = []
        x = data_arrays.load_inputs(data, model.input_shape, changes)
        record["data"] = {"source": str(data), "shapes": {"x": list(x.shape)}, "changes": changes}
    return x


def _keras_step(model, record):
    rows = counts.keras_layer_counts(model)
    total = counts.totals(rows)
    record["steps"].append({"name": "keras_counts", "kind": "analysis", "seconds": None, "artifacts": {}, "notes": [],
                            "metrics": {"params": counted(total["params"], "", "keras weights, zeros included"),
                                        "zeros": counted(total["zeros"], "", "keras weights == 0"),
                                        "macs": counted(total["macs"], "MAC",
                                                        "qkeras.estimate for Q-layers, by layer type otherwise")}})
    record["figures"]["params"] = counted(total["params"], "", "keras weights (all, zeros included)")
    record["figures"]["zeros"] = counted(total["zeros"], "", "keras weights equal to 0")
    return rows, total


def _mcu_figures(model, x, target, record) -> tuple[bytes, object]:
    """Convert to int8, count on the flatbuffer (NeSsi), measure the TFLM arena, estimate latency and energy."""
    from .export import tflite, tflm

    started = time.time()
    tflite_bytes = tflite.to_int8_tflite(model, x[:CALIBRATION_SAMPLES])
    interp = tflm.load(tflite_bytes)   # fails here, naming the operator, if TFLM cannot run the model
    arena = tflm.arena_bytes(interp)
    rows = counts.tflite_layer_counts(tflite_bytes)
    total = counts.totals(rows)
    peak, at = memory.peak_activation_bytes(tflite_bytes)
    nessi = "int8 TFLite, DCASE NeSsi rules"
    record["layers"] = rows
    record["figures"].update({
        "macs": counted(total["macs"], "MAC", nessi),
        "tflite_params": counted(total["params"], "", f"constant tensors of compute operators ({nessi})"),
        "weights_bytes": counted(total["bytes"], "bytes", f"constant tensors of compute operators ({nessi})"),
        "flash_bytes": counted(len(tflite_bytes), "bytes", "size of model_int8.tflite"),
        "arena_bytes": measured(arena, "bytes", "tflite-micro arena (print_allocations)"),
        "peak_activation_bytes": estimated(peak, "bytes", f"tensor lifetimes over the TFLite graph (peak at {at})"),
        "latency_s": mcu.latency_s(total["macs"], target),
        "energy_j": mcu.energy_j(total["macs"], target),
    })
    record["steps"].append({"name": "int8_tflite", "kind": "export", "seconds": round(time.time() - started, 2),
                            "metrics": {}, "artifacts": {}, "notes": [f"calibrated on {min(len(x), CALIBRATION_SAMPLES)}"
                                                                      " samples"]})
    return tflite_bytes, interp


def _judge(record, target, budgets):
    limits = budget_rules.target_limits(target)
    if target.kind == "fpga":  # resources analyze_fpga could not estimate: it has already warned, not judged
        limits = {k: v for k, v in limits.items() if k in record["figures"]}
    return budget_rules.apply(record, {"target": limits, "cli": budgets or {}})


def analyze(model_or_path, target, budgets=None, data=None, command=None) -> dict:
    """Counts, memory, latency/energy estimates and the budget verdict of a Keras model on a target. No training."""
    target = load_target(target) if isinstance(target, (str, Path)) else target
    budgets = budget_rules.normalize(budgets, "budgets")
    source = model_or_path if isinstance(model_or_path, (str, Path)) else None
    model = load_model(model_or_path) if source else model_or_path
    record = _start(model, source, target, command)
    keras_rows, keras_total = _keras_step(model, record)
    if target.kind == "fpga":
        x = None if data is None else _inputs(model, data, record)
        from .analysis.fpga import analyze_fpga  # another module's job; loaded only for FPGA targets
        record["layers"] = [{k: v for k, v in r.items() if k != "macs_by"} for r in keras_rows]
        record["figures"]["macs"] = counted(keras_total["macs"], "MAC", "keras layers (qkeras.estimate / by type)")
        analyze_fpga(model, target, record, x_sample=None if data is None else x[:8])
    else:
        x = _inputs(model, data, record, synthetic=8)   # counts do not depend on calibration: keep it cheap
        _mcu_figures(model, x, target, record)
    _judge(record, target, budgets)
    record["status"] = "complete"
    return record


def compress_model(model_path, target, data=None, out=None, budgets=None, command=None) -> dict:
    """Int8 TFLite + TFLite Micro C array for an MCU target, checked in this run; everything lands in `out`."""
    from . import atomic
    from .export import carray

    target = load_target(target) if isinstance(target, (str, Path)) else target
    if target.kind != "mcu":
        raise BadInput(f"target '{target.name}' is an FPGA: FPGA export runs through a recipe "
                       "(compress --recipe ...); `compress analyze --target` estimates it")
    budgets = budget_rules.normalize(budgets, "budgets")
    out = Path(out) if out else Path("out") / Path(model_path).stem
    existing = next((p for p in (out, *out.parents) if p.exists()), None)   # refused before any work
    if existing is not None and not existing.is_dir():
        raise BadInput(f"--out {out}: {existing} is a file; the output must be a folder")
    model = load_model(model_path)
    if len(model.outputs) > 1:   # refused before converting: verification compares one output with Keras
        raise BadInput(f"{model_path}: model '{model.name}' has {len(model.outputs)} outputs "
                       f"({', '.join(model.output_names)}); the MCU export verifies a single-output model: save each "
                       "head as its own model (`compress analyze` gives the counts and memory of the whole)")
    record = _start(model, model_path, target, command)
    x = _inputs(model, data, record)
    _keras_step(model, record)
    data_label = "synthetic" if data is None else "data"
    tflite_bytes, _ = int8_export(model, x, x, target, record, data_label=data_label,
                                  classifier=record["model"]["task"] == "classification")
    _judge(record, target, budgets)

    # every check has run: now write, each file atomically
    record["artifacts"] = {"model_int8.tflite": "model_int8.tflite", "model_data.cc": "model_data.cc",
                           "model_data.h": "model_data.h", "report.json": "report.json"}
    atomic.write_bytes(out / "model_int8.tflite", tflite_bytes)
    carray.write_c_array(tflite_bytes, out)
    record["status"] = "complete"
    write_record(record, out)
    return record      # a failed check is in record["checks"] and makes the verdict "unverified"


def int8_export(model, x_calibration, x_verify, target, record, *, classifier, data_label="data"):
    """Convert `model` to full-integer int8, count it (NeSsi), measure the TFLite Micro arena, and check it in this
    run: Keras vs the TFLite interpreter (LSBs of the output scale, top-1 for classifiers) and TFLite Micro vs
    TFLite. Figures and both steps land in `record`; returns (flatbuffer, failed checks as one-line strings)."""
    from .export import tflite, tflm

    tflite_bytes, _ = _mcu_figures(model, x_calibration, target, record)
    started = time.time()
    check, xq, yq = tflite.verify_against_keras(model, tflite_bytes, x_verify[:VERIFY_SAMPLES], classifier)
    micro, _ = tflm.run_tflm(tflite_bytes, xq)
    tflm_diff = int(np.max(np.abs(micro.astype(np.int32) - yq.reshape(micro.shape).astype(np.int32))))
    by = f"{check['samples']} {data_label} samples"
    metrics = {"max_error_lsb": measured(round(check["max_error_lsb"], 3), "LSB", f"Keras vs TFLite interpreter, {by}"),
               "mean_error_lsb": measured(round(check["mean_error_lsb"], 3), "LSB", f"Keras vs TFLite, {by}"),
               "tflm_vs_tflite_lsb": measured(tflm_diff, "LSB", f"TFLite Micro vs TFLite interpreter, {by}")}
    if "top1_agreement" in check:
        metrics["top1_agreement"] = measured(check["top1_agreement"], "", f"argmax Keras vs TFLite, {by}")
        metrics["top1_agreement_decisive"] = measured(
            check["top1_agreement_decisive"], "", f"argmax Keras vs TFLite, the {check['decisive_samples']} of {by}"
            " whose Keras top-2 gap exceeds 2 output LSBs")
    rows = [budget_rules.check_row("int8_max_error_lsb", "int8 vs Keras", metrics["max_error_lsb"],
                                   MAX_ERROR_LSB, "<=")]
    if "top1_agreement_decisive" in check:
        rows.append(budget_rules.check_row("int8_top1_agreement", "int8 vs Keras top-1 (decisive samples)",
                                           metrics["top1_agreement_decisive"], MIN_TOP1_AGREEMENT, ">="))
    rows.append(budget_rules.check_row("tflm_vs_tflite_lsb", "TFLite Micro vs TFLite", metrics["tflm_vs_tflite_lsb"],
                                       TFLM_MAX_DIFF_LSB, "<="))
    record.setdefault("checks", []).extend(rows)
    failures = [budget_rules.describe(r) for r in rows if r["verdict"] == "fail"]
    record["steps"].append({"name": "verify", "kind": "check", "seconds": round(time.time() - started, 2),
                            "metrics": metrics, "artifacts": {}, "notes": failures})
    return tflite_bytes, failures


def write_record(record, out) -> list:
    """report.json, plus report.html and summary.md when their renderers are installed."""
    from .report import write

    try:
        paths = write.write_reports(record, out)
    except ImportError:  # renderers not available: JSON is the record of truth
        paths = {"report_json": write.write_json(record, out)}
    return list(paths.values())
