"""Early stopping of poor trials: after each training epoch a trial reports the plan's metric on the validation
split, and Ray Tune's ASHA scheduler (asynchronous successive halving) stops a trial whose metric is below the
best 1/reduction_factor of the trials that reached the same epoch, from `grace_epochs` on. A stopped trial has no
final figures: it is recorded "stopped early" (never in the Pareto set, never delivered), and the sampler is told
the worst objectives for it, as for a plan the cheap check rejected.

Which trials ASHA stops depends on the order their epochs arrive in, so with several trials at once the trial set
is not reproducible (one CPU makes it so). And ASHA judges the metric alone: a narrow plan, slower to learn in its
first epochs, is stopped in favour of wide ones that break the budgets - the shipped search recipes leave it off,
it is for spaces whose plans cost alike (learning rate, epochs, distilled or not)."""

import math

from .text import readable

EPOCH_KEY = "epoch_val_metric"     # what each report carries for the scheduler
DEFAULTS = {"grace_epochs": 2, "reduction_factor": 3}
MAX_EPOCHS = 10_000                # the scheduler's horizon: never reached, so ASHA never stops a trial for its length


def early_stop_spec(value, where) -> dict | None:
    """The search block's `early_stop`: false / absent (off), true (the defaults), or {grace_epochs,
    reduction_factor}."""
    from ..errors import BadInput

    if value is None or value is False:
        return None
    block = {} if value is True else value
    if not isinstance(block, dict) or set(block) - set(DEFAULTS):
        raise BadInput(f"{where}: true, false, or a mapping with {' and/or '.join(DEFAULTS)}")
    spec = {**DEFAULTS, **block}
    if not (isinstance(spec["grace_epochs"], int) and spec["grace_epochs"] >= 1):
        raise BadInput(f"{where}.grace_epochs: a whole number of epochs, at least 1")
    if not (isinstance(spec["reduction_factor"], (int, float)) and spec["reduction_factor"] > 1):
        raise BadInput(f"{where}.reduction_factor: a number above 1")
    return spec


def scheduler(spec):
    """ASHA over the epochs the trials report, or None (Ray Tune's FIFO: every trial runs to its end)."""
    if spec.early_stop is None:
        return None
    from ray.tune.schedulers import ASHAScheduler
    # stop_last_trials=False: a trial past every rung runs to its end (its final report carries the figures)
    return ASHAScheduler(time_attr="training_iteration", metric=EPOCH_KEY, mode=spec.metric_mode,
                         grace_period=spec.early_stop["grace_epochs"],
                         reduction_factor=spec.early_stop["reduction_factor"], max_t=MAX_EPOCHS,
                         stop_last_trials=False)


class EpochReporter:
    """The engine's on_epoch hook in a trial: the plan's metric of the model being fitted, on the validation split,
    reported to Ray Tune with the worst objectives (the trial has none yet: a trial stopped here keeps them)."""

    def __init__(self, family, data, metric, placeholder: dict):
        self.family, self.data, self.placeholder = family, data, placeholder
        self.metric = metric.removeprefix("int8_").removeprefix("csim_")   # the float model's figure, while fitting
        self.epochs, self.last = 0, math.nan

    def __call__(self, model, epoch):
        from ray import tune

        model = getattr(model, "student", model)      # a distiller fits its student
        figures = self.family.evaluate(model, self.data, split="val")
        value = figures.get(self.metric, {}).get("value")
        self.epochs += 1
        self.last = float(value) if value is not None else math.nan
        tune.report({**self.placeholder, EPOCH_KEY: self.last})


def stopped_entry(config, metrics, metric, by="ASHA") -> dict:
    """The record of a trial stopped before its end (by ASHA, or by the search's time budget): its plan, how far
    it got."""
    epochs = int(metrics.get("training_iteration", 0))
    value = metrics.get(EPOCH_KEY)
    shown = "" if value is None or not math.isfinite(value) else \
        f": {metric} {readable(value)} on the validation split"
    return {"plan": dict(config or {}), "status": "stopped early", "figures": {}, "failed_budgets": [],
            "fits": False, "epochs": epochs, "why": f"stopped by {by} after {epochs} epoch(s){shown}"}
