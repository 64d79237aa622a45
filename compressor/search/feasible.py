"""The cheap check, before any training: the plan's delivered model built (untrained) and counted - parameters and
MACs, as compressor.analysis.counts counts the delivered model - against every budget on those counted figures. On
an MCU recipe also the int8 figures of the model its export_tflite step would convert (flash, tensor arena, the
calibrated latency and energy estimates): they depend on the graph alone - TFLite stores pruned weights dense, the
arena is tensor sizes, the latency model prices operator shapes - so the untrained model's are the trained one's and
a plan over one of those budgets is rejected as it is. On an FPGA recipe the calibrated resource estimate of the
design its export_hls step would write (the plan's quantizers and schedule, on the untrained model), against the
resource budgets. A plan that breaks one is recorded infeasible and never trained.

The FPGA estimate of an untrained model is not the trained one's: the estimate prices the products left after zero
removal, and an untrained model has none of the zeros that pruning and ternary kernels make; training also moves the
ranges that size the unquantized precisions. So that estimate rejects a plan only when it is over a budget by more
than ESTIMATE_FACTOR times."""

import numpy as np

from ..analysis.budgets import judge
from ..analysis.counts import keras_layer_counts, totals
from ..figures import counted

COUNTED = ("params", "macs")
ESTIMATED = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
INT8 = ("flash_bytes", "arena_bytes", "latency_s", "energy_j")
INT8_CALIBRATION = 8     # examples: the int8 ranges do not change the graph, its sizes or the latency estimate
# Measured on recipes/fpga_cae_search.yaml's 8 quick trials (pruned to 0.57, ternary / 2-8 bit kernels): the
# untrained design's estimate over the trained one's was at most 2.30 (FF, Latency strategy; LUT 2.20); BRAM_18K and
# DSP equal, LUT and FF of the Resource strategy within -5 % (under: never a wrong rejection). Above 3x a budget, no
# training brings a plan back under it on that evidence; the 4 trials over it there were all over after training.
ESTIMATE_FACTOR = 3.0


def counted_figures(model) -> dict:
    total = totals(keras_layer_counts(model))
    return {"params": counted(total["params"], "", "keras weights of the plan's model, zeros included"),
            "macs": counted(total["macs"], "MAC", "qkeras.estimate for Q-layers, by layer type otherwise")}


def cheap_check(model, limits_by_source: dict, recipe=None, data=None, int8=True) -> tuple[dict, list[dict]]:
    """(the counted and estimated figures, the budget rows they fail); only limits on those figures are judged
    here. With `recipe` (the plan's) and `data`: the int8 figures (MCU; not with int8=False) or the FPGA estimate,
    when the recipe exports the delivered slot."""
    figures = counted_figures(model)
    failed = _failed(figures, limits_by_source, COUNTED)
    values = {k: f["value"] for k, f in figures.items()}
    if recipe is None or data is None:
        return values, failed
    int8_figures = int8_estimate(model, recipe, data) if int8 else None
    if int8_figures:
        values.update({k: f["value"] for k, f in int8_figures.items()})
        failed += _failed(int8_figures, limits_by_source, INT8)
    estimate = design_estimate(model, recipe, data)
    if estimate:
        values.update(estimate)
        failed += [r for r in _failed({k: _estimated(v) for k, v in estimate.items()}, limits_by_source, ESTIMATED)
                   if r["value"] > r["limit"] * ESTIMATE_FACTOR]
    return values, failed


def _failed(figures, limits_by_source, names) -> list[dict]:
    """The failing budget rows of `figures` against the limits on `names` alone."""
    limits = {source: {k: v for k, v in (limits or {}).items() if k.rstrip(">=") in names}
              for source, limits in limits_by_source.items()}
    return [r for r in judge(figures, limits) if r["verdict"] == "fail"]


def int8_estimate(model, recipe, data) -> dict | None:
    """The int8 figures (flash, arena, latency and energy estimates) of the model the recipe's export_tflite step
    would convert from the untrained `model` (the family's device form); None when the recipe has no such step."""
    from ..steps.base import get as step_kind

    slot = recipe.deliver
    export = next((s for s in recipe.steps if step_kind(s.kind).name == "export_tflite" and s.model == slot), None)
    if export is None:       # (the kind may be called "ptq")
        return None
    from ..engine import recipe_family
    from ..export.int8 import mcu_figures
    from ..steps.slots import build_slot
    from ..targets import load_target

    device, x_cal, _, _ = recipe_family(recipe, data).device_form(
        model, data, lambda **over: build_slot(recipe.models[slot], data, **over))
    weights = device.get_weights()
    # an untrained model's biases are all zero, and the converter stores an all-zero tensor in fewer bytes than a
    # trained one (measured: 144 bytes less on a 2.8 KB model); give them trained-like values while it converts
    device.set_weights([w if np.any(w) else np.full_like(w, 0.01) for w in weights])
    try:
        result = mcu_figures(device, x_cal[:INT8_CALIBRATION], load_target(recipe.target),
                             activations=export.params.get("activations", "int8"))
    finally:
        device.set_weights(weights)
    return {k: result.figures[k] for k in INT8 if k in result.figures}


def design_estimate(model, recipe, data) -> dict | None:
    """{resource: estimated count} of the design the recipe's export_hls step of the delivered slot would write from
    the untrained `model` quantized by the recipe's quantize steps; None when the recipe has no such step."""
    slot = recipe.deliver
    export = next((s for s in recipe.steps if s.kind == "export_hls" and s.model == slot), None)
    if export is None:
        return None
    from ..engine import recipe_family
    from ..methods.quantize import quantize_model
    from ..steps.export_hls import design
    from ..targets import load_target

    target = load_target(recipe.target)
    for step in recipe.steps:
        if step.kind == "quantize" and step.model == slot:
            model = quantize_model(model, step.params.get("rules") or {}, step.params.get("default"))[0]
    part, x = recipe_family(recipe, data).submodel(model, data, export.params.get("submodel"))
    _, _, _, estimate, _ = design(part, x[:export.params.get("test_samples", 4)], target, export.params)
    return {k: f["value"] for k, f in estimate["figures"].items() if k in ESTIMATED}


def _estimated(value) -> dict:
    from ..figures import estimated
    return estimated(value, "", "the FPGA estimate of the plan's design on the untrained model")
