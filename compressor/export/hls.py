"""FPGA export: an hls4ml project written from a QKeras model, proven by C simulation against the model itself.

    export_hls(qmodel, target, out_dir, x_test) -> {"project_dir", "config", "metrics", "figures", "notes"}

Precisions come from the QKeras quantizers (hls4ml's per-layer config with 'auto' accumulators, SPEC 0: a flat
default was off by 0.18 on a 2.5 range); what no quantizer fixes (the input, the default for helper layers, an
unquantized output) is sized from the data's range. The design (config, schedule, po2 biases, supported layers) is
decided in analysis/hls_design.py, so the FPGA analysis estimates the same one; here it is written, compiled and
simulated in a staged folder that replaces out_dir only when the C simulation agrees with QKeras within tolerance.
io_stream FIFO depths are set on the converted graph (hls_design.plan_fifo_depths: a linear stretch sized to its
producer and consumer, hls4ml's full-tensor default kept between a fork and its join), each with its rule in
config["fifo_depths"].
"""

import contextlib
import copy
import io
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..analysis.hls_design import (FIFO_RULE_LINEAR, check_supported, choose_schedule, hls_config, integer_bits,
                                   layer_outputs, plan_fifo_depths, replace_po2_biases, uses_convolution,
                                   with_schedule)
from ..atomic import staged_dir
from ..errors import BadInput, VerificationFailed
from ..figures import measured
from ..jsonable import plain

OUTPUT_BITS = 16             # width of an unquantized model output; its LSB is the unit of the error metric
# default C-sim tolerance: 128 LSB of a 16-bit output = 1/256 of its full scale, above the error of hls4ml's
# sigmoid/tanh tables (0.0039 on the CAE decoder's [0, 1] output), far below a wrong precision (0.18 on 2.5: SPEC 0)
TOLERANCE_LSB = 128.0
CSIM_BY = "hls4ml C simulation (g++ compile of the written project)"


def set_output_precision(hls_model, model, x_sample):
    """An output no quantizer sizes gets OUTPUT_BITS sized to its range (rounded, saturating): that width's LSB
    is the unit of the C-sim error. Set on the converted graph, because hls4ml appends layers (QKeras alpha
    scaling) after the Keras output layer, whose config cannot name them in advance."""
    from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

    last = model.layers[-1]
    if getattr(last, "activation", None) is not None and "quantized" in type(last.activation).__name__:
        return None                                   # the model's own output quantizer fixes it
    peak = float(np.max(np.abs(model.predict(x_sample, verbose=0))))
    precision = list(hls_model.get_layers())[-1].get_output_variable().type.precision
    if not isinstance(precision, FixedPrecisionType):
        return None
    # edited in place: the object is the backend's subclass that knows how to print itself as C++
    precision.width, precision.integer, precision.signed = OUTPUT_BITS, integer_bits(peak) + 1, True
    precision.rounding_mode, precision.saturation_mode = RoundingMode.RND, SaturationMode.SAT
    return str(precision)


def match_resize_types(hls_model):
    """UpSampling's stream kernel (nnet::resize_nearest) copies its input words to the output stream, so both must
    have one type; after a binary activation hls4ml gives the input ap_uint<1> and the output the default fixed
    type, and the C simulation does not compile (fpga_cae_8bit). Give each resize layer its input's precision."""
    for layer in hls_model.get_layers():
        if layer.class_name in ("Resize", "UpSampling2D", "UpSampling1D"):
            layer.get_output_variable().type.precision = copy.copy(layer.get_input_variable().type.precision)


def size_fifos(hls_model) -> list:
    """Set each io_stream FIFO's depth as plan_fifo_depths decides (hls4ml writes `pragma = ('stream', depth)` of
    an output variable as `#pragma HLS STREAM variable=... depth=...` in the top function); returns the plan."""
    plan = plan_fifo_depths(hls_model)
    by_name = {var.name: var for var in hls_model.output_vars.values()}
    for row in plan:
        var = by_name[row["fifo"]]
        var.pragma = (var.pragma[0], row["depth"])
    return plan


