"""qat: when int8 PTQ costs more accuracy than a tolerance on labelled data, a quantization-aware fine-tune (tfmot)
of the model, converted and measured like the PTQ model; the better int8 model is delivered, both are reported."""

from .. import figures
from .base import FIT_PARAMS, StepKind, StepResult, fit_model, register


@register
class Qat(StepKind):
    name = "qat"
    params = {**FIT_PARAMS, "loss": (str, "auto"), "lr": (float, 1e-4), "epochs": (int, 3),
              "max_drop": (float, 0.01), "calibration_samples": (int, 200)}
    needs_trained = True

    def run(self, ctx, step, params):
        from .. import atomic
        from ..errors import BadInput
        from ..export import carray
        from ..methods.qat import quantize_aware
        from .export_tflite import convert_and_measure

        skip = self._reason_to_skip(ctx, step, params)
        if skip:
            return StepResult(notes=[skip])
        ptq = ctx.state["int8_accuracy"]
        original = ctx.models[step.model]
        try:
            qat_model, left_float = quantize_aware(original)
        except BadInput as e:
            return StepResult(notes=[f"{e}; the PTQ model is kept"])
        floats = [f"float during the fine-tune (no tfmot quantizer; calibrated at conversion): "
                  f"{', '.join(left_float)}"] if left_float else []
        fit_model(ctx, qat_model, params)
        ctx.models[step.model] = qat_model
        result, metrics, state, notes = convert_and_measure(ctx, step.model, params["calibration_samples"])
        qat_int8 = metrics["int8_accuracy"]["value"]
        keras = metrics.pop("float_accuracy")
        metrics["qat_keras_accuracy"] = figures.measured(keras["value"], "fraction", keras["by"])
        if qat_int8 <= ptq["int8"] or result.failures:
            ctx.models[step.model] = original
            why = "a check failed: " + "; ".join(result.failures) if result.failures else \
                f"int8 accuracy {qat_int8:.3f} is not above PTQ's {ptq['int8']:.3f}"
            return StepResult(metrics={f"qat_{k}" if not k.startswith("qat_") else k: v for k, v in metrics.items()},
                              notes=notes + floats + [f"QAT model not delivered ({why}): the PTQ model is kept"])
        # delivered: the QAT model's int8 figures, layer rows and checks replace the PTQ model's
        replaced = set(ctx.state.get("int8_checks", ()))      # every row the PTQ export added (measure_int8)
        ctx.record["checks"] = [c for c in ctx.record["checks"] if c["name"] not in replaced]
        ctx.record.add_figures(result.figures)
        ctx.record.set_layers(result.layers)
        ctx.record.add_checks(result.checks)
        ctx.state.update(state)
        ptq_file = ctx.out / ctx.state["tflite"]
        if ptq_file.is_file():
            ptq_file.replace(ctx.out / "model_ptq_int8.tflite")
        atomic.write_bytes(ctx.out / "model_int8.tflite", result.tflite_bytes)
        carray.write_c_array(result.tflite_bytes, ctx.out)
        metrics["float_accuracy"] = figures.measured(ptq["float"], "fraction", ptq["by"])  # the model as given
        gain = qat_int8 - ptq["int8"]
        return StepResult(metrics=metrics, notes=notes + floats + [
            f"PTQ cost {ptq['float'] - ptq['int8']:.3f} of accuracy (> {params['max_drop']:g}); QAT int8 "
            f"{qat_int8:.3f} vs PTQ int8 {ptq['int8']:.3f} (+{gain:.3f}): the QAT model is delivered, the PTQ one "
            "kept as model_ptq_int8.tflite"],
            artifacts={"tflite": "model_int8.tflite", "tflite_ptq": "model_ptq_int8.tflite",
                       "c_array": "model_data.cc", "c_header": "model_data.h"})

    @staticmethod
    def _reason_to_skip(ctx, step, params):
        """Why no QAT is needed or possible (None: run it)."""
        if ctx.family.task != "classification":
            return f"skipped: QAT is triggered by an accuracy drop, and a {ctx.family.task} model has no accuracy"
        if not ctx.data.labelled:
            return "skipped: no labels, so what int8 costs cannot be measured (give an .npz with x and y)"
        ptq = ctx.state.get("int8_accuracy")
        if ptq is None:
            return "skipped: no int8 accuracy measured before this step (an export_tflite step comes first)"
        tolerance = ctx.budgets.get("metric_drop", params["max_drop"])
        drop = ptq["float"] - ptq["int8"]
        if drop <= tolerance:
            return (f"skipped: int8 costs {drop:.3f} of accuracy ({ptq['float']:.3f} -> {ptq['int8']:.3f}), within "
                    f"the tolerance {tolerance:g}: the PTQ model is kept")
        return None
