"""train: fit a model slot with a named loss and optimizer; with 0 epochs it only measures the model."""

from .base import FIT_PARAMS, StepKind, StepResult, evaluate, fit_model, last_of, prefixed, register
from .slots import shipped_origin


@register
class Train(StepKind):
    name = "train"
    params = FIT_PARAMS
    trains = True
    least_epochs = 0        # a train step may only measure

    def validate(self, params, where):
        from ..errors import BadInput
        if params["loss"] is None:
            raise BadInput(f"{where}: field 'loss': missing")

    def run(self, ctx, step, params):
        model = ctx.models[step.model]
        notes, start, history = _shipped_start_notes(ctx, step.model), {}, {}
        if not params["epochs"]:
            notes.append("0 epochs: the model is measured as it is, not trained")
        else:
            if notes:  # it starts from shipped weights: how they do on this run's data, to compare with after
                start = prefixed("start_", evaluate(ctx, model))
            history = fit_model(ctx, model, params)
        return StepResult(metrics={**start, **evaluate(ctx, model), **last_of(history)}, notes=notes)


def _shipped_start_notes(ctx, slot) -> list[str]:
    """For a slot's first training, if it starts from shipped weights: what they are."""
    tag = ctx.recipe.models[slot].shipped_weights
    if not tag or slot in ctx.trained:
        return []
    return [f"started from {shipped_origin(ctx.models[slot], tag)}"]
