"""Ray Tune runs the trials: local by default (ray.init(address="local", num_cpus=n)), a cluster with an address
(--address or RAY_ADDRESS; never num_cpus then), one CPU a trial, Optuna's multi-objective TPE sampler over the
space, told the budgets and never running a plan twice (sampler.py). The experiment's state lives in the output
folder: SIGINT or SIGTERM stop the search with it kept (Ray Tune saves it), and a resumed search (Tuner.restore)
runs only the trials that had not finished."""

import math
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

from .early import EPOCH_KEY, stopped_entry
from .text import readable
from .trial import COST_KEY, ENTRY_KEY, METRIC_KEY, run_trial

EXPERIMENT = "tune"


def start_ray(address=None, cpus=None, log=print) -> bool:
    """Connect to Ray; True when this call started it (and shutdown is ours to call)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        log(f"search: Ray cluster at {address} ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
    else:
        cpus = cpus or max(1, min(2, os.cpu_count() or 1))
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        log(f"search: local Ray, {cpus} CPU(s), one trial a CPU")
    return True


def startup_trials(trials):
    """Random trials before TPE models the results. Optuna's default, 10, makes a search of 12 trials random search
    (benchmarks/results.md section 8); a third of the budget, at least 4 (the first plans then do not depend on
    the order trials finish in, so a resumed search draws the same) and at most Optuna's 10."""
    return max(4, min(10, trials // 3))


def run_trials(job, state_dir: Path, *, resume=False, log=print):
    """(trial entries in trial order, interrupted?, the sampler's {repeats, drawn}: proposals of a plan already
    tried - told its result, not run again - and plans drawn at random after too many; None when Ray does not hand
    the searcher back) - every trial Ray Tune ran in this experiment."""
    import optuna
    from ray import tune

    from .early import scheduler
    from .sampler import MAX_ASKS, DistinctOptunaSearch

    spec = job["spec"]
    state_dir = Path(state_dir).absolute()
    exp_dir = state_dir / EXPERIMENT
    trainable = tune.with_resources(tune.with_parameters(run_trial, job=job), {"cpu": 1})
    if resume and tune.Tuner.can_restore(str(exp_dir)):
        log(f"search: resuming the search in {exp_dir}")
        tuner = tune.Tuner.restore(str(exp_dir), trainable=trainable, resume_unfinished=True)
    else:
        if resume:
            log(f"search: nothing to resume in {exp_dir}: starting the search")
        shutil.rmtree(exp_dir, ignore_errors=True)
        space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in spec.space.items()}
        searcher = DistinctOptunaSearch(space, seed=job["seed"], metric=[METRIC_KEY, COST_KEY],
                                        mode=[spec.metric_mode, "min"],
                                        sampler=optuna.samplers.TPESampler(
                                            seed=job["seed"], n_startup_trials=startup_trials(spec.trials),
                                            multivariate=True),     # knobs act jointly on the cost
                                        points_to_evaluate=list(job.get("first") or []) or None)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler(spec), num_samples=spec.trials,
                                        time_budget_s=spec.time_budget_s, max_concurrent_trials=job["concurrent"]),
            run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(state_dir), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=0),
                                      callbacks=[_Progress(log, spec)]))
    stopped, t0 = [], time.monotonic()
    with _sigterm_as_sigint(stopped):
        results = tuner.fit()
    searcher = getattr(getattr(getattr(tuner, "_local_tuner", None), "_tune_config", None), "search_alg", None)
    repeats = {"repeats": getattr(searcher, "repeats", None), "drawn": getattr(searcher, "drawn", None)}
    if repeats["repeats"]:
        log(f"search: the sampler proposed {repeats['repeats']} plan(s) already tried: told their results, not run "
            "again" + (f"; {repeats['drawn']} plan(s) drawn at random after {MAX_ASKS} repeats in a row"
                       if repeats["drawn"] else ""))
    out_of_time = spec.time_budget_s is not None and time.monotonic() - t0 >= 0.95 * spec.time_budget_s
    entries, unfinished = [], 0
    for result in sorted(results, key=lambda r: _trial_number(r.path)):
        metrics = result.metrics or {}
        if ENTRY_KEY in metrics:
            import json
            entries.append(json.loads(metrics[ENTRY_KEY]))
        elif result.error is not None:      # the worker itself died (killed, out of memory ...)
            entries.append({"plan": dict(result.config or {}), "status": "failed", "figures": {},
                            "failed_budgets": [], "fits": False,
                            "why": f"{type(result.error).__name__}: {result.error}".strip()[:600]})
        elif EPOCH_KEY in metrics and not stopped:   # epochs reported, no end, no signal: stopped by Ray Tune
            entries.append(stopped_entry(result.config, metrics, spec.metric,
                                         "the search's time budget" if out_of_time else "ASHA"))
        else:
            unfinished += 1
    plans = math.prod(len(v) for v in spec.space.values())     # a space smaller than the trials ends when all ran
    short = unfinished > 0 or len(entries) < min(spec.trials, plans)
    return entries, bool(stopped) or (short and not out_of_time), repeats


def _trial_number(path) -> int:
    """Trials in the order Ray Tune made them: a trial's folder is <trainable>_<8-hex id>_<counter>_<plan>_<time>."""
    found = re.search(r"_[0-9a-f]{8}_(\d+)_", Path(str(path)).name)
    return int(found.group(1)) if found else 0


def _tag_number(trial) -> str:
    """A running trial's counter (its experiment tag starts with it: "3_kernel=4,...")."""
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return head if head.isdigit() else "?"


class _sigterm_as_sigint:
    """While Ray Tune runs: SIGTERM asks it to stop as SIGINT does (it saves the experiment and returns)."""

    def __init__(self, stopped: list):
        self.stopped, self.previous = stopped, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.stopped.append(signal.Signals(signum).name)
                os.kill(os.getpid(), signal.SIGINT)
            self.previous = signal.signal(signal.SIGTERM, handler)
            self.previous_int = signal.getsignal(signal.SIGINT)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
            signal.signal(signal.SIGINT, self.previous_int)
        return False


def _progress_callback_base():
    from ray.tune import Callback
    return Callback


class _Progress(_progress_callback_base()):
    """One line a finished trial: its plan, status and objectives (or how far it got, stopped early), numbered as
    the record numbers it (the order Ray Tune made the trials; they finish in another)."""

    def __init__(self, log, spec):
        self.log, self.spec = log, spec

    def on_trial_result(self, iteration, trials, trial, result, **info):
        import json
        entry = json.loads(result.get(ENTRY_KEY, "{}") or "{}")
        if not entry:
            return
        figs = entry.get("figures", {})
        plan = ", ".join(f"{k}={v}" for k, v in entry.get("plan", {}).items())
        shown = (f"{self.spec.metric} {readable(figs.get(self.spec.metric))}, {self.spec.cost} "
                 f"{readable(figs.get(self.spec.cost))}" if entry["status"] == "ok" else entry.get("why"))
        fits = " fits" if entry.get("fits") else (" (a budget fails)" if entry["status"] == "ok" else "")
        self.log(f"search: trial {_tag_number(trial)}: {plan} -> {entry['status']}{fits}: {shown}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if ENTRY_KEY in result or EPOCH_KEY not in result:
            return
        plan = ", ".join(f"{k}={v}" for k, v in (trial.config or {}).items())
        self.log(f"search: trial {_tag_number(trial)}: {plan} -> stopped early after "
                 f"{result.get('training_iteration')} epoch(s): {self.spec.metric} {readable(result[EPOCH_KEY])} "
                 "on the validation split")
