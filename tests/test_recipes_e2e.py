"""Every shipped recipe, quick profile, end to end on its built-in data, as `compress --recipe NAME --quick` runs it.
Each recipe runs once (module fixture); the tests read what it recorded and wrote."""

import json

import pytest

from compressor.api import TFLM_MAX_DIFF_LSB
from compressor.cli import main
from compressor.errors import EXIT_BUDGET, EXIT_OK
from compressor.report.html import missing_views

pytestmark = pytest.mark.slow

KD_LOG_LOSS_MARGIN = 0.03   # nats: the distilled DCASE student's test log loss below the student alone's by this
KD_ACCURACY_SLACK = 0.03    # and its accuracy at most 3 points (9 of 300 clips) below


# metric budgets given on the command line of some runs: a floor a run meets, and a ceiling it cannot
RUN_BUDGETS = {"dcase_student_int8": ["min_accuracy=0.3", "max_metric_drop=0.05"],
               "effects_gru_tor": ["esr<=0.01"]}


# Under `make test` (pytest-xdist) a recipe's tests run on one worker, which runs the recipe once (the fixture below
# is per worker); the two CAE recipes share a worker, as one test reads both.
GROUP = {"fpga_cae_ternary": "cae", "fpga_cae_8bit": "cae"}


def on_its_worker(*names):
    return [pytest.param(name, marks=pytest.mark.xdist_group(GROUP.get(name, name))) for name in names]


def with_run(name):
    return pytest.mark.xdist_group(GROUP.get(name, name))


