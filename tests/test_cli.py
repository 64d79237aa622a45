"""The `compress` command end to end: exit codes, the output folder, the budget table, bad input."""

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from compressor.cli import main
from test_counts import dcase_baseline


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    dcase_baseline().save(d / "baseline.keras")
    np.savez(d / "inputs.npz", x=np.random.default_rng(1).normal(size=(48, 40, 51, 1)).astype("float32"))
    np.save(d / "wrong.npy", np.zeros((4, 51, 40, 1), "float32"))
    (d / "notes.keras").write_text("not a model")
    inputs = keras.Input((8,))
    keras.Model(inputs, tf.math.top_k(keras.layers.Dense(4)(inputs), k=2).values).save(d / "topk.keras")
    return d


@pytest.fixture(scope="module")
def run_dir(files):
    out = files / "out"
    assert main(["--target", "cortex-m4", "--model", str(files / "baseline.keras"),
                 "--data", str(files / "inputs.npz"), "--out", str(out)]) == 0
    return out


def test_compress_writes_tflite_c_array_and_report(run_dir):
    tfl = (run_dir / "model_int8.tflite").read_bytes()
    assert f"g_model_len = {len(tfl)};" in (run_dir / "model_data.cc").read_text()
    assert (run_dir / "model_data.h").is_file()
    record = json.loads((run_dir / "report.json").read_text())
    assert record["status"] == "complete" and record["verdict"] == "pass" and record["warnings"] == []
    arena = record["figures"]["arena_bytes"]
    assert arena["provenance"] == "measured" and 60_000 < arena["value"] < 76_000   # about 68 KB (SPEC 0)
    assert record["figures"]["flash_bytes"]["value"] == len(tfl)
    verify = {s["name"]: s for s in record["steps"]}["ptq"]["metrics"]    # default_mcu.yaml's int8 step
    assert verify["tflm_vs_tflite_lsb"]["value"] <= 1              # int8 softmax kernels may round apart
    assert verify["max_error_lsb"]["value"] <= 4


def test_check_rejudges_a_saved_report(run_dir, capsys):
    report = str(run_dir / "report.json")
    assert main(["check", report]) == 0
    assert main(["check", report, "--budget", "arena_bytes=1000"]) == 3
    out = capsys.readouterr().out
    assert "arena_bytes" in out and "FAIL" in out and "over by" in out


def test_analyze_with_dcase_limits_and_a_failing_budget(files, capsys):
    model = str(files / "baseline.keras")
    assert main(["analyze", model, "--target", "cortex-m4", "--budget", "params=128000", "--budget", "macs=30e6"]) == 0
    assert "synthetic" in capsys.readouterr().out                 # the fallback is announced
    assert main(["analyze", model, "--target", "cortex-m4", "--budget", "macs=20e6"]) == 3
    assert "macs" in capsys.readouterr().out.split("FAIL")[0].splitlines()[-1]


@pytest.mark.slow
def test_the_dcase_teacher_does_not_fit_a_cortex_m4(tmp_path, capsys):
    from compressor.zoo import dcase

    dcase.build_teacher().save(tmp_path / "teacher.keras")       # about 4 M parameters
    code = main(["analyze", str(tmp_path / "teacher.keras"), "--target", "cortex-m4"])
    out = capsys.readouterr().out
    assert code == 3
    flash = [line for line in out.splitlines() if line.startswith("flash_bytes")][0]
    assert "FAIL" in flash and "over by" in flash


