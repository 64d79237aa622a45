"""The facade behind the CLI and notebooks; nothing below it imports it.

    run = compressor.run_recipe("dcase_student_int8", quick=True, budgets={"accuracy>=": 0.85})
    run = compressor.compress("kws.keras", "cortex-m4", data="inputs.npz", out="out/kws")   # or a keras.Model
    run = compressor.analyze(model, "cortex-m4", budgets={"macs": 30e6})

Each returns a Run (compressor/record.py): run.record is report.json's dict - record["verdict"] is "unverified"
when a check of the compressed model failed (record["checks"] names it), "fail" when a budget fails, "pass"
otherwise -, run.models the Keras models, run.artifacts the files written.
"""

import dataclasses
from pathlib import Path

import numpy as np

from . import data_arrays
from .analysis import budgets as budget_rules
from .analysis import counts
from .engine import load_checked_recipe as load_recipe  # noqa: F401 (public: a Recipe to change and run)
from .engine import run_recipe  # noqa: F401 (public)
from .errors import BadInput, Interrupted
from .export.int8 import Int8Export, mcu_figures
from .export.int8 import (CALIBRATION_SAMPLES, MAX_ERROR_LSB, MIN_TOP1_AGREEMENT,  # noqa: F401 (the export's
                          TFLM_MAX_DIFF_LSB, VERIFY_SAMPLES)                       # tolerances, as api.<NAME> too)
from .figures import counted
from .graph import model_task
from .keras_io import model_and_source
from .record import Run, RunRecord
from .targets import load_target


def _start(model, source, target, command) -> RunRecord:
    if len(model.inputs) != 1:
        raise BadInput(f"model '{model.name}': {len(model.inputs)} inputs ({', '.join(t.name for t in model.inputs)});"
                       " analysis and export take single-input models (e.g. the encoder, or a streaming step)")
    return RunRecord(command, target=dataclasses.asdict(target), model={
        "name": model.name, "source": str(source) if source else None, "family": None, "task": model_task(model),
        "input_shape": list(model.input_shape), "output_shape": list(model.output_shape)})


def _inputs(model, data, record, synthetic=32) -> np.ndarray:
    if data is None:
        x = data_arrays.synthetic_inputs(model.input_shape, n=synthetic)
        record.warn(data_arrays.SYNTHETIC_WARNING.format(n=len(x)))
        record["data"] = {"source": "synthetic", "shapes": {"x": list(x.shape)}}
    elif isinstance(data, np.ndarray):
        changes = []                        # a batch axis added, a dtype cast: in the record, never silent
        x = data_arrays.check_inputs(data, model.input_shape, "data", changes)
        record["data"] = {"source": "array", "shapes": {"x": list(x.shape)}, "changes": changes}
    else:
        changes = []
        x = data_arrays.load_inputs(data, model.input_shape, changes)
        record["data"] = {"source": str(data), "shapes": {"x": list(x.shape)}, "changes": changes}
    return x


def _keras_step(model, record):
    rows = counts.keras_layer_counts(model)
    total = counts.totals(rows)
    record.add_step("keras_counts", "analysis", metrics={
        "params": counted(total["params"], "", "keras weights, zeros included"),
        "zeros": counted(total["zeros"], "", "keras weights == 0"),
        "macs": counted(total["macs"], "MAC", "qkeras.estimate for Q-layers, by layer type otherwise")})
    record.add_figures({"params": counted(total["params"], "", "keras weights (all, zeros included)"),
                        "zeros": counted(total["zeros"], "", "keras weights equal to 0")})
    return rows, total


def _add_int8(record, result: Int8Export):
    """An int8 export's figures, layer rows, checks and steps into the run record."""
    record.add_figures(result.figures)
    record.set_layers(result.layers)
    record.add_checks(result.checks)
    for step in result.steps:
        record.add_step(**step)


def _judge(record, target, budgets):
    """Once, at the end: the board's limits and the user's, and the checks, into the verdict."""
    return budget_rules.apply(record, {"target": budget_rules.board_limits(target, record["figures"]),
                                       "cli": budgets or {}})


