"""The search's searcher (compressor/search/sampler.py) without Ray running: a plan proposed again is not run again,
and the budgets reach the sampler as Optuna constraint values."""

import json
import pickle

import optuna
import pytest
from ray.tune.search import Searcher

from compressor.search.sampler import DistinctOptunaSearch, constraints, plan_key
from compressor.search.trial import COST_KEY, ENTRY_KEY, METRIC_KEY

optuna.logging.set_verbosity(optuna.logging.WARNING)

ENERGY = {"name": "energy_pj", "op": "<=", "limit": 800.0, "value": 1000.0, "source": "cli"}


def entry(plan, fits=True):
    failed = [] if fits else [ENERGY]
    return {"plan": plan, "status": "ok", "figures": {"accuracy": 0.8, "energy_pj": 1000.0 if failed else 500.0},
            "failed_budgets": failed, "failed_checks": [], "fits": not failed}


def result(plan, fits=True):
    e = entry(plan, fits)
    return {METRIC_KEY: e["figures"]["accuracy"], COST_KEY: e["figures"]["energy_pj"], ENTRY_KEY: json.dumps(e)}


def searcher(space, seed=0, startup=1):
    space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in space.items()}
    return DistinctOptunaSearch(space, seed=seed, metric=[METRIC_KEY, COST_KEY], mode=["max", "min"],
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                                                   multivariate=True))


def run(s, trials, fits=lambda plan: True):
    """Ray Tune's calls, one trial at a time: the plans that were run (FINISHED ends the search)."""
    ran = []
    for i in range(trials):
        plan = s.suggest(f"t{i}")
        if plan == Searcher.FINISHED:
            break
        ran.append(plan)
        s.on_trial_complete(f"t{i}", result(plan, fits(plan)))
    return ran


def test_a_plan_proposed_again_is_not_run_again():
    s = searcher({"bits": [4, 8]})
    ran = run(s, 4)
    assert sorted(p["bits"] for p in ran) == [4, 8]         # 2 trainings for 4 trials: the space has 2 plans
    assert s.repeats > 0
    done = [t for t in s._ot_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) > len(ran)                              # repeats were told their known figures


def test_every_trial_a_new_plan_and_the_same_plans_for_the_same_seed():
    space = {"a": [2, 4, 8], "b": [2, 4, 8]}
    first = run(searcher(space, seed=3), 9)
    assert len({plan_key(p) for p in first}) == 9           # the whole space, once each
    assert run(searcher(space, seed=3), 9) == first


def test_a_repeat_of_a_running_plan_waits_for_its_result():
    s = searcher({"bits": [4, 8]}, startup=0)
    a = s.suggest("t0")
    b = s.suggest("t1")                                      # a's plan is running: never proposed twice at once
    assert a != b
    assert s.suggest("t2") == Searcher.FINISHED             # both plans running, none left
    assert s.repeats >= 50
    s.on_trial_complete("t0", {**result(a), COST_KEY: 100.0})
    s.on_trial_complete("t1", {**result(b), COST_KEY: 200.0})
    trials = s._ot_study.trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials) and len(trials) == 2 + s.repeats
    assert {t.values[1] for t in trials if t.params == a} == {100.0}      # each told its own plan's result
    assert {t.values[1] for t in trials if t.params == b} == {200.0}


def test_a_repeat_in_the_random_startup_is_told_failed():
    """Told results would count as startup trials, earlier or later depending on when trials finish."""
    s = searcher({"bits": [4, 8]}, startup=10)
    ran = run(s, 4)
    assert sorted(p["bits"] for p in ran) == [4, 8] and s.repeats > 0
    states = [t.state for t in s._ot_study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2
    assert states.count(optuna.trial.TrialState.FAIL) == s.repeats


def test_the_searcher_state_survives_a_pickle():
    """Ray Tune saves the searcher with the experiment (--resume): the plans run stay known after a restore."""
    s = searcher({"bits": [4, 8]})
    ran = run(s, 1)
    restored = pickle.loads(pickle.dumps(s))
    assert restored.suggest("t1") not in (ran[0], Searcher.FINISHED)


def test_constraint_values_of_a_fitting_and_a_failing_entry():
    assert constraints(entry({"bits": 4})) == {"budgets": 0.0, "checks": 0.0}
    failing = constraints(entry({"bits": 8}, fits=False))
    assert failing == {"budgets": pytest.approx(0.25), "checks": 0.0}          # 1000 pJ against 800: 25% over
    at_least = {"name": "accuracy", "op": ">=", "limit": 0.9, "value": 0.6, "source": "recipe"}
    rejected = {"status": "infeasible", "failed_budgets": [ENERGY, at_least], "failed_checks": ["int8 check"]}
    assert constraints(rejected) == {"budgets": pytest.approx(0.25 + 0.5), "checks": 1.0}


def test_the_study_is_told_the_constraints():
    s = searcher({"bits": [4, 8]})
    run(s, 2, fits=lambda plan: plan["bits"] == 4)
    by_plan = {t.params["bits"]: t.constraints for t in s._ot_study.trials
               if t.state == optuna.trial.TrialState.COMPLETE}
    assert by_plan[4] == {"budgets": 0.0, "checks": 0.0}
    assert by_plan[8]["budgets"] == pytest.approx(0.25)


def test_a_failed_trial_is_not_run_again():
    s = searcher({"bits": [4, 8]})
    plan = s.suggest("t0")
    s.on_trial_complete("t0", {METRIC_KEY: float("nan"), COST_KEY: float("nan"),
                               ENTRY_KEY: json.dumps({"plan": plan, "status": "failed", "failed_budgets": []})})
    assert s.suggest("t1") not in (plan, Searcher.FINISHED)
