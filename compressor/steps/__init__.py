"""The recipe's step kinds, one module each, registered by name (steps/base.py): train, quantize, prune, distill,
export_tflite (alias ptq), export_hls, energy, probe, generate. A new kind is one module here and its test: copy
steps/probe.py, give the class a name, a parameter table and `run`, and import the module below.

    check_recipe(ctx)       everything that can be rejected before any training
    run(ctx, step)          one step -> StepResult
    restructure(ctx, step)  replay a finished step's structural change on a resumed run
"""

from ..errors import BadInput
from .base import KINDS, StepResult, check_fit_params, get, names, step_params
from . import distill, energy, export_hls, export_tflite, generate, probe, prune, qat, quantize, train  # noqa: F401 (register)

__all__ = ["KINDS", "StepResult", "check_recipe", "get", "names", "restructure", "run", "step_params"]


def check_recipe(ctx):
    """Reject what can be rejected before training: parameters, losses, quantizer strings and layer patterns,
    the data's shape against each model's input."""
    if ctx.family.checks_input_shape:
        for slot, model in ctx.models.items():
            _check_data_shape(ctx, slot, model)
    structure = dict(ctx.models)    # each step is checked against the models as they will be at that step
    for step in ctx.recipe.steps:
        params = step_params(ctx.recipe, step)
        check_fit_params(params, f"{ctx.recipe.path}: steps ({step.name})")
        get(step.kind).check(ctx, step, params, structure)


def _check_data_shape(ctx, slot, model):
    want = tuple(model.inputs[0].shape[1:])
    have = tuple(ctx.data.x_train.shape[1:])
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
        raise BadInput(f"data {ctx.data.name}: examples of shape {have} do not fit model '{slot}' (input {want})")


def run(ctx, step) -> StepResult:
    return get(step.kind).run(ctx, step, step_params(ctx.recipe, step))


def restructure(ctx, step):
    get(step.kind).restructure(ctx, step, step_params(ctx.recipe, step))