def fifo_note(plan) -> str:
    """One line for the notes: how many FIFOs each rule set, and the words they hold against hls4ml's default."""
    if not plan:
        return ""
    sized = [r for r in plan if r["rule"] == FIFO_RULE_LINEAR]
    kept = len(plan) - len(sized)
    words, default = sum(r["depth"] for r in plan), sum(r["default_depth"] for r in plan)
    return (f"io_stream FIFO depths: {len(sized)} sized to producer/consumer need on a linear chain, {kept} kept "
            f"at hls4ml's default where the graph forks; {words} words in all against hls4ml's {default} "
            f"(config.fifo_depths)")


def _precision_of(hls_model, layer_name=None):
    layers = list(hls_model.get_layers())
    layer = layers[-1] if layer_name is None else next(lay for lay in layers if lay.name == layer_name)
    return layer.get_output_variable().type.precision


def on_input_grid(x, precision):
    """x truncated onto the fixed-point grid of `precision` (ap_fixed's default AP_TRN, AP_WRAP assumed inside
    the range): what the C simulation computes on."""
    step = lsb_of(precision)
    top = 2.0 ** (precision.integer - 1) if precision.signed else 2.0 ** precision.integer
    return np.clip(np.floor(x / step) * step, -top if precision.signed else 0.0, top - step).astype(np.float32)


def lsb_of(precision) -> float:
    """The value of one least significant bit of an hls4ml fixed/int precision."""
    width = getattr(precision, "width", None)
    integer = getattr(precision, "integer", width)
    return 2.0 ** -(width - integer)


# -- export -------------------------------------------------------------------------------------------------------