def _kernels(target, kernels):
    """The MCU kernel library the latency model uses: checked before any work (None: the target's default)."""
    if kernels is None:
        return None
    if target.kind != "mcu":
        raise BadInput(f"--kernels {kernels}: target '{target.name}' is an FPGA; kernel libraries are for MCU targets")
    from .analysis.mcu import calibration
    calibration(target, kernels)     # unknown library, or no measurement on this core: BadInput naming both
    return kernels


def analyze(model_or_path, target, budgets=None, data=None, command=None, kernels=None, hls_config=None) -> Run:
    """Counts, memory, latency/energy estimates and the budget verdict of a Keras model (a file or in memory) on a
    target. No training; nothing written. `kernels` picks the MCU kernel library of the latency model;
    `hls_config` (FPGA) an hls4ml configuration to price - a dict or a YAML file in the format
    hls4ml.utils.config_from_keras_model writes - instead of the design compress would choose."""
    from . import flatbuffer_in
    if flatbuffer_in.is_tflite(model_or_path):   # an int8 .tflite (path or bytes): measured as it is, MCU only
        return flatbuffer_in.analyze(model_or_path, target, budgets, data, command, kernels, hls_config, judge=_judge)
    target = load_target(target) if isinstance(target, (str, Path)) else target
    kernels = _kernels(target, kernels)
    hls_config = _hls_config(hls_config, target)
    budgets = budget_rules.normalize(budgets, "budgets")
    model, source = model_and_source(model_or_path)
    record = _start(model, source, target, command)
    keras_rows, keras_total = _keras_step(model, record)
    if target.kind == "fpga":
        x = None if data is None else _inputs(model, data, record)
        from .analysis.fpga import analyze_fpga  # another module's job; loaded only for FPGA targets
        record.set_layers([{k: v for k, v in r.items() if k != "macs_by"} for r in keras_rows])
        record.add_figures({"macs": counted(keras_total["macs"], "MAC", "keras layers (qkeras.estimate / by type)")})
        analyze_fpga(model, target, record, x_sample=None if data is None else x[:8], hls_config=hls_config)
    else:
        x = _inputs(model, data, record, synthetic=8)   # counts do not depend on calibration: keep it cheap
        if kernels:
            record["target"]["kernels"] = kernels
        _add_int8(record, mcu_figures(model, x, target, kernels))
    _judge(record, target, budgets)
    record["status"] = "complete"
    return Run(record, {"model": model})


def _hls_config(given, target):
    """The user's hls4ml configuration, checked before any work: a mapping with a 'Model' section."""
    if given is None:
        return None
    if target.kind != "fpga":
        raise BadInput(f"--hls-config: target '{target.name}' is a microcontroller; an hls4ml configuration prices an "
                       "FPGA design")
    from .schema import load_yaml
    cfg = load_yaml(given) if isinstance(given, (str, Path)) else given
    where = given if isinstance(given, (str, Path)) else "hls_config"
    if not isinstance(cfg, dict) or not isinstance(cfg.get("Model"), dict):
        raise BadInput(f"{where}: expected an hls4ml configuration with a 'Model' section (as "
                       "hls4ml.utils.config_from_keras_model writes it)")
    return cfg


