"""The FPGA search space, without Ray: kernel / activation quantizers a block and hls4ml's reuse factor and strategy
as data (recipes/fpga_cae_search.yaml), a plan changing exactly the recipe fields it names, bad knob values as one
line naming the field, a trial's export deciding the plan's design for the estimate without a C simulation, and
the cheap check rejecting a design far over a resource budget before training."""

import dataclasses

import numpy as np
import pytest

from compressor.engine import load_checked_recipe
from compressor.errors import BadInput
from compressor.search.plans import plan_recipe
from compressor.search.space import search_spec

PLAN = {"kernel:dec_dense": 2, "kernel:dec_conv[0-2]": "quantized_po2(4)", "activation": 8, "reuse_factor": 256,
        "strategy": "Latency"}


@pytest.fixture(scope="module")
def recipe():
    return load_checked_recipe("fpga_cae_search")


def test_blocks_are_knobs_of_their_own_and_the_quick_profile_is_ci_sized(recipe):
    spec = search_spec(recipe, "fpga", quick=True)
    assert set(spec.space) == {"kernel:dec_dense", "kernel:dec_conv[0-2]", "activation", "reuse_factor", "strategy"}
    assert spec.space["kernel:dec_dense"] == ["stochastic_ternary", 2, 4]
    assert (spec.metric, spec.metric_mode, spec.cost) == ("mse", "min", "latency_s")
    assert spec.trials == 8 and spec.clips == 32 and spec.steps["train_float"] == {"epochs": 1}


def test_a_plan_changes_exactly_the_fields_it_names(recipe):
    base, spec = recipe.profile(True), search_spec(recipe, "fpga", quick=True)
    trial = plan_recipe(base, spec, PLAN)
    before = {s.name: s.params for s in plan_recipe(base, spec, {}).steps}        # the same profile, no knob set
    after = {s.name: s.params for s in trial.steps}
    assert before.keys() == after.keys() == {"train_float", "quantize", "prune", "export_hls"}
    assert after["train_float"] == before["train_float"] and after["prune"] == before["prune"]
    rules_before, rules_after = before["quantize"]["rules"], after["quantize"]["rules"]
    assert rules_after["dec_dense"] == {**rules_before["dec_dense"], "kernel": "quantized_bits(2,0,1)",
                                        "activation": "quantized_relu(8,2)"}
    assert rules_after["dec_conv[0-2]"]["kernel"] == "quantized_po2(4)"     # a QKeras string goes as it is
    assert rules_after["dec_conv3"] == rules_before["dec_conv3"]            # no activation to set: its sigmoid stays
    assert rules_after["enc_dense"] == rules_before["enc_dense"]
    assert rules_after["enc_conv*"] == {**rules_before["enc_conv*"], "activation": "quantized_relu(8,2)"}
    assert after["quantize"]["fine_tune"] == before["quantize"]["fine_tune"]
    # a trial's export only decides the design (no C simulation); the delivered plan's runs it in full
    assert before["export_hls"]["csim"] is False
    assert after["export_hls"] == {**before["export_hls"], "reuse_factor": 256, "strategy": "Latency"}
    delivered = {s.name: s.params for s in plan_recipe(base, spec, PLAN, deliver=True).steps}
    assert "csim" not in delivered["export_hls"] and delivered["export_hls"]["reuse_factor"] == 256
    assert recipe.steps[1].params["rules"]["dec_dense"]["kernel"] == "stochastic_ternary"   # the recipe untouched


def test_a_list_sets_every_rule_and_the_default_a_new_glob_is_a_rule_of_its_own():
    user = load_checked_recipe("default_fpga")
    spec = search_spec(user, "fpga")                        # no search block: the FPGA defaults
    assert set(spec.space) == {"kernel", "reuse_factor", "strategy"} and spec.cost == "LUT"
    trial = plan_recipe(user, spec, {"kernel": 4, "kernel:out*": "stochastic_ternary", "activation": 6})
    params = trial.steps[0].params
    assert params["default"]["kernel"] == "quantized_bits(4,0,1)"
    assert params["default"]["activation"] == "quantized_relu(6,2)"
    assert params["default"]["bias"] == user.steps[0].params["default"]["bias"]
    assert params["rules"] == {"out*": {"kernel": "stochastic_ternary"}}


