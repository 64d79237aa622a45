"""energy: QTools energy (Horowitz 45 nm) of a model slot, and its ratio to another recipe's quantization of the
same architecture (SPEC 1's energy column is relative to Model 1)."""

from .. import figures
from ..errors import BadInput
from .base import StepKind, StepResult, register


@register
class Energy(StepKind):
    name = "energy"
    params = {"reference": (str, None)}

    def check(self, ctx, step, params, structure):
        from ..recipe import recipe_path
        if params["reference"]:
            try:
                recipe_path(params["reference"])
            except BadInput as e:
                raise BadInput(f"{ctx.recipe.path}: steps ({step.name}).params.reference: {e}") from None

    def run(self, ctx, step, params):
        from ..analysis.energy import qtools_energy

        model = ctx.models[step.model]
        reference = _reference_model(ctx, params["reference"]) if params["reference"] else None
        e = qtools_energy(model, reference=reference)
        metrics = {"energy_pj": e["figure"]}
        if reference is not None:
            metrics["energy_ratio"] = figures.estimated(
                round(e["relative"], 4), "ratio", f"QTools (Horowitz 45 nm) energy / that of {params['reference']}")
            metrics["reference_energy_pj"] = figures.estimated(
                e["reference_total_pj"], "pJ", f"QTools (Horowitz 45 nm), {params['reference']} quantizers")
        ctx.state["energy_layers"] = e["layers"]
        return StepResult(metrics=metrics)


def _reference_model(ctx, name):
    """The model this recipe delivers, quantized as recipe `name` quantizes it (structure only: QTools' energy
    depends on the quantizers and the shapes, not on trained values)."""
    from ..methods.quantize import quantize_model
    from ..recipe import load_recipe

    ref = load_recipe(name)
    rules = [s for s in ref.steps if s.kind == "quantize"]
    if not rules:
        raise BadInput(f"energy reference recipe '{name}' has no quantize step")
    slot = ctx.recipe.models[ctx.recipe.deliver]
    model = ctx.rebuild(ctx.recipe.deliver) if slot.zoo else ctx.delivered
    return quantize_model(model, rules[0].params["rules"], rules[0].params.get("default"))[0]
