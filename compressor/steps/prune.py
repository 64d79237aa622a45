"""prune: magnitude pruning with a tfmot schedule while fine-tuning (methods/prune.py)."""

from .. import figures
from ..errors import BadInput
from .base import FIT_PARAMS, StepKind, StepResult, evaluate, fit_model, prefixed, register


@register
class Prune(StepKind):
    name = "prune"
    params = {**FIT_PARAMS, "target_sparsity": (float, ...), "schedule": (str, "polynomial"), "layers": (list, None),
              "frequency": (int, None)}
    trains = True

    def validate(self, params, where):
        if not 0 < params["target_sparsity"] < 1:
            raise BadInput(f"{where}: field 'target_sparsity': must be between 0 and 1")
        if params["loss"] is None:
            raise BadInput(f"{where}: field 'loss': missing")

    def run(self, ctx, step, params):
        from ..methods.fit import batches_per_epoch
        from ..methods.prune import prune

        model = ctx.models[step.model]
        steps_per_epoch = batches_per_epoch(ctx.data.x_train, params["batch_size"])
        before = evaluate(ctx, model)
        pruned, sparsity = prune(model, target_sparsity=params["target_sparsity"], schedule=params["schedule"],
                                 frequency=params["frequency"], layers=params["layers"],
                                 fit_fn=lambda wrapped, callbacks: fit_model(ctx, wrapped, params, callbacks),
                                 total_steps=steps_per_epoch * params["epochs"])
        ctx.models[step.model] = pruned
        by = "fraction of kernel weights equal to 0 after strip_pruning"
        metrics = {**prefixed("before_", before), **evaluate(ctx, pruned)}
        metrics["sparsity"] = figures.measured(round(sparsity["overall"], 4), "fraction", by)
        metrics["target_sparsity"] = figures.counted(params["target_sparsity"], "fraction", "recipe")
        return StepResult(metrics=metrics, detail={"sparsity_per_layer": sparsity["layers"]})
