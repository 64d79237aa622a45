"""Recipe and target files: every shipped one loads; each kind of mistake is one clear error naming file and field;
random and corrupted files never give a traceback (hypothesis, fixed example budget)."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compressor.errors import BadInput
from compressor.engine import load_checked_recipe as load_recipe  # with the step and family registries
from compressor.recipe import recipe_names
from compressor.steps import step_params
from compressor.targets import load_target, target_names

SHIPPED = ["dcase_student_int8", "dcase_student_search", "default_fpga", "default_fpga_search", "default_mcu",
           "default_mcu_search", "effects_gru_tor", "encodecmae_lite_int8", "fpga_cae_8bit", "fpga_cae_search",
           "fpga_cae_ternary", "speech_cnn_int8"]     # default_*: for a model of your own

GOOD = {
    "name": "tiny", "description": "a tiny recipe", "family": "speech", "target": "cortex-m4",
    "models": {"cnn": {"zoo": "speech_cnn1d"}}, "deliver": "cnn",
    "steps": [{"name": "train", "kind": "train", "model": "cnn", "params": {"loss": "crossentropy", "epochs": 3}},
              {"name": "ptq", "kind": "ptq", "model": "cnn"}],
    "budgets": {"macs": 30000000},
    "quick": {"steps": {"train": {"epochs": 1}}},
}


def write(tmp_path, data, name="r.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_every_shipped_recipe_and_target_loads():
    assert recipe_names() == SHIPPED
    for name in SHIPPED:
        recipe = load_recipe(name)
        assert recipe.deliver in recipe.models
        assert load_target(recipe.target).name == recipe.target
    assert {"cortex-m4", "cortex-m7", "cortex-m33", "pynq-z2"} <= set(target_names())


def test_quick_profile_overrides_steps_and_models():
    recipe = load_recipe("dcase_student_int8")
    full, quick = recipe.profile(False), recipe.profile(True)
    assert full.models["teacher"].args == {}
    assert quick.models["teacher"].args == {"width": 0.25, "weights": "builtin"}
    def epochs(recipe):
        return {s.name: s.params["epochs"] for s in recipe.steps if "epochs" in s.params}
    assert epochs(quick)["train_teacher"] == 0 < epochs(full)["train_teacher"]
    assert epochs(full)["distill"] == 22 < epochs(quick)["distill"]   # the source's 22; quick has 300 clips
    # untouched parameters survive the merge
    distill = next(s.params for s in quick.steps if s.name == "distill")
    assert distill["temperature"] == 2 and distill["alpha"] == 0.1 and distill["lr_schedule"] == "cosine"


@pytest.mark.parametrize("quick", [False, True])
def test_dcase_students_with_and_without_kd_train_alike(quick):
    """The KD comparison is fair in both profiles: same initial weights, optimizer, schedule, epochs and batches."""
    recipe = load_recipe("dcase_student_int8").profile(quick)
    assert recipe.models["student_no_kd"].copy_of == "student"
    params = {s.name: step_params(recipe, s) for s in recipe.steps}   # defaults filled in
    shared = ("optimizer", "lr", "lr_schedule", "epochs", "batch_size")
    assert {k: params["train_student_no_kd"][k] for k in shared} == {k: params["distill"][k] for k in shared}


def mutated(**changes):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


DELETE = object()


@pytest.mark.parametrize("changes, expected", [
    ({"familly": "speech"}, "unknown field 'familly'"),
    ({"family": "music"}, "field 'family': expected one of"),
    ({"deliver": "nope"}, "field 'deliver'"),
    ({"steps.0.kind": "trian"}, "field 'kind': expected one of"),
    ({"steps.0.model": "other"}, "field 'model'"),
    ({"steps.0.epochs": 3}, "unknown field 'epochs'"),
    ({"budgets": {"macs": -1}}, "budgets.macs"),
    ({"quick": {"steps": {"trian": {"epochs": 1}}}}, "quick.steps.trian"),
    ({"models": {"cnn": {"zoo": "speech_cnn1d", "path": "x.keras"}}}, "exactly one of"),
    ({"steps": [{"name": "ptq", "kind": "ptq", "model": "cnn"}]}, "export_tflite of model 'cnn' before any step trains it"),
    ({"steps.1.teacher": "cnn"}, "only distill steps have one"),
])
def test_mistakes_are_named(tmp_path, changes, expected):
    path = write(tmp_path, mutated(**changes))
    with pytest.raises(BadInput) as err:
        load_recipe(path)
    message = str(err.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(BadInput, match="unknown recipe 'fpga_cae_ternry'.*fpga_cae_ternary"):
        load_recipe("fpga_cae_ternry")


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(BadInput, match="unknown target 'cortex-m5'.*cortex-m4"):
        load_target("cortex-m5")


def test_target_field_errors(tmp_path):
    good = yaml.safe_load((load_target.__globals__["TARGETS_DIR"] / "cortex-m4.yaml").read_text())
    bad = dict(good, kernels="cmsis")
    with pytest.raises(BadInput, match="field 'kernels': expected one of"):
        load_target(write(tmp_path, bad, "t.yaml"))
    bad = dict(good, clock_hz=-5)
    with pytest.raises(BadInput, match="field 'clock_hz': must be positive"):
        load_target(write(tmp_path, bad, "t.yaml"))


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(list(GOOD) + ["extra"]), yaml_values, max_size=9))
def test_fuzzed_recipes_fail_cleanly(tmp_path, data):
    path = write(tmp_path, data)
    try:
        load_recipe(path)
    except BadInput as e:
        assert str(path) in str(e) and "\n" not in str(e)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 2000), junk=st.binary(max_size=40))
def test_truncated_or_corrupted_files_fail_cleanly(tmp_path, cut, junk):
    text = yaml.safe_dump(GOOD)
    path = tmp_path / "r.yaml"
    path.write_bytes(text.encode()[:cut] + junk)
    try:
        load_recipe(path)
    except BadInput as e:
        assert str(path) in str(e)
    path.write_bytes((load_target.__globals__["TARGETS_DIR"] / "pynq-z2.yaml").read_bytes()[:cut] + junk)
    try:
        load_target(path)
    except BadInput as e:
        assert str(path) in str(e)
