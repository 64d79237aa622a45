"""quantize: QKeras quantizers by layer pattern (methods/quantize.py), then an optional quantization-aware
fine-tune."""

from ..errors import BadInput
from .base import StepKind, StepResult, evaluate, fit_model, prefixed, register


@register
class Quantize(StepKind):
    name = "quantize"
    params = {"rules": (dict, ...), "default": (dict, None), "fine_tune": (dict, None)}
    trains = True

    def check(self, ctx, step, params, structure):
        """The rules' quantizer strings and layer patterns, against the model as it will be at this step."""
        from ..methods.quantize import quantize_model
        try:
            structure[step.model] = quantize_model(structure[step.model], params["rules"], params["default"])[0]
        except BadInput as e:
            raise BadInput(f"{ctx.recipe.path}: steps ({step.name}).params.rules: {e}") from None

    def run(self, ctx, step, params):
        from ..methods.quantize import quantize_model

        model = ctx.models[step.model]
        before = evaluate(ctx, model)
        ctx.state.update(ctx.family.before_quantize(model, ctx.data))
        qmodel, assigned = quantize_model(model, params["rules"], params["default"])
        ctx.models[step.model] = qmodel
        metrics = {**prefixed("before_", before), **prefixed("after_ptq_", evaluate(ctx, qmodel))}
        notes = []
        if params["fine_tune"] and ctx.data.labelled:
            fit_model(ctx, qmodel, params["fine_tune"])
        elif params["fine_tune"]:
            notes.append("no fine-tune: the data has no labels or targets (give an .npz with x and y)")
        metrics.update(evaluate(ctx, qmodel))
        return StepResult(metrics=metrics, notes=notes, detail={"quantizers": assigned})

    def restructure(self, ctx, step, params):
        from ..methods.quantize import quantize_model
        ctx.models[step.model] = quantize_model(ctx.models[step.model], params["rules"], params["default"])[0]
