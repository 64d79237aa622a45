"""compress search on the user's own model (recipes/default_mcu_search.yaml) on Ray Tune, local: a conv net made here,
over a flash and a latency budget of cortex-m4 at width 1, is searched (width with distillation from it, pruning) and
a plan that fits is delivered with its int8 + TFLite Micro proof and the accuracy it costs; a budget no width meets
exits 3 naming it; a trial over --trial-timeout is recorded failed and the search goes on."""

import json
import os

import numpy as np
import pytest

from compressor.cli import main

# one xdist worker runs every Ray test in turn: the cluster test's `ray stop --force` ends every Ray on the machine
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

CLASSES = 4
# the net as made below: int8 flash 26,816 bytes, latency 0.17 s estimated on cortex-m4; width 0.5 is ~9,600 bytes
# and ~0.05 s, width 0.75 ~16,900 bytes and ~0.1 s
BUDGETS = ["--budget", "flash=16000", "--budget", "latency=0.08"]


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    """A trained Conv2D classifier (logits out, as Hinton KD takes them) and its labelled data: each class is a
    brighter band of rows in noise - learnable in a few epochs."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("user")
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, 320)
    x = rng.normal(0, 0.5, (len(y), 16, 16, 1)).astype("float32")
    for i, c in enumerate(y):
        x[i, 4 * c:4 * c + 4, :, 0] += 1.5
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 1)), tf.keras.layers.Conv2D(48, 3, activation="relu"),
        tf.keras.layers.Conv2D(48, 3, activation="relu"), tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(CLASSES)], name="user_net")
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    model.save(folder / "net.keras")
    np.savez(folder / "data.npz", x=x, y=y)
    return folder / "net.keras", folder / "data.npz"


def search(model_and_data, out, *extra):
    model, data = model_and_data
    return main(["search", "--target", "cortex-m4", "--model", str(model), "--data", str(data), "--quick",
                 "--out", str(out), *extra])


def test_the_search_delivers_a_plan_that_fits_with_the_metric_it_costs(model_and_data, tmp_path, capsys):
    out = tmp_path / "out"
    code = search(model_and_data, out, "--trials", "4", *BUDGETS)
    printed = capsys.readouterr().out
    assert code == 0, printed[-3000:]
    record = json.loads((out / "report.json").read_text())
    s = record["search"]
    given = s["trials"][0]          # the model as given is measured first: what the delivered plan costs is known
    assert given["plan"] == {"width": 1.0, "sparsity": 0.0, "tflite_activations": "int8"}
    assert given["status"] == "ok" and not given["fits"]
    assert {b["name"] for b in given["failed_budgets"]} == {"flash_bytes", "latency_s"}
    delivered = s["delivered"]
    assert delivered["plan"]["width"] < 1.0 and delivered["verdict"] == "pass"
    assert s["metric_cost"]["given"] == given["figures"]["accuracy"]
    assert s["metric_cost"]["delivered"] == delivered["search_figures"]["accuracy"]
    assert "as given ->" in s["summary"] and "e+0" not in s["summary"] and s["summary"] in printed
    # the delivered plan re-run with its export (int8, or int16 activations): under both budgets, checked against
    # Keras and in TFLite Micro
    assert record["verdict"] == "pass"
    assert record["figures"]["flash_bytes"]["value"] <= 16000 and record["figures"]["latency_s"]["value"] <= 0.08
    label, name = {"int8": ("int8", "model_int8.tflite"), "int16": ("int16x8", "model_int16x8.tflite")}[
        delivered["plan"]["tflite_activations"]]
    assert {f"{label} vs Keras", "TFLite Micro vs TFLite"} <= {c["title"] for c in record["checks"]
                                                               if c["verdict"] == "pass"}
    assert record["artifacts"]["tflite"] == name and (out / name).is_file() and (out / "model_data.cc").is_file()
    assert record["model"]["source"] == str(model_and_data[0])


def test_a_budget_no_width_meets_exits_3_naming_it(model_and_data, tmp_path, capsys):
    out = tmp_path / "out"
    code = search(model_and_data, out, "--trials", "2", "--budget", "flash=2000")
    assert code == 3
    err = capsys.readouterr().err
    assert "none of 2 trial(s) met every budget: flash_bytes <= 2,000 (cli) failed by 2 of 2" in err
    assert not (out / "report.json").exists()


def test_a_trial_over_its_timeout_is_recorded_failed_and_the_search_goes_on(model_and_data, tmp_path):
    out = tmp_path / "out"
    code = search(model_and_data, out, "--trials", "2", "--trial-timeout", "0.01")
    search_json = json.loads((out / "search.json").read_text())
    assert search_json["counts"] == {**search_json["counts"], "trials": 2, "failed": 2}
    assert all(t["why"] == "timeout after 0.01 s" for t in search_json["trials"])
    assert code == 3 and search_json["spec"]["trial_timeout_s"] == 0.01


def test_labelled_data_is_required(model_and_data, tmp_path, capsys):
    model, _ = model_and_data
    np.save(tmp_path / "x.npy", np.zeros((8, 16, 16, 1), "float32"))
    code = main(["search", "--target", "cortex-m4", "--model", str(model), "--data", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "no labels or targets; every trial trains" in capsys.readouterr().err


def test_asha_stops_a_poor_trial_early(model_and_data, tmp_path, capsys):
    """One CPU, so the trials run one after the other and ASHA's choice is reproducible: a plan that learns, then
    the same plan with a learning rate too small to learn - below the first at its 2nd epoch, it is stopped there."""
    import yaml

    from compressor.recipe import RECIPES_DIR

    data = yaml.safe_load((RECIPES_DIR / "default_mcu_search.yaml").read_text())
    data["name"] = "early_stop_search"
    good, poor = ({"width": 0.5, "sparsity": 0.0, "lr": lr} for lr in (0.003, 1e-7))
    data["search"].update({"space": {"width": [0.5], "sparsity": [0.0], "lr": [0.003, 1e-7]}, "first": [good, poor]})
    data["search"]["quick"].update({"trials": 2, "early_stop": {"grace_epochs": 2, "reduction_factor": 2}})
    recipe = tmp_path / "early_stop_search.yaml"
    recipe.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    code = search(model_and_data, out, "--recipe", str(recipe), "--cpus", "1")
    printed = capsys.readouterr().out
    assert code == 0, printed[-3000:]
    s = json.loads((out / "report.json").read_text())["search"]
    first, second = s["trials"]
    assert first["plan"] == good and first["status"] == "ok"
    assert second["plan"] == poor and second["status"] == "stopped early" and second["epochs"] == 2
    assert second["why"].startswith("stopped by ASHA after 2 epoch(s): accuracy ")
    assert s["pareto"] == [1] and s["counts"]["stopped_early"] == 1
    assert s["spec"]["early_stop"] == {"grace_epochs": 2, "reduction_factor": 2}
    assert "-> stopped early after 2 epoch(s)" in printed
