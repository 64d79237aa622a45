"""compress search, the parts without Ray: the search block, plans applied to a recipe (only the recipe's own step
kinds), the width multiplier, the cheap check before training, the Pareto set and the summary line."""

import dataclasses

import pytest

from compressor.engine import load_checked_recipe
from compressor.errors import BadInput
from compressor.search.feasible import cheap_check
from compressor.search.pareto import best, dominates, pareto_indices
from compressor.search.plans import PRUNE_STEP, plan_recipe
from compressor.search.runner import _why_none, search_section
from compressor.search.space import search_spec


@pytest.fixture(scope="module")
def recipe():
    return load_checked_recipe("dcase_student_search")


def test_search_block_and_quick_profile(recipe):
    full, quick = search_spec(recipe, "mcu"), search_spec(recipe, "mcu", quick=True)
    assert (full.metric, full.metric_mode, full.cost) == ("accuracy", "max", "macs")
    assert full.trials == 16 and quick.trials == 8 and quick.clips == 96 and full.clips is None
    assert {"width", "sparsity", "distill"} <= set(quick.space)
    assert search_spec(recipe, "mcu", quick=True, trials=3, time_budget_s=60).trials == 3
    with pytest.raises(BadInput, match="gpu target is not built yet"):
        search_spec(recipe, "gpu")      # MCU and FPGA spaces only (the FPGA knobs: test_search_fpga.py)


@pytest.mark.parametrize("block, match", [
    ({"space": {"depth": [1]}}, "unknown knob"),
    ({"space": {"sparsity": [1.5]}}, "out of range"),
    ({"objectives": {"metric": "accuracy", "cost": "accuracy"}}, "is a task metric"),
    ({"objectives": {"metric": "acuracy"}}, "unknown figure"),
    ({"trials": 0}, "positive whole number"),
    ({"colour": 1}, "unknown field"),
])
def test_search_block_mistakes_name_the_field(recipe, block, match):
    with pytest.raises(BadInput, match=match) as e:
        search_spec(dataclasses.replace(recipe, search=block), "mcu")
    assert "dcase_student_search.yaml: field 'search" in str(e.value)


def test_plans_change_only_the_recipe(recipe):
    base, spec = recipe.profile(True), search_spec(recipe, "mcu", quick=True)
    trial = plan_recipe(base, spec, {"width": 0.5, "sparsity": 0.5, "distill": False})
    assert [(s.name, s.kind) for s in trial.steps] == [("distill", "train"), (PRUNE_STEP, "prune"),
                                                       ("ptq", "export_tflite")]
    assert set(trial.models) == {"student"}             # the teacher is not needed when the plan does not distill
    assert trial.steps[1].params["target_sparsity"] == 0.5 and trial.steps[0].params["loss"] == "auto"
    assert trial.steps[0].params["epochs"] == 2         # the search's quick profile
    delivered = plan_recipe(base, spec, {"width": 1.0, "sparsity": 0.0, "distill": True}, deliver=True)
    assert [s.kind for s in delivered.steps] == ["train", "distill", "export_tflite"]
    assert delivered.quick == {"steps": {}, "models": {}}   # the engine must not undo the plan with its profile
    tuned = plan_recipe(base, spec, {"distill": True, "epochs": 5, "lr": 0.01})
    assert next(s for s in tuned.steps if s.name == "distill").params["epochs"] == 5


def test_width_scales_all_but_the_head_and_cheap_check_rejects_before_training(recipe):
    from compressor.search.plans import delivered_model

    data = dataclasses.make_dataclass("D", ["x_train", "classes"])(__import__("numpy").zeros((1, 80, 51, 1)),
                                                                    list("abcdefghij"))
    small = delivered_model(recipe, {"width": 0.5}, data, 0)
    assert small.output_shape == (None, 10)
    assert [layer.filters for layer in small.layers if hasattr(layer, "filters")] == [16] * 7 + [10]
    counts, failed = cheap_check(delivered_model(recipe, {"width": 1.5}, data, 0), {"recipe": recipe.budgets})
    assert counts["macs"] > 30e6 and {r["name"] for r in failed} == {"params", "macs"}
    counts, failed = cheap_check(small, {"recipe": recipe.budgets, "cli": {"accuracy>=": 0.9}})
    assert failed == [] and counts["params"] < 57_856      # a metric floor is judged after training, not here


def entry(metric, cost, status="ok", fits=True, failed=()):
    return {"plan": {"width": cost}, "status": status, "fits": fits, "figures": {"accuracy": metric, "macs": cost},
            "failed_budgets": list(failed)}


