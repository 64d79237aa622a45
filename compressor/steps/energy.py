"""energy: QTools energy (Horowitz 45 nm) of a model slot, and its ratio to another recipe's quantization of the
same architecture (SPEC 1's energy column is relative to Model 1).

`reading` says how Table II's activation names ("binary relu", "adaptive relu") are priced
(analysis/cae_readings.py): `spec7` (default; SPEC 7's 8-bit reading, which reproduces the source's energy column)
or `turn1` (the quantize step's aliases, 1-bit binary / 4-bit adaptive: the model as trained). Both the slot and
the reference are then the slot's structure quantized by the recipes' quantize rules as read (QTools prices
structure and quantizers, not trained values); a slot no quantize step touched is priced as it is."""

from .. import figures
from ..errors import BadInput
from .base import StepKind, StepResult, register


@register
class Energy(StepKind):
    name = "energy"
    params = {"reference": (str, None), "reading": (str, "spec7")}

    def validate(self, params, where):
        from ..analysis.cae_readings import READINGS
        if params["reading"] not in READINGS:
            raise BadInput(f"{where}: field 'reading': {params['reading']!r} is not a reading; expected one of "
                           f"{', '.join(READINGS)}")

    def check(self, ctx, step, params, structure):
        from ..recipe import recipe_path
        if params["reference"]:
            try:
                recipe_path(params["reference"])
            except BadInput as e:
                raise BadInput(f"{ctx.recipe.path}: steps ({step.name}).params.reference: {e}") from None

    def run(self, ctx, step, params):
        from ..analysis.cae_readings import READINGS
        from ..analysis.energy import BY, qtools_energy

        reading = params["reading"]
        by = f"{BY}; {READINGS[reading]['says']}"
        model = _read_slot(ctx, step, reading)
        reference = _reference_model(ctx, params["reference"], reading) if params["reference"] else None
        e = qtools_energy(model, reference=reference)
        metrics = {"energy_pj": figures.estimated(e["total_pj"], "pJ", by)}
        if reference is not None:
            metrics["energy_ratio"] = figures.estimated(
                round(e["relative"], 4), "ratio", f"{by}; energy / that of {params['reference']}")
            metrics["reference_energy_pj"] = figures.estimated(
                e["reference_total_pj"], "pJ", f"{by}; {params['reference']} quantizers")
        ctx.state["energy_layers"] = e["layers"]
        return StepResult(metrics=metrics, detail={"reading": reading, "reading_says": READINGS[reading]["says"]})


def _rules(recipe, slot, before=None):
    """The parameters (rules, default) of the last quantize step on `slot` (before step `before`), or None."""
    steps = recipe.steps[:recipe.steps.index(before)] if before is not None else recipe.steps
    found = [s for s in steps if s.kind == "quantize" and s.model == slot]
    return found[-1].params if found else None


def _read_slot(ctx, step, reading):
    """The slot as QTools prices it: its zoo structure quantized by this recipe's rules as `reading` reads them;
    the model itself when no quantize step touched it or it is not a zoo model (its structure cannot be rebuilt)."""
    from ..analysis.cae_readings import read

    quantize = _rules(ctx.recipe, step.model, before=step)
    if quantize is None or not ctx.recipe.models[step.model].zoo:
        return ctx.models[step.model]
    return read(ctx.rebuild(step.model), quantize["rules"], reading, quantize.get("default"))


def _reference_model(ctx, name, reading):
    """The model this recipe delivers, quantized as recipe `name` quantizes it, its activation names read as
    `reading` says (structure only: QTools' energy depends on the quantizers and the shapes, not trained values)."""
    from ..analysis.cae_readings import read
    from ..recipe import load_recipe

    ref = load_recipe(name)
    rules = [s for s in ref.steps if s.kind == "quantize"]
    if not rules:
        raise BadInput(f"energy reference recipe '{name}' has no quantize step")
    slot = ctx.recipe.models[ctx.recipe.deliver]
    model = ctx.rebuild(ctx.recipe.deliver) if slot.zoo else ctx.delivered
    return read(model, rules[0].params["rules"], reading, rules[0].params.get("default"))