DONE = {}   # name -> (exit code, record, output folder): kept here, as pytest-xdist tears module fixtures down
            # when a worker ends a group of tests


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> (exit code, record, output folder), each recipe run at most once (per worker), on first use."""
    def run(name):
        if name not in DONE:
            out = tmp_path_factory.mktemp(name)
            budgets = [arg for b in RUN_BUDGETS.get(name, []) for arg in ("--budget", b)]
            code = main(["--recipe", name, "--quick", "--out", str(out), *budgets])
            DONE[name] = (code, json.loads((out / "report.json").read_text()), out)
        return DONE[name]
    return run


def metric(record, step, name):
    found = next(s for s in record["steps"] if s["name"] == step)
    return found["metrics"][name]["value"]


@pytest.mark.parametrize("name", on_its_worker("fpga_cae_ternary", "fpga_cae_8bit", "dcase_student_int8",
                                              "effects_gru_tor", "encodecmae_lite_int8", "speech_cnn_int8"))
def test_recipe_runs_end_to_end_and_reports_each_step(runs, name):
    code, record, out = runs(name)
    assert code in (EXIT_OK, EXIT_BUDGET)
    assert (code == EXIT_BUDGET) == (record["verdict"] == "fail")
    assert all(c["verdict"] == "pass" for c in record["checks"] if c["source"] == "check")
    assert record["status"] == "complete" and record["recipe"]["profile"] == "quick"
    planned = [s["name"] for s in record["recipe"]["steps"]]
    ran = [s["name"] for s in record["steps"]]
    assert ran[:len(planned)] == planned          # then any analysis of the result (e.g. the FPGA estimate)
    for step in record["steps"][:len(planned)]:
        assert step["seconds"] >= 0
        for fig in step["metrics"].values():
            assert fig["provenance"] in ("measured", "estimated", "counted") and fig["by"]
    assert missing_views(record) == []                      # the family's pictures are in the report
    assert (out / "report.html").stat().st_size > 10_000 and (out / "summary.md").is_file()
    assert not list(out.glob("*.part*")) and not list(out.glob(".*.part"))


@pytest.mark.parametrize("name", on_its_worker("dcase_student_int8", "effects_gru_tor", "encodecmae_lite_int8",
                                              "speech_cnn_int8"))
def test_mcu_recipes_write_a_checked_int8_model(runs, name):
    _, record, out = runs(name)
    tflite = (out / "model_int8.tflite").read_bytes()
    assert tflite[4:8] == b"TFL3"
    header = (out / "model_data.h").read_text()
    assert "g_model_len" in header and f"{len(tflite)}" in (out / "model_data.cc").read_text()
    assert record["figures"]["arena_bytes"]["provenance"] == "measured"
    ptq = next(s for s in record["steps"] if s["kind"] == "export_tflite")
    assert ptq["metrics"]["tflm_vs_tflite_lsb"]["value"] <= TFLM_MAX_DIFF_LSB
    # report.json lists every file written, the steps' beside the reports
    assert {"tflite": "model_int8.tflite", "c_array": "model_data.cc", "c_header": "model_data.h",
            "report_json": "report.json"}.items() <= record["artifacts"].items()


@with_run("dcase_student_int8")
def test_dcase_distilled_student_beats_the_student_alone_and_int8_keeps_accuracy(runs):
    _, record, _ = runs("dcase_student_int8")
    # Both students start from the same weights and see the same clips, epochs and schedule; the quick profile's
    # teacher is the shipped one, pretrained on the full built-in train split, measured here untouched. "Beats" is
    # DCASE 2022 Task 1's ranking metric, the multi-class log loss the source reports (1.416): over seeds 0-2 KD
    # lowered it by 0.07 / 0.10 / 0.21 nats. Accuracy moved -2.3 to +5 points (README, figures table): the teacher
    # (0.87-0.89) leaves the student alone (0.81-0.88) little to learn about which class is right.
    teacher_loss = metric(record, "train_teacher", "log_loss")
    assert teacher_loss == metric(record, "distill", "teacher_log_loss")
    kd_loss, alone_loss = (metric(record, step, "log_loss") for step in ("distill", "train_student_no_kd"))
    kd_acc, alone_acc = (metric(record, step, "accuracy") for step in ("distill", "train_student_no_kd"))
    assert teacher_loss < kd_loss < alone_loss - KD_LOG_LOSS_MARGIN
    assert kd_acc >= alone_acc - KD_ACCURACY_SLACK and min(kd_acc, alone_acc) > 0.3      # chance is 0.1
    float_acc, int8_acc = metric(record, "ptq", "float_accuracy"), metric(record, "ptq", "int8_accuracy")
    assert int8_acc >= float_acc - 0.01 - 1e-9      # at most 1 point (3 of the 300 clips)
    budgets = {b["name"]: b for b in record["budgets"]}
    assert budgets["params"]["limit"] == 128000 and budgets["params"]["value"] == 57856
    assert budgets["macs"]["verdict"] == "pass" and budgets["macs"]["limit"] == 30_000_000


@with_run("effects_gru_tor")
def test_effects_reports_teacher_student_and_tor_esr(runs):
    code, record, _ = runs("effects_gru_tor")
    # issue 19's goals for the quick profile (measured at seed 0: teacher 0.281, student alone 0.335, TOR 0.344)
    assert metric(record, "train_teacher", "esr") < 0.35
    assert metric(record, "train_student_no_kd", "esr") < 0.5
    assert metric(record, "distill_tor", "esr") < 0.5
    for step in ("train_teacher", "train_student_no_kd", "distill_tor"):     # timed as the source does (its CPU
        timing = next(s for s in record["steps"] if s["name"] == step)["metrics"]["seconds_for_1s_audio"]
        assert timing["value"] > 0 and timing["by"].startswith("XLA-compiled inference")   # loop compiled)
    # float and int8 on the same stretch of test audio, within 0.05 (measured 0.386 / 0.389), a check of the run
    int8, float_ = metric(record, "ptq", "int8_streaming_esr"), metric(record, "ptq", "float_span_esr")
    row = next(c for c in record["checks"] if c["name"] == "int8_vs_float_esr")
    assert row["value"] == pytest.approx(abs(int8 - float_)) and row["limit"] == 0.05 and row["verdict"] == "pass"
    rate = {b["name"]: b for b in record["budgets"]}["mac_rate"]
    assert rate["value"] == record["figures"]["macs"]["value"] * 44100
    # the run's own metric ceiling (esr <= 0.01, RUN_BUDGETS) cannot hold: the run ends in exit 3
    esr = next(b for b in record["budgets"] if b["name"] == "esr")
    assert esr["source"] == "cli" and esr["verdict"] == "fail" and code == EXIT_BUDGET
    assert esr["value"] == metric(record, "distill_tor", "esr")       # the delivered student's, not the teacher's


@with_run("effects_gru_tor")
def test_a_delivered_model_worse_than_its_comparison_carries_a_warning_row(runs):
    _, record, out = runs("effects_gru_tor")
    tor, alone = metric(record, "distill_tor", "esr"), metric(record, "train_student_no_kd", "esr")
    warnings = [c for c in record["checks"] if c["source"] == "comparison"]
    if tor > alone * 1.01:          # the TOR student is measurably worse than the same GRU trained alone
        assert [(w["verdict"], w["value"], w["limit"]) for w in warnings] == [("warn", tor, alone)]
        summary = (out / "summary.md").read_text()
        assert f"{tor:.4g}" in summary and f"{alone:.4g}" in summary
    else:
        assert warnings == []


@with_run("dcase_student_int8")
def test_metric_budgets_gate_a_run_and_compress_check(runs, capsys):
    code, record, out = runs("dcase_student_int8")
    assert code == EXIT_OK              # min_accuracy=0.3 and max_metric_drop=0.05 hold (RUN_BUDGETS)
    rows = {(b["name"], b["op"]): b for b in record["budgets"] if b["source"] == "cli"}
    assert rows[("accuracy", ">=")]["value"] == metric(record, "distill", "accuracy")
    drop = metric(record, "ptq", "float_accuracy") - metric(record, "ptq", "int8_accuracy")
    assert rows[("metric_drop", "<=")]["value"] == pytest.approx(drop, abs=5e-7)     # the record rounds it to 1e-6
    report = str(out / "report.json")
    assert main(["check", report, "--budget", "accuracy>=0.99"]) == EXIT_BUDGET
    assert main(["check", report, "--budget", "log_loss<=0.01"]) == EXIT_BUDGET
    assert main(["check", report, "--budget", "accuracy>=0.3", "--budget", "max_metric_drop=0.05"]) == EXIT_OK


@with_run("fpga_cae_ternary")
def test_cae_ternary_fits_its_board_at_the_sources_energy(runs):
    """Issue 19: Model 7 + pruning at <= 0.35x Model 1's QTools energy (SPEC 7's reading; the source's 0.3) with MSE
    <= 1.3x the float model's on the same test split, and the decoder's hls4ml design fits the PYNQ-Z2 by the
    calibrated estimate (io_stream FIFOs at the depths the project was written with): exit 0."""
    code, record, out = runs("fpga_cae_ternary")
    float_mse = metric(record, "train_float", "mse")
    final_mse = metric(record, "prune", "mse")
    assert final_mse <= 1.3 * float_mse, f"quantized+pruned MSE {final_mse:.4f} vs float {float_mse:.4f}"
    assert abs(metric(record, "prune", "sparsity") - 0.57) <= 0.02
    assert 0 < metric(record, "energy", "energy_ratio") <= 0.35
    assert code == EXIT_OK and record["verdict"] == "pass"
    assert {b["name"] for b in record["budgets"]} >= {"LUT", "FF", "DSP", "BRAM_18K"}
    assert list((out / "hls").rglob("*.so")), "compiled C-simulation library"
    assert record["artifacts"]["hls_project"] == "hls/"
    assert metric(record, "export_hls", "csim_max_error_lsb") <= 128
    assert {"LUT", "DSP", "BRAM_18K"} <= set(record["figures"])
    assert any(layer.get("energy_pj") for layer in record["layers"])


@with_run("fpga_cae_8bit")
def test_cae_8bit_is_the_energy_reference_with_an_fpga_estimate(runs):
    _, record, _ = runs("fpga_cae_8bit")
    assert metric(record, "energy", "energy_ratio") == pytest.approx(1.0)      # its own reference
    # "binary relu" trained as SPEC 7 reads it (8-bit): within 2x of Model 7's MSE (1-bit: 0.078, 6x)
    _, ternary, _ = runs("fpga_cae_ternary")
    assert metric(record, "prune", "mse") <= 2 * metric(ternary, "prune", "mse")
    assert {"LUT", "DSP", "BRAM_18K", "energy_pj"} <= set(record["figures"])
    assert abs(metric(record, "prune", "sparsity") - 0.57) <= 0.02


@with_run("encodecmae_lite_int8")
def test_mae_probe_before_and_after_distillation(runs):
    _, record, _ = runs("encodecmae_lite_int8")
    before, after = metric(record, "probe_teacher", "probe_accuracy"), metric(record, "probe_student", "probe_accuracy")
    chance = metric(record, "probe_teacher", "chance_accuracy")
    assert before > chance and after > chance
    assert record["views"]["probe"] == {"before": before, "after": after}


KILLED = "encodecmae_lite_int8"   # the shortest recipe with several training steps: killed in its third


@with_run(KILLED)
def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGTERM as the third step starts training: exit 130, no artifact in the output folder, a checkpoint;
    --resume then ends with the figures of an uninterrupted run (same seed, same machine). Stopped before the step
    finished an epoch, the run resumes at the step's start, which is exact (a resume from a finished epoch of the
    step is not: tests/test_engine.py)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def command_into(folder):
        return [sys.executable, "-m", "compressor.cli", "--recipe", KILLED, "--quick", "--out", str(folder)]

    # the uninterrupted run is a fresh process too, run beside the killed one: the same recipe run inside a test
    # worker that ran other tests before can differ in the last digits (seen: pretrain loss 6.170881 there, 6.170796
    # in every fresh process, alone or two at once)
    out, reference_out = tmp_path / "out", tmp_path / "uninterrupted"
    with open(tmp_path / "uninterrupted.txt", "w") as f:
        uninterrupted = subprocess.Popen(command_into(reference_out), stdout=f, stderr=subprocess.STDOUT)
    command = command_into(out)
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        proc = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + 600
        while "[3/5 distill_embeddings] " not in log.read_text():   # the step's first line, before its first epoch
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) == 130, log.read_text()[-2000:]
    assert "run the same command with --resume" in log.read_text()
    written = {p.name for p in out.iterdir()}
    assert written == {".checkpoint"}, written       # no report, no model: nothing partial that looks valid
    assert (out / ".checkpoint" / "record.json").is_file()

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert uninterrupted.wait(timeout=900) == 0, (tmp_path / "uninterrupted.txt").read_text()[-2000:]
    reference = json.loads((reference_out / "report.json").read_text())
    assert "resumed after step 2 of 5" in resumed.stdout and "continuing from epoch" not in resumed.stdout
    record = json.loads((out / "report.json").read_text())
    for step, ref in zip(record["steps"], reference["steps"]):
        for name, fig in ref["metrics"].items():
            if fig["provenance"] == "measured" and fig["unit"] != "s":
                assert step["metrics"][name]["value"] == pytest.approx(fig["value"], rel=1e-6), (step["name"], name)
    for name in ("macs", "flash_bytes", "arena_bytes"):
        assert record["figures"][name]["value"] == reference["figures"][name]["value"]
    for artifact in ("model_int8.tflite", "model_data.cc"):     # same seed, same machine: the same bytes
        assert (out / artifact).read_bytes() == (reference_out / artifact).read_bytes(), artifact
