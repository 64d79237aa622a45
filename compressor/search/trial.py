"""One trial, in a Ray worker (one CPU, TensorFlow on one thread): the cheap check, then the plan's recipe through
the engine, then one report to Ray Tune - the objectives for the sampler and the whole trial entry (JSON) for the
search record. Whatever goes wrong in the run (an exception, a diverged loss, more time than the search block's
trial_timeout_s) is the trial's status `failed`, with why; the search goes on."""

import json
import math
import tempfile
import time
import traceback

from ..errors import TrainingDiverged, UnsupportedLayer

STATUSES = ("ok", "failed", "infeasible", "stopped early")    # the last: early.py
METRIC_KEY, COST_KEY, ENTRY_KEY = "objective_metric", "objective_cost", "trial_entry"
PENALTY = 1e30      # what the sampler is told of a plan the cheap check rejected: the worst cost, the worst metric


class TrialTimeout(Exception):
    """The trial ran longer than trial_timeout_s."""


def one_thread():
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:        # TensorFlow already started in this worker: it keeps its threads
        pass


def run_trial(config, job):
    """Ray Tune's function trainable: `config` is the plan, `job` what every trial shares (with_parameters). With
    early stopping, a report after each training epoch too (early.py): every report carries the objectives and the
    epoch metric, as Ray Tune requires of the searcher's and the scheduler's metrics."""
    from ray import tune

    from .early import EPOCH_KEY, EpochReporter
    from ..engine import recipe_family

    spec = job["spec"]
    reporter = None
    if spec.early_stop is not None:
        reporter = EpochReporter(recipe_family(job["recipe"], job["data"]), job["data"], spec.metric,
                                 objectives({"status": "infeasible"}, spec))
    entry = evaluate(dict(config), job, on_epoch=reporter)
    tune.report({**objectives(entry, spec), EPOCH_KEY: reporter.last if reporter else math.nan,
                 ENTRY_KEY: json.dumps(entry)})


def evaluate(plan, job, on_epoch=None) -> dict:
    """The trial entry of `plan`: {plan, status, why, figures, budgets failed, fits, seconds}."""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    one_thread()
    from ..engine import run_recipe
    from .feasible import cheap_check
    from .plans import delivered_model, given_models, plan_recipe
    from .user import unpack

    spec, data, seed = job["spec"], job["data"], job["seed"]
    t0 = time.perf_counter()
    watch = _Watch(spec.trial_timeout_s, t0)
    entry = {"plan": plan, "status": "ok", "why": None, "figures": {}, "failed_budgets": [], "fits": False}
    try:
        user = unpack(job["user"]) if job.get("user") else None
        recipe = plan_recipe(job["recipe"], spec, plan)
        # the model as given is run whatever its int8 figures: what fitting costs is measured against it
        try:
            counts, failed = cheap_check(delivered_model(recipe, plan, data, seed, user), job["limits"], recipe,
                                         data, int8=plan != job.get("given"))
        except UnsupportedLayer as e:   # the plan's export cannot run on the device (an operator without an int16
            entry.update(status="infeasible", why=f"before training: {e}")    # kernel in TFLite Micro ...)
            return _done(entry, t0)
        entry["figures"].update(counts)
        if failed:
            entry.update(status="infeasible", failed_budgets=[_short(r) for r in failed],
                         why="before training: " + "; ".join(_describe(r) for r in failed))
            return _done(entry, t0)
        with tempfile.TemporaryDirectory(prefix="compressor-trial-") as out:
            run = run_recipe(recipe, data=data, out=out, quick=job["quick"], seed=seed, budgets=job["budgets"],
                             models=given_models(recipe, plan, data, seed, user), log=watch,
                             on_epoch=on_epoch, write_reports=False)
        watch(None)         # the run's end: a trial that finished past its timeout is over time too
        record = run.record
        entry["figures"] = {k: f["value"] for k, f in record["figures"].items()
                            if isinstance(f.get("value"), (int, float))}
        failed = [r for r in record["budgets"] if r["verdict"] == "fail"]
        checks = [r for r in record.get("checks") or [] if r.get("source", "check") == "check"
                  and r["verdict"] == "fail"]
        entry["failed_budgets"] = [_short(r) for r in failed]
        entry["failed_checks"] = [r.get("title") or r["name"] for r in checks]
        for name in (spec.metric, spec.cost):
            if not _finite(entry["figures"].get(name)):
                raise ValueError(f"the run reported no {name} figure (the search's objective)")
        entry["fits"] = not failed and not checks
    except TrialTimeout as e:
        entry.update(status="failed", why=str(e))
    except TrainingDiverged as e:
        entry.update(status="failed", why=f"diverged: {e}")
    except Exception as e:          # a trial's failure is recorded; the search goes on
        entry.update(status="failed", why=f"{type(e).__name__}: {e}".strip()[:600],
                     traceback=traceback.format_exc(limit=-4)[-2000:])
    return _done(entry, t0)


def objectives(entry, spec) -> dict:
    """What the sampler sees: the measured objectives; NaN for a failed trial (Optuna records it as failed);
    the worst values for a plan rejected before training (and for one stopped early, early.py)."""
    if entry["status"] == "ok":
        return {METRIC_KEY: float(entry["figures"][spec.metric]), COST_KEY: float(entry["figures"][spec.cost])}
    if entry["status"] == "infeasible":
        return {METRIC_KEY: -PENALTY if spec.metric_mode == "max" else PENALTY, COST_KEY: PENALTY}
    return {METRIC_KEY: math.nan, COST_KEY: math.nan}


class _Watch:
    """The engine's progress lines go here (each epoch's end, each step's start): past the timeout, the trial stops
    there - TrialTimeout raised through the fit -, and once more when the run ends. A trial's own thread cannot be
    interrupted from outside, so these are the points it can stop at."""

    def __init__(self, timeout_s, t0):
        self.timeout_s, self.t0 = timeout_s, t0

    def __call__(self, line):
        if self.timeout_s is not None and time.perf_counter() - self.t0 > self.timeout_s:
            raise TrialTimeout(f"timeout after {self.timeout_s:g} s")


def _done(entry, t0):
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    return entry


def _short(row) -> dict:
    return {k: row.get(k) for k in ("name", "op", "limit", "value", "source")}


def _describe(row) -> str:
    return f"{row['name']} {row['value']:,} > {row['limit']:,} ({row['source']})" if row["op"] == "<=" else \
        f"{row['name']} {row['value']:,} < {row['limit']:,} ({row['source']})"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
