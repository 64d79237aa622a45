"""What a recipe delivered, read off its finished steps: the delivered model's task metrics as headline figures
(so budgets can gate on them), what int8 cost on the same examples (`metric_drop`), and warning rows when the
delivered model is measurably worse than a comparison the recipe trained itself (a distilled student against the
same student trained alone)."""

from . import figures
from .analysis.budgets import check_row

TASK_METRICS = ("accuracy", "log_loss", "mse", "esr", "probe_accuracy")
DEVICE_METRICS = ("int8_accuracy", "int8_log_loss", "int8_mse", "int8_streaming_esr", "csim_accuracy", "csim_mse")
LOWER_IS_BETTER = ("log_loss", "mse", "esr")
# the metric a recipe is judged on, by task (classification: accuracy, as the confusion matrices and int8 check)
PRIMARY = {"classification": "accuracy", "autoencoder": "mse", "regression": "esr", "representation": "probe_accuracy"}
MEASURABLY = 0.01    # worse by more than 1 % of the comparison's figure: beyond rounding, not a coin flip of one clip


def slot_metrics(steps, slot) -> dict:
    """name -> the latest figure each task metric got for `slot` (steps measure before and after: the last counts)."""
    latest = {}
    for step in steps:
        if step.get("model") == slot:
            latest.update({k: v for k, v in (step.get("metrics") or {}).items()
                           if k in TASK_METRICS + DEVICE_METRICS and isinstance(v, dict)})
    return latest


def headline_metrics(steps, slot) -> dict:
    """The delivered slot's task metrics, its device-form metrics, and metric_drop where both forms were measured
    on the same examples (the ptq step's float_accuracy and int8_accuracy)."""
    out = slot_metrics(steps, slot)
    ptq = next((s["metrics"] for s in reversed(steps) if s.get("model") == slot
                and {"float_accuracy", "int8_accuracy"} <= set(s.get("metrics") or {})), None)
    if ptq:
        drop = ptq["float_accuracy"]["value"] - ptq["int8_accuracy"]["value"]
        out["metric_drop"] = figures.measured(round(drop, 6), "fraction",
                                              f"accuracy, keras minus {ptq['int8_accuracy']['by']}")
    return out


def comparisons(recipe) -> list[str]:
    """Slots trained as the delivered model's twin: a `copy_of` it, or the slot it copies."""
    deliver = recipe.deliver
    twins = [name for name, slot in recipe.models.items() if slot.copy_of == deliver]
    copied = recipe.models[deliver].copy_of
    return twins + ([copied] if copied else [])


def quality_rows(steps, deliver, others, task) -> list[dict]:
    """A warning row for each comparison slot that beats the delivered one on the task's metric."""
    metric = PRIMARY.get(task)
    mine = slot_metrics(steps, deliver).get(metric)
    rows = []
    for other in others:
        theirs = slot_metrics(steps, other).get(metric)
        if mine is None or theirs is None:
            continue
        a, b = mine["value"], theirs["value"]
        worse = a > b * (1 + MEASURABLY) if metric in LOWER_IS_BETTER else a < b * (1 - MEASURABLY)
        if worse:
            op = "<=" if metric in LOWER_IS_BETTER else ">="
            note = (f"the delivered '{deliver}' has {metric} {a:.4g}, '{other}' (trained by this recipe for "
                    f"comparison) {b:.4g}")
            row = check_row(f"{metric}_vs_{other}", f"{deliver} vs {other} ({metric})", mine, b, op,
                            source="comparison", note=note)
            rows.append({**row, "verdict": "warn"})
    return rows