@pytest.mark.parametrize("case, message", [
    ("missing", "no such model file"),
    ("notes", "not a Keras model"),
    ("wrong_data", "does not match the model input (N, 40, 51, 1)"),
    ("topk", "TFLite Micro has no kernel for operator TOPK_V2"),
    ("target", "unknown target 'esp32' (known: "),
])
def test_bad_input_gets_one_line_exit_2_and_writes_nothing(files, tmp_path, capsys, case, message):
    model = {"missing": "absent.keras", "notes": "notes.keras", "topk": "topk.keras"}.get(case, "baseline.keras")
    argv = ["--target", "esp32" if case == "target" else "cortex-m4", "--model", str(files / model),
            "--out", str(tmp_path / "out")]
    if case == "wrong_data":
        argv += ["--data", str(files / "wrong.npy")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    if case == "target":
        assert "cortex-m4" in err and "pynq-z2" in err
    assert not (tmp_path / "out").exists()


def test_list_targets_and_help(capsys):
    assert main(["list", "targets"]) == 0
    assert "cortex-m4" in capsys.readouterr().out
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "compress analyze" in text and "compress check" in text and "exit codes" in text
    assert main(["--model", "x.keras"]) == 2                        # --model without --target


def test_analyze_on_an_fpga_target_judges_its_resources(tmp_path, capsys):
    inputs = keras.Input((16,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(hidden)).save(tmp_path / "mlp.keras")
    assert main(["analyze", str(tmp_path / "mlp.keras"), "--target", "pynq-z2", "--budget", "macs=100"]) == 3
    out = capsys.readouterr().out
    assert "LUT" in out and "(target; estimated)" in out
    assert [line for line in out.splitlines() if line.startswith("macs ")][0].count("FAIL") == 1  # 168 MACs


def test_list_recipes_and_models(capsys):
    from compressor.recipe import recipe_names
    from compressor.zoo import list_models

    assert main(["list", "recipes"]) == 0 and main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in recipe_names()) and all(name in out for name, _ in list_models())


def test_print_record_shows_each_figure_once_the_checks_and_the_files(capsys):
    from compressor.analysis.budgets import check_row
    from compressor.cli import _print_record
    from compressor.figures import counted, measured

    record = {"model": {"name": "kws"}, "target": {"name": "cortex-m4"}, "recipe": None, "budgets": [],
              "warnings": [], "data": {"changes": ["in.npy: one input of shape (4, 3), read as a batch of 1"]},
              "figures": {"macs": counted(1234, "MAC", "keras layers")},
              "checks": [check_row("int8_max_error_lsb", "int8 vs Keras", measured(1.5, "LSB", "Keras vs TFLite"),
                                   16, "<="),
                         check_row("tflm_vs_tflite_lsb", "TFLite Micro vs TFLite", measured(0, "LSB", "TFLM"), 4,
                                   "<=")],
              "artifacts": {"model_int8.tflite": "model_int8.tflite", "hls_project": "hls/"}}
    _print_record(record, "out/kws")
    lines = capsys.readouterr().out.splitlines()
    assert "data: in.npy: one input of shape (4, 3), read as a batch of 1" in lines
    assert sum(line.split()[0] == "macs" for line in lines if line.strip()) == 1
    checks = [line for line in lines if line.startswith(("int8 vs Keras", "TFLite Micro vs TFLite"))]
    assert len(checks) == 2 and all("PASS" in line and "(check; measured)" in line for line in checks)
    assert "1.5 LSB <=" in checks[0] and "16 LSB" in checks[0]       # the figure and its tolerance
    files = lines[lines.index("files written to out/kws/:") + 1:][:2]
    assert [line.split() for line in files] == [["model_int8.tflite", "out/kws/model_int8.tflite"],
                                                ["hls_project", "out/kws/hls/"]]
    # a recipe run printed its data changes when it loaded the data: not again
    _print_record({**record, "recipe": {"name": "r"}})
    out = capsys.readouterr().out
    assert "data:" not in out and "files written (in the output folder):" in out and "  hls_project" in out


def test_analyze_prices_the_users_hls4ml_configuration(tmp_path, capsys):
    """--hls-config: the design the user chose (here Resource strategy, reuse factor 8, as hls4ml writes a config)
    is what gets priced - it needs fewer multipliers than the fully parallel one compress picks for so small a model."""
    import yaml
    from qkeras import QDense, quantized_bits

    from compressor import api

    inputs = keras.Input((32,))
    model = keras.Model(inputs, QDense(16, kernel_quantizer=quantized_bits(16, 0, 1), name="fc")(inputs), name="fc16")
    model.save(tmp_path / "fc.keras")
    cfg = {"Model": {"Precision": "fixed<16,6>", "ReuseFactor": 8, "Strategy": "Resource"}}
    (tmp_path / "cfg.yml").write_text(yaml.safe_dump(cfg))
    chosen = api.analyze(model, "pynq-z2").record
    given = api.analyze(model, "pynq-z2", hls_config=str(tmp_path / "cfg.yml")).record
    note = lambda r: next(s for s in r["steps"] if s["name"] == "fpga_estimate")["notes"][0]   # noqa: E731
    assert note(given) == "strategy Resource, reuse factor 8 (given)" and "given" not in note(chosen)
    assert given["figures"]["DSP"]["value"] < chosen["figures"]["DSP"]["value"]
    assert main(["analyze", str(tmp_path / "fc.keras"), "--target", "pynq-z2", "--hls-config",
                 str(tmp_path / "cfg.yml")]) in (0, 3)
    (tmp_path / "bad.yml").write_text("LayerName: {}\n")
    capsys.readouterr()
    assert main(["analyze", str(tmp_path / "fc.keras"), "--target", "pynq-z2", "--hls-config",
                 str(tmp_path / "bad.yml")]) == 2
    assert "bad.yml: expected an hls4ml configuration with a 'Model' section" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "fc.keras"), "--target", "cortex-m4", "--hls-config",
                 str(tmp_path / "cfg.yml")]) == 2