def test_pareto_set_and_choice():
    assert dominates((0.9, 1), (0.8, 2), ("max", "min")) and not dominates((0.9, 3), (0.8, 2), ("max", "min"))
    entries = [entry(0.8, 10), entry(0.7, 5), entry(0.75, 12), entry(0.95, 1, fits=False), entry(0.9, 20),
               entry(None, None, status="failed", fits=False)]
    assert pareto_indices(entries, "accuracy", "max", "macs") == [4, 0, 1]
    assert best(entries, "accuracy", "max", "macs") == 4


def test_no_fit_names_the_budget_every_trial_failed(recipe):
    row = {"name": "flash_bytes", "op": "<=", "limit": 1000, "source": "cli"}
    entries = [entry(0.8, 10, fits=False, failed=[row]), entry(0.7, 5, fits=False, failed=[row]),
               entry(None, None, status="failed", fits=False)]
    assert "flash_bytes <= 1,000 (cli) failed by 2 of 2 judged trial(s)" == _why_none(entries)
    section = search_section(entries, search_spec(recipe, "mcu"), {}, False)
    assert section["delivered"] is None and section["counts"] == {"trials": 3, "ok": 2, "failed": 1,
                                                                   "infeasible": 0, "stopped_early": 0, "fit": 0}
    assert "no plan delivered: flash_bytes" in section["summary"]


def test_a_users_model_plan_keeps_it_as_given_at_width_1_and_distills_a_narrower_one():
    from compressor.search.runner import as_given_plan
    user = load_checked_recipe("default_mcu_search")
    spec = search_spec(user, "mcu", quick=True)
    assert spec.early_stop is None and search_spec(user, "mcu").early_stop is None
    on = search_spec(dataclasses.replace(user, search={**user.search, "early_stop": {"grace_epochs": 3}}), "mcu")
    assert on.early_stop == {"grace_epochs": 3, "reduction_factor": 3}
    given = plan_recipe(user.profile(True), spec, {"width": 1.0, "sparsity": 0.0}, deliver=True)
    assert [s.kind for s in given.steps] == ["export_tflite"] and set(given.models) == {"model"}
    pruned = plan_recipe(user.profile(True), spec, {"width": 1.0, "sparsity": 0.5})
    assert [s.kind for s in pruned.steps] == ["prune", "export_tflite"]   # the model as given, pruned first
    narrow = plan_recipe(user.profile(True), spec, {"width": 0.5, "sparsity": 0.0}, deliver=True)
    assert [(s.kind, s.teacher) for s in narrow.steps] == [("distill", "original"), ("export_tflite", None)]
    assert as_given_plan(spec) == {"width": 1.0, "sparsity": 0.0, "tflite_activations": "int8"}


@pytest.mark.parametrize("block, match", [
    ({"trial_timeout_s": 0}, "trial_timeout_s: a positive number"),
    ({"early_stop": {"grace": 2}}, "early_stop: true, false, or a mapping"),
    ({"early_stop": {"grace_epochs": 0}}, "grace_epochs: a whole number"),
])
def test_timeout_and_early_stop_mistakes_name_the_field(recipe, block, match):
    with pytest.raises(BadInput, match=match):
        search_spec(dataclasses.replace(recipe, search=block), "mcu")


def test_figures_print_without_scientific_notation(recipe):
    from compressor.search.text import readable
    assert [readable(v) for v in (26816, 1e6, 0.045123, 0.79166, 3.2e-5, 0)] == [
        "26,816", "1,000,000", "0.04512", "0.7917", "0.000032", "0"]
    entries = [entry(0.8, 123456, fits=True)]
    section = search_section(entries, search_spec(recipe, "mcu"), {}, False)
    assert "accuracy 0.8, macs 123,456)" in section["summary"] and "e+" not in section["summary"]


def test_a_trial_stopped_early_is_recorded_so_and_left_out_of_the_pareto_set(recipe):
    from compressor.search.early import EPOCH_KEY, stopped_entry
    stopped = stopped_entry({"width": 0.25}, {"training_iteration": 2, EPOCH_KEY: 0.3125}, "accuracy")
    assert stopped["status"] == "stopped early" and stopped["why"] == (
        "stopped by ASHA after 2 epoch(s): accuracy 0.3125 on the validation split")
    section = search_section([entry(0.8, 10), stopped], search_spec(recipe, "mcu"), {}, False)
    assert section["pareto"] == [1] and section["counts"]["stopped_early"] == 1
    assert "1 stopped early" in section["summary"]