def compress(model_or_path, target, data=None, out=None, budgets=None, command=None, kernels=None, recipe=None,
             frontend=None, seed=0, quick=False, log=None) -> Run:
    """A Keras model of your own (a file or in memory) through the target's default recipe (recipes/default_mcu.yaml:
    int8 TFLite + TFLite Micro C array, QAT when int8 costs accuracy; recipes/default_fpga.yaml: QKeras + hls4ml,
    C-simulated) or `recipe`, checked in this run; everything lands in `out`, and only when the run finishes.
    `data`: None, inputs (.npy / array), labelled arrays (.npz with x and y) or a folder of audio with `frontend`
    (compressor/user_data.py says how splits are taken). `kernels` picks the MCU latency model's kernel library."""
    from . import flatbuffer_in
    if flatbuffer_in.is_tflite(model_or_path):   # an int8 .tflite: copied, C array, TFLM checked against TFLite
        return flatbuffer_in.compress(model_or_path, target, data, out, budgets, command, kernels, recipe=recipe,
                                      frontend=frontend, judge=_judge, write_record=write_record)
    from . import atomic
    from .graph import model_task
    from .recipe import USER_MODEL
    from .user_data import frontend_spec, user_dataset

    target = load_target(target) if isinstance(target, (str, Path)) else target
    if kernels:
        target = dataclasses.replace(target, kernels=_kernels(target, kernels))
    budgets = budget_rules.normalize(budgets, "budgets")
    recipe = load_recipe(recipe or f"default_{target.kind}")
    frontend = frontend_spec(frontend)
    slots = [n for n, slot in recipe.models.items() if slot.path == USER_MODEL]
    if len(slots) != 1:
        raise BadInput(f"recipe {recipe.name}: --model needs a recipe with one slot whose path is \"{USER_MODEL}\" "
                       f"(recipes/default_{target.kind}.yaml is one), found {len(slots)}")
    named = Path(model_or_path).stem if isinstance(model_or_path, (str, Path)) else model_or_path.name
    out = Path(out) if out else Path("out") / named
    atomic.check_output_folder(out)     # before any work
    model, source = model_and_source(model_or_path)
    where = source or f"model '{model.name}'"
    if len(model.inputs) != 1:
        raise BadInput(f"{where}: {len(model.inputs)} inputs ({', '.join(t.name for t in model.inputs)}); export "
                       "takes single-input models (e.g. the encoder, or a streaming step)")
    data = user_dataset(data, model, model_task(model), frontend=frontend, seed=seed, quick=quick)
    try:
        with atomic.staged_outputs(out) as stage:     # published into `out` only when the run ends
            run = run_recipe(recipe, data=data, out=stage, quick=quick, seed=seed, budgets=budgets,
                             models={slots[0]: model}, target=target, log=log or (lambda line: None),
                             write_reports=False)
            if command is not None:
                run.record["command"] = command
            run.record["model"]["source"] = str(source) if source else None
            if data.name == "synthetic":
                run.record.warn(data_arrays.SYNTHETIC_WARNING.format(n=len(data.x_test)))
            write_record(run.record, stage)
    except Interrupted as stopped:      # the engine's --resume hint is for recipe runs: this one kept nothing
        raise Interrupted(f"{str(stopped).split(';')[0]}; nothing was written to {out} (a --model run publishes "
                          "its outputs when it ends): run it again") from None
    return Run(run.record, run.models, out)   # a failed check makes the verdict "unverified"


def write_record(record, out) -> list:
    """report.json, plus report.html and summary.md when their renderers are installed."""
    from .report import write

    try:
        paths = write.write_reports(record, out)
    except ImportError:  # renderers not available: JSON is the record of truth
        paths = {"report_json": write.write_json(record, out)}
    return list(paths.values())


def search(recipe=None, *, model=None, target=None, data=None, quick=False, trials=None, time_budget_s=None,
           trial_timeout_s=None, address=None, resume=False, out=None, budgets=None, seed=None, cpus=None,
           first=None, log=None) -> Run:
    """Search `recipe`'s compression plans (its `search:` block) under every budget on Ray Tune (local, or the
    cluster at `address` / RAY_ADDRESS) and deliver the best plan that fits, exported and checked, into `out`: the
    Run of that delivery, run.record["search"] the trials, the Pareto set and the plan. Your own `model` (a Keras
    model or file) with labelled `data` and a `target`: searched with the target's default search recipe
    (recipes/default_mcu_search.yaml: width with distillation from your model, pruning sparsity) unless `recipe`
    says otherwise. No plan fits: compressor.search.runner.NoPlanFits (exit 3); stopped: Interrupted (resume=True
    continues)."""
    from .search import search as run_search
    return run_search(recipe, model=model, target=target, data=data, quick=quick, trials=trials,
                      time_budget_s=time_budget_s, trial_timeout_s=trial_timeout_s, address=address, resume=resume,
                      out=out, budgets=budgets, seed=seed, cpus=cpus, first=first, log=log)
