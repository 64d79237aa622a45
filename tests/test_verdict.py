"""The verdict is never green when a proof is red, and a user's budget only tightens the board's: the `compress
--model` path and `compress check`, end to end through the CLI on tiny models."""

import json

import numpy as np
import pytest
import tensorflow as tf

from compressor.cli import main
from compressor.errors import EXIT_BUDGET, EXIT_OK, EXIT_VERIFY

keras = tf.keras


def outlier_model():
    """A model whose int8 form cannot be right: one hidden channel holds a huge constant (5,000) that the next layer
    ignores; per-tensor int8 activations spend their whole range on it and round the useful channels to 0."""
    inp = keras.Input((16,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(4, name="out")(hidden)
    model = keras.Model(inp, out, name="outlier")
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(0, 0.3, (16, 8)).astype("float32"), np.zeros(8, "float32")
    w1[:, 0], b1[0] = 0, 5000.0
    w2 = rng.normal(0, 0.5, (8, 4)).astype("float32")
    w2[0, :] = 0
    model.get_layer("hidden").set_weights([w1, b1])
    model.get_layer("out").set_weights([w2, np.zeros(4, "float32")])
    return model


def wide_input_model():
    """Small weights, big activations: a Conv1D over 100,000 samples needs ~0.9 MB of arena, over a Cortex-M4's
    640 KiB SRAM."""
    inp = keras.Input((100_000, 1))
    out = keras.layers.Conv1D(8, 3, padding="same", name="conv")(inp)
    return keras.Model(inp, out, name="wide")


@pytest.fixture(scope="module")
def unverified_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unverified")
    outlier_model().save(folder / "outlier.keras")
    np.save(folder / "x.npy", np.random.default_rng(1).normal(0, 1, (64, 16)).astype("float32"))
    out = folder / "out"
    code = main(["--target", "cortex-m4", "--model", str(folder / "outlier.keras"), "--data", str(folder / "x.npy"),
                 "--out", str(out)])
    return code, out


def test_a_failed_int8_check_fails_the_run_in_every_output(unverified_run, capsys):
    code, out = unverified_run
    assert code == EXIT_VERIFY
    record = json.loads((out / "report.json").read_text())
    assert record["verdict"] == "unverified"
    failed = [c for c in record["checks"] if c["verdict"] == "fail"]
    assert failed and failed[0]["name"] == "int8_max_error_lsb" and failed[0]["value"] > failed[0]["limit"] == 16
    assert all(b["verdict"] == "pass" for b in record["budgets"])      # every budget holds, the run still fails
    summary = (out / "summary.md").read_text()
    assert summary.startswith("### ❌") and "int8 vs Keras" in summary.splitlines()[0]
    assert "PASS" not in summary.splitlines()[0]
    capsys.readouterr()
    assert main(["check", str(out / "report.json")]) == EXIT_VERIFY
    assert "verification failed: int8 vs Keras" in capsys.readouterr().err
    assert main(["check", str(out / "report.json"), "--budget", "flash=1e9"]) == EXIT_VERIFY   # budgets cannot hide it


@pytest.mark.browser
def test_the_html_banner_of_an_unverified_run_is_the_failing_one(unverified_run):
    from test_report_browser import banner_of

    _, out = unverified_run
    verdict, text, colour = banner_of(out / "report.html")
    assert verdict == "unverified" and "int8 vs Keras" in text
    assert colour == banner_of_fail_colour()


def banner_of_fail_colour():
    """The colour report.html gives a run whose budget fails, read from the same browser."""
    from test_report_browser import FIXTURES, banner_of
    from compressor.report import html

    record = json.loads((FIXTURES / "speech_analyze.json").read_text())
    record["budgets"][0].update(verdict="fail", limit=1)
    record["verdict"] = "fail"
    path = FIXTURES.parent.parent / "artifacts" / "fail_banner.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(html.render(record))
    return banner_of(path)[2]


def test_a_looser_user_budget_keeps_the_boards_failure(tmp_path, capsys):
    wide_input_model().save(tmp_path / "wide.keras")
    out = tmp_path / "out"
    assert main(["--target", "cortex-m4", "--model", str(tmp_path / "wide.keras"), "--out", str(out)]) == EXIT_BUDGET
    report = str(out / "report.json")
    capsys.readouterr()
    assert main(["check", report, "--budget", "arena_bytes=3e6"]) == EXIT_BUDGET
    table = capsys.readouterr().out
    arena = [line for line in table.splitlines() if line.startswith("arena_bytes")]
    assert len(arena) == 2 and "FAIL" in arena[0] and "(target;" in arena[0] and "(cli;" in arena[1]
    record = json.loads(open(report).read())
    assert {(b["source"], b["verdict"]) for b in record["budgets"] if b["name"] == "arena_bytes"} == {
        ("target", "fail")}
    assert main(["check", report, "--budget", "macs=1"]) == EXIT_BUDGET
    assert main(["check", report, "--budget", "accuracy>=0.5"]) == 2       # the report has no accuracy: bad input
    assert "accuracy: this report has no such figure" in capsys.readouterr().err


def test_a_run_with_a_looser_budget_than_the_board_still_fails(tmp_path):
    wide_input_model().save(tmp_path / "wide.keras")
    code = main(["--target", "cortex-m4", "--model", str(tmp_path / "wide.keras"), "--out", str(tmp_path / "o"),
                 "--budget", "ram=3e6"])
    assert code == EXIT_BUDGET


def test_budget_typos_are_named_with_the_known_figures(tmp_path, capsys):
    outlier_model().save(tmp_path / "m.keras")
    assert main(["analyze", str(tmp_path / "m.keras"), "--target", "cortex-m4", "--budget", "acuracy>=0.9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown figure 'acuracy'" in err[0] and "accuracy, log_loss" in err[0]
    assert main(["analyze", str(tmp_path / "m.keras"), "--target", "cortex-m4", "--budget", "macs>=1"]) == EXIT_OK
    assert main(["analyze", str(tmp_path / "m.keras"), "--target", "cortex-m4", "--budget", "macs>=1e9"]) == 3