def export_hls(qmodel, target, out_dir, x_test, *, io_type=None, backend=None, strategy=None, reuse_factor=None,
               tolerance_lsb=TOLERANCE_LSB, task="regression", min_agreement=0.98, y_test=None,
               project_name="myproject", fifo_depths="sized") -> dict:
    """Write the hls4ml project for `target` into out_dir, compile its C simulation, run it on x_test and compare
    with the QKeras model (and both with y_test when given: accuracy or MSE). Raises UnsupportedLayer before
    writing, VerificationFailed (nothing written) when the C simulation diverges: beyond tolerance_lsb output
    LSBs (regression) or below min_agreement (classification). fifo_depths: "sized" (io_stream FIFOs of a
    linear chain sized to need, plan_fifo_depths) or "default" (hls4ml's full-tensor depths); the depths and the
    rule that set each are config["fifo_depths"]."""
    import hls4ml

    if task not in ("regression", "classification"):
        raise BadInput(f"export_hls: task must be 'regression' or 'classification', got {task!r}")
    if getattr(target, "kind", None) != "fpga":
        raise BadInput(f"target '{getattr(target, 'name', target)}' is not an FPGA target")
    if fifo_depths not in ("sized", "default"):
        raise BadInput(f"export_hls: fifo_depths must be 'sized' or 'default', got {fifo_depths!r}")
    check_supported(qmodel)
    # hls4ml's predict refuses a non C-contiguous array ('Array must be c_contiguous'): a swapped-axes front end
    # output (frontends.mae_mel_frames), a transposed or strided slice, a Fortran-ordered .npy
    x_test = np.ascontiguousarray(x_test, dtype=np.float32)
    if x_test.ndim < 2 or len(x_test) == 0:
        raise BadInput(f"export_hls: x_test must be a non-empty batch of inputs, got shape {x_test.shape}")

    model, notes = replace_po2_biases(qmodel)
    io_type = io_type or ("io_stream" if uses_convolution(model) else "io_parallel")
    backend = backend or target.backend

    base = hls_config(model, target, x_test, backend=backend, io_type=io_type)   # priced as it is exported

    def cfg_for(s, rf):
        return with_schedule(base, s, rf)

    cfg, strategy, reuse_factor, estimate, reason = choose_schedule(model, cfg_for, target, strategy, reuse_factor)
    out_dir = Path(out_dir)
    timings = {}
    with staged_dir(out_dir) as stage:
        t0 = time.perf_counter()
        chatter = []                             # hls4ml's prints and warnings: turned into notes below
        with quiet_hls4ml(chatter):
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=cfg, output_dir=str(stage), project_name=project_name, io_type=io_type,
                backend=backend, part=target.part, clock_period=round(1000.0 / target.clock_mhz, 3))
        timings["convert_s"] = time.perf_counter() - t0
        set_output_precision(hls_model, model, x_test)
        match_resize_types(hls_model)
        if io_type == "io_stream":
            fifos = size_fifos(hls_model) if fifo_depths == "sized" else [
                dict(row, depth=row["default_depth"], rule="hls4ml default: asked for")
                for row in plan_fifo_depths(hls_model)]
        else:
            fifos = []
        t0 = time.perf_counter()
        try:
            with quiet_hls4ml(chatter, echo=False):
                hls_model.compile()              # writes the project, then g++ builds the C simulation library
        except Exception as e:                   # hls4ml raises a bare Exception after printing g++'s output
            raise compile_failure(chatter, e) from None
        notes += hls4ml_notes(chatter) + ([fifo_note(fifos)] if fifo_depths == "sized" and fifos else [])
        timings["write_compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        y_hls = np.asarray(hls_model.predict(x_test)).reshape(len(x_test), -1)
        timings["csim_s"] = time.perf_counter() - t0
        # QKeras sees the inputs on the hardware's input grid, so the comparison measures the design, not the
        # input format (whose step is recorded beside it)
        x_grid = on_input_grid(x_test, list(hls_model.get_layers())[0].get_output_variable().type.precision)
        y_q = np.asarray(model.predict(x_grid, verbose=0)).reshape(len(x_test), -1)
        metrics = compare_outputs(y_q, y_hls, lsb_of(_precision_of(hls_model)), task, y_test)
        metrics["output_precision"] = str(_precision_of(hls_model))
        metrics["input_precision"] = str(list(hls_model.get_layers())[0].get_output_variable().type.precision)
        check = csim_check(metrics, task, tolerance_lsb, min_agreement, len(x_test))
        if not check["passed"]:
            where = locate_divergence(model, hls_model, x_grid[:4])
            what = (f"max error {metrics['max_error_lsb']:.1f} LSB > {tolerance_lsb}" if task == "regression"
                    else f"class agreement {metrics['agreement_decisive']:.3f} < {min_agreement} on the "
                    f"{metrics['decisive_samples']} decisive inputs")
            err = VerificationFailed(f"hls4ml C simulation disagrees with the QKeras model: {what}; "
                                     f"first divergent layer: {where['first'] or 'none found'}")
            err.trace, err.check = where["layers"], check
            raise err
        _fix_output_dir(stage, out_dir)
    record_cfg = {
        "backend": backend, "io_type": io_type, "part": target.part, "clock_mhz": target.clock_mhz,
        "strategy": strategy, "reuse_factor": reuse_factor, "schedule_reason": reason,
        # hls4ml moves an invalid reuse factor to the nearest valid one per layer: what it actually used
        "reuse_factors_used": {lay.name: lay.get_attr("reuse_factor") for lay in hls_model.get_layers()
                               if lay.get_attr("reuse_factor") is not None},
        "precisions": {lay.name: {k: str(v.precision) for k, v in lay.types.items()} for lay in hls_model.get_layers()},
        "fifo_depths": fifos,
        "hls4ml_config": plain(cfg),
    }
    figures = {
        "csim_max_error_lsb": measured(metrics["max_error_lsb"], "LSB", CSIM_BY),
        "csim_max_abs_error": measured(metrics["max_abs_error"], "", CSIM_BY),
    }
    if task == "classification":
        figures["csim_agreement"] = measured(metrics["agreement"], "fraction", CSIM_BY)
        if "accuracy_hls" in metrics:
            figures["csim_accuracy"] = measured(metrics["accuracy_hls"], "fraction", CSIM_BY)
    else:
        figures["csim_mse_vs_qkeras"] = measured(metrics["mse_hls_vs_qkeras"], "", CSIM_BY)
        if "mse_hls" in metrics:
            figures["csim_mse"] = measured(metrics["mse_hls"], "", CSIM_BY)
    return {"project_dir": str(out_dir), "config": record_cfg, "metrics": metrics, "figures": figures,
            "resources": estimate, "timings": timings, "notes": notes, "n_inputs": int(len(x_test)),
            "check": check}


def compile_failure(lines, error) -> VerificationFailed:
    """The C simulation did not build: a failed check (no project is written; the reports say why), naming g++'s
    first error rather than printing its pages."""
    first = next((line.split("error:", 1)[1].strip() for line in lines if "error:" in line), str(error))
    err = VerificationFailed(f"hls4ml's C simulation did not compile (g++: {first[:300]}); the design cannot be "
                             "checked against the QKeras model")
    err.trace = []
    err.check = {"figure": measured(0.0, "fraction", f"{CSIM_BY}: did not compile"), "limit": 1.0, "op": ">=",
                 "passed": False}
    return err


def csim_check(metrics, task, tolerance_lsb, min_agreement, n) -> dict:
    """The C simulation's proof as a verdict row's parts: the figure, its tolerance and which way it holds."""
    by = f"{CSIM_BY}, {n} inputs"
    if task == "regression":
        fig, limit, op = measured(metrics["max_error_lsb"], "LSB", by), tolerance_lsb, "<="
        passed = metrics["max_error_lsb"] <= tolerance_lsb
    else:   # judged on the decisive inputs, as the int8 export's top-1 check (compare_outputs)
        agreement = metrics["agreement_decisive"]
        fig = measured(agreement, "fraction", f"{by}: class agreement on the {metrics['decisive_samples']} "
                       "whose QKeras top-2 gap exceeds 2 output LSBs")
        limit, op, passed = min_agreement, ">=", agreement >= min_agreement
    return {"figure": fig, "limit": limit, "op": op, "passed": bool(passed)}


def compare_outputs(y_ref, y_hls, lsb, task, y_true=None) -> dict:
    diff = np.abs(y_hls.astype(np.float64) - y_ref.astype(np.float64))
    metrics = {"max_abs_error": float(diff.max()), "lsb": lsb, "max_error_lsb": float(diff.max() / lsb),
               "mse_hls_vs_qkeras": float(np.mean(diff ** 2))}
    if task == "classification":
        c_ref, c_hls = y_ref.argmax(-1), y_hls.argmax(-1)
        agree = c_ref == c_hls
        metrics["agreement"] = float(np.mean(agree))
        # an input whose two best QKeras scores are within 2 output LSBs is a tie at the design's resolution: the
        # C simulation may pick either class without being wrong
        top2 = np.sort(y_ref.reshape(len(y_ref), -1), 1)[:, -2:]
        decisive = (top2[:, 1] - top2[:, 0]) > 2 * lsb
        metrics["agreement_decisive"] = float(np.mean(agree[decisive])) if decisive.any() else 1.0
        metrics["decisive_samples"] = int(decisive.sum())
        if y_true is not None:
            y_true = np.asarray(y_true).reshape(len(y_ref), -1)
            y_true = y_true.argmax(-1) if y_true.shape[1] > 1 else y_true[:, 0]
            metrics["accuracy_qkeras"] = float(np.mean(c_ref == y_true))
            metrics["accuracy_hls"] = float(np.mean(c_hls == y_true))
    elif y_true is not None:
        y_true = np.asarray(y_true, dtype=np.float64).reshape(y_ref.shape)
        metrics["mse_qkeras"] = float(np.mean((y_ref - y_true) ** 2))
        metrics["mse_hls"] = float(np.mean((y_hls - y_true) ** 2))
    return metrics


def locate_divergence(model, hls_model, x) -> dict:
    """Layer-by-layer: hls4ml's trace of the C simulation against the Keras layer outputs, each error in LSBs of
    that layer's hls4ml output precision; `first` names the first layer beyond 4 LSB."""
    with quiet_hls4ml([]):                      # "Recompiling ... with tracing"
        _, trace = hls_model.trace(np.ascontiguousarray(x))
    keras_out = layer_outputs(model, x)
    # hls4ml's passes split a Keras layer (c1 -> c1, c1_alpha, c1_linear): its output is the last of those.
    last_of = {}
    for layer in hls_model.get_layers():
        for kname in keras_out:
            if layer.name in trace and (layer.name == kname or layer.name.startswith(kname + "_")):
                last_of[kname] = layer
    rows, first = [], None
    for kname, layer in last_of.items():
        ref = keras_out[kname].reshape(len(x), -1)
        got = np.asarray(trace[layer.name]).reshape(len(x), -1)
        if ref.shape != got.shape:
            continue
        err = float(np.max(np.abs(ref - got)))
        precision = layer.get_output_variable().type.precision
        lsb = lsb_of(precision)
        rows.append({"layer": kname, "hls_layer": layer.name, "max_abs_error": err, "error_lsb": err / lsb,
                     "precision": str(precision)})
        if first is None and err / lsb > 4:
            first = f"{kname} ({err:.4g} = {err / lsb:.1f} LSB of {precision})"
    return {"first": first, "layers": rows}


@contextlib.contextmanager
def quiet_hls4ml(lines: list, echo=True):
    """hls4ml prints per-layer warnings (e.g. 'WARNING: Invalid ReuseFactor=3 in layer "fc1"...') and raises Python
    warnings: they go into `lines`, not the terminal, for hls4ml_notes to say once in our words. If the block fails,
    what was captured goes to stderr: on a failed compile hls4ml prints g++'s errors just before raising."""
    out = io.StringIO()
    caught = []
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except Exception:
        if echo:
            sys.stderr.write(out.getvalue())
        raise
    finally:
        lines += out.getvalue().splitlines()
        lines += [f"WARNING: {w.message}" for w in caught if "hls4ml" in str(w.filename)]  # not Keras' own


INVALID_REUSE = re.compile(r'Invalid ReuseFactor=(\d+) in layer "([^"]*)"\.?\s*Using ReuseFactor=(\d+)')


def hls4ml_notes(lines) -> list:
    """The notes hls4ml's captured output deserves: one for the reuse factors it moved to valid values (the
    per-layer values are in config.reuse_factors_used), one for any other warning; its progress chatter is dropped."""
    moved = {}
    others = []
    for line in lines:
        found = INVALID_REUSE.search(line)
        if found:
            moved[found.group(2)] = (int(found.group(1)), int(found.group(3)))
        elif "WARNING" in line:
            text = line.split("WARNING", 1)[1].lstrip(":! ").strip()
            if text and text not in others:
                others.append(text)
    notes = []
    if moved:
        groups = {}
        for layer, change in moved.items():
            groups.setdefault(change, []).append(layer)
        how = "; ".join(f"{a} -> {u} in " + (", ".join(names) if len(names) <= 3 else f"{len(names)} layers")
                        for (a, u), names in sorted(groups.items()))
        notes.append(f"hls4ml adjusted the reuse factor of {len(moved)} layer{'s' if len(moved) > 1 else ''} to "
                     f"the nearest valid value ({how}; see config.reuse_factors_used)")
    if others:
        notes.append(f"hls4ml warned: {'; '.join(others)}")
    return notes


def _fix_output_dir(stage, out_dir):
    """hls4ml records its output folder in hls4ml_config.yml: point it at the final folder, not the staging one."""
    cfg = Path(stage) / "hls4ml_config.yml"
    if cfg.is_file():
        cfg.write_text(cfg.read_text().replace(str(stage), str(Path(out_dir).resolve())))

