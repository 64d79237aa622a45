"""The cheap check, before any training: the plan's delivered model built (untrained) and counted - parameters and
MACs, as compressor.analysis.counts counts the delivered model - against every budget on those counted figures.
A plan that breaks one is recorded infeasible and never trained."""

from ..analysis.budgets import judge
from ..analysis.counts import keras_layer_counts, totals
from ..figures import counted

COUNTED = ("params", "macs")


def counted_figures(model) -> dict:
    total = totals(keras_layer_counts(model))
    return {"params": counted(total["params"], "", "keras weights of the plan's model, zeros included"),
            "macs": counted(total["macs"], "MAC", "qkeras.estimate for Q-layers, by layer type otherwise")}


def cheap_check(model, limits_by_source: dict) -> tuple[dict, list[dict]]:
    """(the counted figures, the budget rows they fail); only limits on counted figures are judged here."""
    figures = counted_figures(model)
    limits = {source: {k: v for k, v in (limits or {}).items() if k.rstrip(">=") in COUNTED}
              for source, limits in limits_by_source.items()}
    failed = [r for r in judge(figures, limits) if r["verdict"] == "fail"]
    return {k: f["value"] for k, f in figures.items()}, failed
