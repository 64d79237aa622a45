"""After the last step: the delivered model measured on its target, once. Its counts; on an MCU the int8 figures
(converted here when no export step did, so every MCU recipe ends with flash, arena and latency); on an FPGA the
design estimate of the exported part; the task metrics the steps measured as headline figures; quality warnings;
the budgets judged; the family's report views."""

import numpy as np

from . import figures
from .analysis import budgets as rules
from .analysis import mcu
from .analysis.counts import keras_layer_counts, totals
from . import outcome


def finish(ctx, cli_budgets):
    record, model, recipe = ctx.record, ctx.delivered, ctx.recipe
    slot = recipe.models[recipe.deliver]
    record["model"] = {"name": model.name, "source": f"zoo:{slot.zoo}" if slot.zoo else slot.path,
                       "family": recipe.family, "task": ctx.family.task, "input_shape": list(model.input_shape),
                       "output_shape": list(model.output_shape), "slot": recipe.deliver,
                       "expected_views": list(ctx.family.expected_views)}
    total = totals(keras_layer_counts(model))
    record.add_figures({
        "params": figures.counted(total["params"], "", "keras weights of the delivered model, zeros included"),
        "zeros": figures.counted(total["zeros"], "", "keras weights equal to 0")})
    if ctx.target.kind == "fpga":
        _measure_fpga(ctx)
    elif "tflite" not in ctx.state:
        _measure_mcu(ctx)
    limits = {"target": rules.board_limits(ctx.target, record["figures"]), "recipe": dict(recipe.budgets),
              "cli": cli_budgets}
    sample_rate = limits["recipe"].pop("realtime_sample_rate", None)
    if sample_rate:
        macs = record["figures"]["macs"]["value"]
        record.add_figures({"mac_rate": figures.counted(
            macs * sample_rate, "MAC/s", f"MACs per sample ({macs:,}) x {sample_rate:,} samples/s")})
        limits["recipe"]["mac_rate"] = mcu.macs_per_second(ctx.target)
    record.add_figures(outcome.headline_metrics(record["steps"], recipe.deliver))
    record.add_checks(outcome.quality_rows(record["steps"], recipe.deliver, outcome.comparisons(recipe),
                                           ctx.family.task))
    rules.apply(record, limits)     # judged once; a failed check (int8, TFLM, C-sim) makes the verdict "unverified"
    record["views"] = ctx.family.views(ctx.models, recipe.deliver, ctx.data, ctx.state)


def _measure_mcu(ctx):
    """No export step converted the delivered model: convert it now to measure it (nothing is written)."""
    from .steps.export_tflite import measure_int8

    _, metrics, notes = measure_int8(ctx, ctx.recipe.deliver)
    ctx.record.add_step("measure_int8", "analysis", model=ctx.recipe.deliver, metrics=metrics,
                        notes=notes + ["no export step: the delivered model was converted only to measure it"])


def _measure_fpga(ctx):
    from .analysis.fpga import analyze_fpga
    from .steps.export_hls import submodel

    hls = ctx.state.get("hls")
    if hls:
        part, _ = submodel(ctx, hls["slot"], hls["submodel"])
        x_sample = np.asarray(hls["x_sample"], dtype=np.float32)
        analyze_fpga(part, ctx.target, ctx.record, x_sample=x_sample, hls_config=hls["config"]["hls4ml_config"],
                     project_dir=ctx.out / hls["project_dir"])
    else:
        analyze_fpga(ctx.delivered, ctx.target, ctx.record, x_sample=ctx.data.x_test[:8])
