"""export_tflite (formerly `ptq`): full-integer int8 TFLite of a model slot in the form the device runs
(the family's device form), checked in this run against Keras and in TensorFlow Lite Micro, plus the C array.
`activations: int16` exports TFLite's 16x8 mode instead (int16 activations, int8 weights: model_int16x8.tflite)."""

from ..errors import BadInput
from .base import StepKind, StepResult, register


@register
class ExportTflite(StepKind):
    name = "export_tflite"
    aliases = ("ptq",)
    params = {"calibration_samples": (int, 200), "test_samples": (int, None), "activations": (str, "int8")}
    needs_trained = True

    def validate(self, params, where):
        from ..export.tflite import ACTIVATIONS
        if params["activations"] not in ACTIVATIONS:
            raise BadInput(f"{where}: field 'activations': expected one of {', '.join(ACTIVATIONS)} (int16: TFLite's "
                           f"16x8 mode), got {params['activations']!r}")

    def run(self, ctx, step, params):
        from .. import atomic
        from ..export import carray
        from ..export.int8 import tflite_name

        tflite_bytes, metrics, notes = measure_int8(ctx, step.model, params["calibration_samples"],
                                                    params["test_samples"], params["activations"])
        name = tflite_name(params["activations"])
        atomic.write_bytes(ctx.out / name, tflite_bytes)
        carray.write_c_array(tflite_bytes, ctx.out)
        ctx.state["tflite"] = name
        return StepResult(metrics=metrics, notes=notes, artifacts={
            "tflite": name, "c_array": "model_data.cc", "c_header": "model_data.h"})


def measure_int8(ctx, slot, calibration_samples=200, test_samples=None, activations="int8"):
    """Convert slot's model (its device form) to int8, count and check it, and measure the family's metrics on the
    int8 model: (flatbuffer, step metrics, notes). The figures, layers and check rows go into the run record; the
    float and int8 accuracy on the same examples into ctx.state["int8_accuracy"] (the qat step reads it)."""
    result, metrics, state, notes = convert_and_measure(ctx, slot, calibration_samples, test_samples, activations)
    ctx.record.add_figures(result.figures)
    ctx.record.set_layers(result.layers)
    ctx.record.add_checks(result.checks)
    ctx.state["int8_checks"] = [row["name"] for row in result.checks]   # a delivered QAT model replaces them
    ctx.state.update(state)
    if {"float_accuracy", "int8_accuracy"} <= set(metrics):
        ctx.state["int8_accuracy"] = {"float": metrics["float_accuracy"]["value"],
                                      "int8": metrics["int8_accuracy"]["value"], "by": metrics["float_accuracy"]["by"]}
    return result.tflite_bytes, metrics, notes


def convert_and_measure(ctx, slot, calibration_samples=200, test_samples=None, activations="int8"):
    """(Int8Export, step metrics, family state, notes) of slot's model in its device form; nothing recorded."""
    from ..analysis.budgets import describe
    from ..export.int8 import int8_export

    model = ctx.models[slot]
    device, x_cal, x_verify, note = ctx.family.device_form(model, ctx.data, lambda **over: ctx.rebuild(slot, **over))
    result = int8_export(device, x_cal[:calibration_samples], x_verify, ctx.target,
                         classifier=ctx.family.task == "classification" and device is model,   # not a packed
                         data_label=f"{ctx.data.name}", activations=activations)             # [output, state]
    metrics = {k: v for sub in result.steps for k, v in sub["metrics"].items()}
    n = min(test_samples or len(ctx.data.x_test), len(ctx.data.x_test))
    device_metrics, state = ctx.family.device_metrics(result.tflite_bytes, model, ctx.data, n, ctx.quick)
    metrics.update(device_metrics)
    extra = ctx.family.device_checks(result.tflite_bytes, model, device, x_verify, ctx.data,   # a recurrent model's
                                     device_metrics)                                  # whole-sequence rows ...
    result.checks += extra
    result.failures += [describe(r) for r in extra if r["verdict"] == "fail"]
    notes = [n for sub in result.steps for n in sub.get("notes", [])] + ([note] if note else [])
    return result, metrics, state, notes
