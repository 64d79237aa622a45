"""The search's Ray Tune searcher: Optuna (the study's sampler, multi-objective TPE) with two changes.

- No plan is trained twice. A proposal already run is told to the study with its known objectives and constraints
  (not run), one still running waits for that trial's result; the study is asked again, up to MAX_ASKS times,
  then a plan not yet tried is drawn at random (seeded), and when the space has none left the search ends. During
  TPE's random startup trials a repeat is told failed instead: told results would count as startup trials, and
  whether a repeat's plan had finished yet depends on timing, so the first plans would too.
- The budgets reach the sampler: each finished trial's constraint values (Optuna's Trial.set_constraint, <= 0
  feasible) say by how much its plan broke the budgets and checks, so TPE models the plans that fit apart from the
  ones that do not (c-TPE), instead of seeing only the metric and the cost.

What it draws comes from the seeded sampler and a seeded generator: given the same results in the same order it
proposes the same plans, and its state is saved with the experiment, so a resumed search carries on from it."""

import json
import math
import random

from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from .trial import ENTRY_KEY

MAX_ASKS = 50       # proposals a trial before a random untried plan is drawn instead


def constraints(entry) -> dict:
    """Optuna's constraint values (<= 0 feasible) of a trial entry: `budgets`, the sum over the budgets it failed of
    how far past the limit, relative (energy 10% over: 0.1), and `checks`, how many checks failed."""
    over = 0.0
    for row in entry.get("failed_budgets") or []:
        value, limit = float(row["value"]), float(row["limit"])
        small, large = (limit, value) if row["op"] == "<=" else (value, limit)
        over += max(large / small - 1 if small > 0 else 1.0, 1e-6)      # a failed budget is never feasible
    return {"budgets": over, "checks": float(len(entry.get("failed_checks") or []))}


def plan_key(plan) -> tuple:
    return tuple(sorted(plan.items()))


class DistinctOptunaSearch(OptunaSearch):
    """OptunaSearch over a space of categorical distributions that never proposes a plan twice; see the module."""

    def __init__(self, space, *, seed=0, **kwargs):
        super().__init__(space, **kwargs)
        self._known = {}         # plan key -> (values or None for a failed trial, constraints)
        self._running = {}       # plan key -> Ray trial id running it
        self._waiting = {}       # Ray trial id -> Optuna trials that proposed its plan again meanwhile
        self._rng = random.Random(seed)
        self.repeats = 0         # proposals told or held back instead of run
        self.drawn = 0           # plans drawn at random after MAX_ASKS repeats in a row

    def suggest(self, trial_id):
        if trial_id in self._ot_trials:          # Ray Tune asks again for a trial it restores
            return dict(self._ot_trials[trial_id].params)
        for _ in range(MAX_ASKS):
            ot_trial = self._ot_study.ask(fixed_distributions=self._space)
            key = plan_key(ot_trial.params)
            if (key in self._known or key in self._running) and self._starting():
                self.repeats += 1
                self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            elif key in self._known:
                self.repeats += 1
                self._tell(ot_trial, *self._known[key])
            elif key in self._running:
                self.repeats += 1
                self._waiting.setdefault(self._running[key], []).append(ot_trial)
            else:
                return self._start(trial_id, ot_trial)
        plan = self._untried()
        if plan is None:
            return Searcher.FINISHED
        self.drawn += 1
        self._ot_study.enqueue_trial(plan)       # the study records it as its own proposal
        return self._start(trial_id, self._ot_study.ask(fixed_distributions=self._space))

    def on_trial_complete(self, trial_id, result=None, error=False):
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        ot_trial = self._ot_trials[trial_id]
        key = plan_key(ot_trial.params)
        entry = json.loads((result or {}).get(ENTRY_KEY) or "{}")
        limits = constraints(entry) if entry else {}
        for name, value in limits.items():
            ot_trial.set_constraint(name, value)
        super().on_trial_complete(trial_id, result, error)
        frozen = self._ot_study.get_trials(deepcopy=False)[ot_trial.number]
        values = frozen.values if frozen.state == TrialState.COMPLETE else None
        self._known[key] = (values, limits)
        self._running.pop(key, None)
        for waiting in self._waiting.pop(trial_id, []):
            self._tell(waiting, values, limits)

    def _start(self, trial_id, ot_trial):
        self._ot_trials[trial_id] = ot_trial
        self._running[plan_key(ot_trial.params)] = trial_id
        return dict(ot_trial.params)

    def _tell(self, ot_trial, values, limits):
        if values is None:                       # the plan failed: Optuna learns nothing from it either way
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            return
        for name, value in limits.items():
            ot_trial.set_constraint(name, value)
        self._ot_study.tell(ot_trial, values)

    def _starting(self) -> bool:
        """Still in the sampler's random startup trials (TPE's n_startup_trials, counted as Optuna counts them)?"""
        done = self._ot_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        return len(done) < getattr(self._ot_study.sampler, "_n_startup_trials", 0)

    def _untried(self):
        """A plan of the space neither run nor running (seeded), or None when there is none."""
        choices = {k: list(d.choices) for k, d in self._space.items()}
        tried = set(self._known) | set(self._running)
        if math.prod(len(v) for v in choices.values()) <= len(tried):
            return None
        while True:
            plan = {k: self._rng.choice(v) for k, v in choices.items()}
            if plan_key(plan) not in tried:
                return plan
