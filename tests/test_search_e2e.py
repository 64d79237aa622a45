"""compress search end to end on Ray Tune (local, 2 CPUs): the shipped quick search delivers a plan meeting every
budget with its int8 + TFLite Micro proof; trials that raise or go NaN are recorded failed and the search goes on;
a budget no plan can meet exits 3 naming it."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compressor.cli import main
from compressor.recipe import RECIPES_DIR

# one xdist worker runs every Ray test in turn: the cluster test's `ray stop --force` ends every Ray on the machine
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


BIN = Path(sys.executable).parent
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "TF_CPP_MIN_LOG_LEVEL": "2"}


QUICK_SEARCH = []   # kept here, as pytest-xdist tears module fixtures down when a worker ends a group of tests


@pytest.fixture(scope="module")
def quick_search(tmp_path_factory):
    """The shipped quick search, uninterrupted: (exit code, output folder, what it printed)."""
    if not QUICK_SEARCH:
        out = tmp_path_factory.mktemp("search") / "out"
        run = subprocess.run([str(BIN / "compress"), "search", "--recipe", "dcase_student_search", "--quick", "--out",
                              str(out)], capture_output=True, text=True, env=ENV, timeout=900)
        QUICK_SEARCH.append((run.returncode, out, run.stdout))
    return QUICK_SEARCH[0]


def front(trials, n=None):
    """The Pareto set of the first n trials, as (plan, accuracy, MACs)."""
    from compressor.search.pareto import pareto_indices
    trials = trials[:n] if n else trials
    return sorted((json.dumps(trials[i]["plan"], sort_keys=True), round(trials[i]["figures"]["accuracy"], 4),
                   trials[i]["figures"]["macs"]) for i in pareto_indices(trials, "accuracy", "max", "macs"))


def test_quick_search_delivers_a_plan_that_fits(quick_search):
    code, out, printed = quick_search
    assert code == 0, printed[-3000:]
    record = json.loads((out / "report.json").read_text())
    search = record["search"]
    assert search["counts"]["trials"] >= 8 and search["counts"]["fit"] >= 1
    assert {t["status"] for t in search["trials"]} <= {"ok", "failed", "infeasible"}
    assert all(t["plan"].keys() == {"width", "sparsity", "distill"} for t in search["trials"])
    by_number = {t["trial"]: t for t in search["trials"]}
    assert search["pareto"] and all(by_number[n]["fits"] for n in search["pareto"])
    assert search["delivered"]["trial"] == search["pareto"][0]
    assert search["delivered"]["plan"] == by_number[search["pareto"][0]]["plan"] == record["recipe"]["search_plan"]
    # the delivered plan was run again with its export: every budget and every check holds
    assert record["verdict"] == "pass" and search["delivered"]["verdict"] == "pass"
    titles = {c["title"] for c in record["checks"] if c["verdict"] == "pass"}
    assert {"int8 vs Keras", "TFLite Micro vs TFLite"} <= titles
    assert (out / "model_int8.tflite").is_file() and (out / "model_data.cc").is_file()
    assert (out / "search_state" / "tune").is_dir()          # Ray Tune's experiment: what --resume restores
    assert search["summary"] in (out / "summary.md").read_text()
    assert search["summary"] in printed
    # infeasible plans (width 1.5 breaks the DCASE MAC rule) were never trained
    for t in search["trials"]:
        if t["status"] == "infeasible":
            assert t["why"].startswith("before training") and "accuracy" not in t["figures"]


def failing_recipe(tmp_path):
    """The shipped search, small: two plans first, one that raises mid-run (an unknown pruning schedule) and one
    whose learning rate makes the loss NaN."""
    data = yaml.safe_load((RECIPES_DIR / "dcase_student_search.yaml").read_text())
    data["name"] = "failing_search"
    data["search"].update({
        "space": {"width": [0.25], "sparsity": [0.0, 0.5], "distill": [False], "lr": [0.003, 1e30]},
        "prune": {"schedule": "no-such-schedule"},
        "first": [{"width": 0.25, "sparsity": 0.5, "distill": False, "lr": 0.003},
                  {"width": 0.25, "sparsity": 0.0, "distill": False, "lr": 1e30}]})
    data["search"]["quick"]["trials"] = 4
    path = tmp_path / "failing_search.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_trials_that_raise_or_diverge_are_recorded_failed(tmp_path):
    out = tmp_path / "out"
    code = main(["search", "--recipe", str(failing_recipe(tmp_path)), "--quick", "--out", str(out)])
    search = json.loads((out / "search.json").read_text())
    first, second = search["trials"][:2]
    assert first["status"] == "failed" and "no-such-schedule" in first["why"]
    assert second["status"] == "failed" and "diverged" in second["why"]
    assert search["counts"]["trials"] == 4
    ok = [t for t in search["trials"] if t["status"] == "ok"]
    assert code == (0 if ok else 3)
    if ok:
        assert search["delivered"]["plan"]["lr"] == 0.003 and search["delivered"]["plan"]["sparsity"] == 0.0


def test_a_budget_no_plan_meets_exits_3_naming_it(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["search", "--recipe", "dcase_student_search", "--quick", "--trials", "4", "--out", str(out),
                 "--budget", "macs=1000"])
    assert code == 3
    err = capsys.readouterr().err
    assert "none of 4 trial(s) met every budget: macs <= 1,000 (cli) failed by 4 of 4" in err
    search = json.loads((out / "search.json").read_text())
    assert {t["status"] for t in search["trials"]} == {"infeasible"} and search["delivered"] is None
    assert not (out / "report.json").exists()       # nothing delivered


def test_sigterm_then_resume_gives_the_same_pareto_set(quick_search, tmp_path):
    """Stopped by SIGTERM after its first trial, resumed: the same plans and Pareto set as the uninterrupted run's
    first 4 trials (same seed: the sampler's first plans do not depend on the timing)."""
    out = tmp_path / "out"
    command = [str(BIN / "compress"), "search", "--recipe", "dcase_student_search", "--quick", "--trials", "4",
               "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        for line in proc.stdout:
            if line.startswith("search: trial "):      # the first trial to finish (numbered as created)
                proc.send_signal(signal.SIGTERM)
                break
        proc.stdout.read()
        assert proc.wait(timeout=300) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = json.loads((out / "search.json").read_text())
    assert 1 <= stopped["counts"]["trials"] < 4 and not (out / "report.json").exists()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=ENV, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    search = json.loads((out / "report.json").read_text())["search"]
    assert search["resumed"] and search["counts"]["trials"] == 4
    reference = json.loads((quick_search[1] / "search.json").read_text())["trials"]
    plans = lambda trials: sorted(json.dumps(t["plan"], sort_keys=True) for t in trials)   # noqa: E731
    assert plans(search["trials"]) == plans(reference[:4])
    assert front(search["trials"]) == front(reference, 4)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_search_runs_on_a_ray_cluster(tmp_path):
    """A Ray head on 127.0.0.1 (started and stopped here); the search reaches it with --address, no code change."""
    port, ray = free_port(), str(BIN / "ray")
    subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus",
                    "2", "--include-dashboard", "false", "--disable-usage-stats"], check=True, env=ENV,
                   capture_output=True, timeout=180)
    try:
        out = tmp_path / "out"
        run = subprocess.run([str(BIN / "compress"), "search", "--recipe", "dcase_student_search", "--quick",
                              "--trials", "2", "--address", f"127.0.0.1:{port}", "--out", str(out)],
                             capture_output=True, text=True, env=ENV, timeout=900)
        assert run.returncode in (0, 3), run.stdout[-3000:] + run.stderr[-3000:]
        assert f"Ray cluster at 127.0.0.1:{port}" in run.stdout
        search = json.loads((out / "search.json").read_text())
        assert search["counts"]["trials"] == 2
    finally:
        subprocess.run([ray, "stop", "--force"], env=ENV, capture_output=True, timeout=180)