@pytest.mark.parametrize("space, match", [
    ({"kernel": {"dec_dense": [1]}}, r"kernel\.dec_dense: value 1 is out of range \(2-16 bits or a QKeras"),
    ({"kernel": {"dec_dense": ["quantized_bitz(4)"]}}, r"kernel\.dec_dense: value 'quantized_bitz\(4\)' is out"),
    ({"kernel": {"dec:dense": [4]}}, r"kernel: 'dec:dense' is not a layer-name glob"),
    ({"kernel": {}}, r"kernel: expected a mapping layer-name glob"),
    ({"activation": [True]}, r"activation: value True is out of range"),
    ({"reuse_factor": [0]}, r"reuse_factor: value 0 is out of range \(a whole number, at least 1\)"),
    ({"strategy": ["Fast"]}, r"strategy: value 'Fast' is out of range \(Latency or Resource\)"),
    ({"io_type": ["io_serial"]}, r"io_type: value 'io_serial' is out of range \(io_parallel or io_stream\)"),
    ({"reuse_factor": []}, r"reuse_factor: expected a non-empty list"),
])
def test_bad_knob_values_are_one_line_naming_the_field(recipe, space, match):
    with pytest.raises(BadInput, match=match) as e:
        search_spec(dataclasses.replace(recipe, search={"space": space}), "fpga")
    assert "fpga_cae_search.yaml: field 'search'.space." in str(e.value) and "\n" not in str(e.value)


