"""A plan (knob -> value) applied to a recipe: the Recipe the engine runs and the models handed into its slots. Only
the recipe's own step kinds are used (train, distill, prune, export_tflite): no step is implemented twice.

    width     the delivered slot's zoo `width` argument when its builder takes one, else the model built by the zoo
              with every Conv / Dense width scaled (width.py) and handed in; for the user's model (a "{model}" slot,
              user.py) its architecture scaled, and at width 1 the model as given: its distill steps go (a model
              distilled from itself learns nothing new)
    sparsity  > 0: a prune step (tfmot, the search block's fit parameters) after the last step training the slot
    distill   False: each distill step of the slot becomes a train step with the same schedule, and the steps only
              the teacher needed go
    epochs    the epochs of the slot's training steps;  lr: their learning rate
    tflite_activations   int8 or int16 (TFLite's 16x8 mode): the slot's export_tflite steps' `activations` (one is
              added when the recipe has none)
    kernel, activation, reuse_factor, strategy   the slot's quantize rules and export_hls schedule (fpga_knobs.py)

A trial's export_hls steps only decide the design (`csim: false`): the FPGA estimate prices the part and the schedule
the delivered export would write, without the C simulation's compile; the delivered plan runs them in full. Its
export_tflite steps run as in any run (into the trial's temporary folder): the conversion measures the trial.
"""

import dataclasses

from .. import zoo
from ..recipe import USER_MODEL, Recipe, Step, _merge
from ..steps.base import AUTO_LOSS, FIT_PARAMS
from .fpga_knobs import apply_fpga

PRUNE_STEP, EXPORT_SEARCH_STEP = "prune_search", "export_search"
EXPORT_KINDS = ("export_tflite", "export_hls")
TRAINING_KINDS = ("train", "distill", "prune", "qat")


def plan_recipe(recipe: Recipe, spec, plan: dict, *, deliver: bool = False) -> Recipe:
    """`recipe` (its profile already chosen) changed by `plan`; a trial's recipe (deliver=False) has export_hls
    steps that decide the design only (csim false); the delivered one has them in full."""
    slot = recipe.deliver
    steps = [Step(s.name, s.kind, s.model, s.teacher, _merge(s.params, spec.steps.get(s.name, {})))
             for s in recipe.steps]
    if _as_given(recipe, plan):
        steps = [s for s in steps if not (s.kind == "distill" and s.model == slot)]
    if plan.get("distill") is False:
        steps = [_trained_alone(s) if s.kind == "distill" and s.model == slot else s for s in steps]
        teachers = {s.teacher for s in steps if s.teacher}
        steps = [s for s in steps if s.model == slot or s.model in teachers
                 or any(o.model == s.model for o in steps if o.kind in EXPORT_KINDS)]
    fit_over = {k: plan[k] for k in ("epochs", "lr") if k in plan}
    if fit_over:
        steps = [Step(s.name, s.kind, s.model, s.teacher, {**s.params, **fit_over})
                 if s.model == slot and s.kind in ("train", "distill") else s for s in steps]
    if plan.get("sparsity"):
        # after the last step training the slot; first when none does (the user's model as given)
        last = max((i for i, s in enumerate(steps) if s.model == slot and s.kind in TRAINING_KINDS), default=-1)
        prune = Step(PRUNE_STEP, "prune", slot, None, {**spec.prune, "target_sparsity": float(plan["sparsity"])})
        steps.insert(last + 1, prune)
    steps = apply_fpga(steps, slot, plan)
    if "tflite_activations" in plan:
        steps = _with_activations(steps, slot, plan["tflite_activations"])
    if not deliver:
        steps = [Step(s.name, s.kind, s.model, s.teacher, {**s.params, "csim": False}) if s.kind == "export_hls"
                 else s for s in steps]
    models = dict(recipe.models)
    width = plan.get("width")
    if width is not None and takes_width(recipe, slot):
        m = models[slot]
        models[slot] = dataclasses.replace(m, args={**m.args, "width": float(width)})
    used = {s.model for s in steps} | {s.teacher for s in steps if s.teacher} | {slot}
    models = {n: m for n, m in models.items() if n in used or any(o.copy_of == n for o in models.values())}
    return dataclasses.replace(recipe, steps=tuple(steps), models=models, quick={"steps": {}, "models": {}})


def takes_width(recipe, slot) -> bool:
    m = recipe.models[slot]
    return m.zoo is not None and "width" in zoo.spec(m.zoo).default_kwargs


def given_models(recipe: Recipe, plan: dict, data, seed: int, user=None) -> dict:
    """slot -> Keras model the engine takes instead of building it: the width-scaled delivered model when its zoo
    builder has no `width` argument (built from the seed, as the engine builds its slots); the user's model `user`
    in the "{model}" slots - the delivered one scaled (a copy of its own at width 1), the others as given."""
    from ..graph import fresh_copy
    from ..methods.fit import set_seed
    from ..steps.slots import build_slot
    from .width import scaled

    width = float(plan.get("width", 1.0))
    slot = recipe.deliver
    given = {n: user for n, m in recipe.models.items() if m.path == USER_MODEL}
    if recipe.models[slot].path == USER_MODEL:
        set_seed(seed)
        given[slot] = fresh_copy(user) if width == 1.0 else scaled(user, width)
    elif width != 1.0 and recipe.models[slot].zoo is not None and not takes_width(recipe, slot):
        set_seed(seed)
        given[slot] = scaled(build_slot(recipe.models[slot], data), width)
    return given


def delivered_model(recipe: Recipe, plan: dict, data, seed: int, user=None):
    """The delivered slot's model as the plan builds it, untrained (the cheap check counts it)."""
    from ..steps.slots import build_slot

    given = given_models(recipe, plan, data, seed, user)
    if recipe.deliver in given:
        return given[recipe.deliver]
    return build_slot(recipe.models[recipe.deliver], data)


def _as_given(recipe: Recipe, plan: dict) -> bool:
    """The plan delivers the user's model as given: a "{model}" slot at width 1."""
    return recipe.models[recipe.deliver].path == USER_MODEL and float(plan.get("width", 1.0)) == 1.0


def _with_activations(steps, slot, activations):
    """The slot's export_tflite steps (or "ptq") in the plan's TFLite format; one added at the end when none is."""
    from ..steps.base import get as step_kind

    exports = [i for i, s in enumerate(steps) if step_kind(s.kind).name == "export_tflite" and s.model == slot]
    if not exports:
        return [*steps, Step(EXPORT_SEARCH_STEP, "export_tflite", slot, None, {"activations": activations})]
    return [Step(s.name, s.kind, s.model, s.teacher, {**s.params, "activations": activations}) if i in exports else s
            for i, s in enumerate(steps)]


def _trained_alone(step: Step) -> Step:
    params = {k: v for k, v in step.params.items() if k in FIT_PARAMS}
    params.setdefault("loss", AUTO_LOSS)
    return Step(step.name, "train", step.model, None, params)