def test_fpga_knobs_need_an_fpga_target_and_the_step_they_change(recipe):
    mcu = load_checked_recipe("dcase_student_search")
    with pytest.raises(BadInput, match=r"space\.kernel: an FPGA knob .* the target is an mcu"):
        search_spec(dataclasses.replace(mcu, search={"space": {"kernel": [4]}}), "mcu")
    no_export = dataclasses.replace(recipe, steps=recipe.steps[:3], search={"space": {"reuse_factor": [4]}})
    with pytest.raises(BadInput, match=r"space\.reuse_factor: the recipe has no export_hls step of 'cae'"):
        search_spec(no_export, "fpga")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small Dense classifier (untrained) and its labelled Dataset, for default_fpga."""
    import tensorflow as tf

    from compressor.user_data import user_dataset

    folder = tmp_path_factory.mktemp("tiny")
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (96, 8)).astype("float32")
    np.savez(folder / "d.npz", x=x, y=(x[:, 0] > 0).astype("int64"))
    model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(16, activation="relu"),
                                 tf.keras.layers.Dense(2)], name="tiny")
    return model, user_dataset(folder / "d.npz", model, "classification", quick=True)


def test_a_trial_prices_the_plans_design_without_a_c_simulation(tmp_path, tiny):
    """default_fpga's trial: the estimate is of the plan's schedule (reuse factor 4, Resource), no hls4ml project is
    written."""
    from compressor.engine import run_recipe

    model, data = tiny
    user = load_checked_recipe("default_fpga")
    spec = search_spec(user, "fpga", quick=True)
    trial = plan_recipe(user.profile(True), spec, {"kernel": 4, "reuse_factor": 4, "strategy": "Resource"})
    run = run_recipe(trial, data=data, out=tmp_path / "out", quick=True, models={"model": model}, log=lambda s: None,
                     write_reports=False)
    notes = [n for s in run.record["steps"] for n in s.get("notes", [])]
    assert any(n.startswith("strategy Resource, reuse factor 4 (given)") for n in notes)
    assert any("csim: false - the design only (strategy Resource, reuse factor 4" in n for n in notes)
    assert {"LUT", "FF", "DSP", "BRAM_18K", "latency_s"} <= set(run.record["figures"])
    assert run.record["figures"]["LUT"]["provenance"] == "estimated"
    assert not (tmp_path / "out" / "hls").exists()
    assert not [c for c in run.record.get("checks") or [] if "C-sim" in c.get("title", "")]


def test_io_type_is_a_knob_of_the_export_and_the_estimate_prices_the_io_type_chosen(tiny):
    from compressor.search.feasible import design_estimate

    model, data = tiny
    user = load_checked_recipe("default_fpga")
    spec = search_spec(dataclasses.replace(user, search={"space": {"io_type": ["io_parallel", "io_stream"]}}), "fpga")
    plans = {io: plan_recipe(user.profile(True), spec, {"io_type": io}) for io in spec.space["io_type"]}
    assert [s.params["io_type"] for s in plans["io_stream"].steps if s.kind == "export_hls"] == ["io_stream"]
    parallel, stream = (design_estimate(model, plans[io], data) for io in ("io_parallel", "io_stream"))
    assert stream["FF"] > parallel["FF"]        # io_stream adds FIFOs between the layers; a Dense net has none else


def test_the_cheap_check_rejects_a_design_far_over_a_resource_budget_before_training(tiny):
    from compressor.search.feasible import ESTIMATE_FACTOR, cheap_check, design_estimate

    model, data = tiny
    user = load_checked_recipe("default_fpga")
    spec = search_spec(user, "fpga", quick=True)
    trial = plan_recipe(user.profile(True), spec, {"kernel": 8, "reuse_factor": 1, "strategy": "Latency"})
    lut = design_estimate(model, trial, data)["LUT"]
    figures, failed = cheap_check(model, {"cli": {"LUT": lut / (ESTIMATE_FACTOR + 1)}}, trial, data)
    assert figures["LUT"] == lut and [(r["name"], r["source"]) for r in failed] == [("LUT", "cli")]
    # over the budget, but by less than the factor: training (pruning, zeros) may bring it under - it is trained
    assert cheap_check(model, {"cli": {"LUT": lut / 2}}, trial, data)[1] == []
    assert design_estimate(model, load_checked_recipe("default_mcu"), data) is None      # no export_hls step


@pytest.mark.parametrize("task, metric", [("classification", "accuracy"), ("regression", "mse")])
def test_your_models_fpga_search_reads_its_metric_from_the_task(tiny, tmp_path, task, metric):
    """`compress search --target pynq-z2 --model M --data D` (recipes/default_fpga_search.yaml): the metric follows
    the model's task; a plan sets the quantizers and the hls4ml schedule of the model as given."""
    import tensorflow as tf

    from compressor.search.runner import _user_search

    model, _ = tiny
    x = np.random.default_rng(1).normal(0, 1, (64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") if task == "classification" else x[:, :2]
    if task == "regression":
        model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(2)], name="reg")
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x=x, y=y)
    recipe, _, data = _user_search(None, str(tmp_path / "m.keras"), "pynq-z2", str(tmp_path / "d.npz"), True, 0,
                                   lambda line: None)
    assert recipe.name == "default_fpga_search" and data.task == task
    spec = search_spec(recipe, "fpga", quick=True)
    assert (spec.metric, spec.cost, spec.trials) == (metric, "LUT", 8)
    assert set(spec.space) == {"kernel", "activation", "reuse_factor", "strategy"}
    plan = plan_recipe(recipe.profile(True), spec, {"kernel": 4, "activation": 4, "reuse_factor": 16,
                                                    "strategy": "Resource"})
    quantize, export = plan.steps
    assert quantize.params["default"]["kernel"] == "quantized_bits(4,0,1)"
    assert quantize.params["default"]["activation"] == "quantized_relu(4,2)"
    assert quantize.params["fine_tune"]["epochs"] == 2        # the search's quick profile
    assert (export.params["reuse_factor"], export.params["strategy"], export.params["csim"]) == (16, "Resource",
                                                                                                 False)
