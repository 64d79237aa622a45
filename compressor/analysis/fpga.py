"""FPGA analysis of a model for a board, without training or compiling: per-layer counts and QTools energy, the
resource estimate of the design compress would export (strategy and reuse factor chosen to fit), and budget rows
against the board's resources."""

import numpy as np

from . import budgets
from .counts import keras_layer_counts
from .energy import qtools_energy
from .hls_design import check_supported, choose_schedule, replace_po2_biases, with_schedule
from .hls_design import hls_config as make_hls_config   # the name hls_config is analyze_fpga's argument
from .resources import estimate_resources
from .synth_reports import read_synthesis_reports

RESOURCE_FIGURES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")


def _merged_layers(layers, rows) -> list:
    """`layers` (another analysis may have made them) with `rows` merged in by name, new ones appended."""
    merged = {row.get("name"): dict(row) for row in layers}
    for row in rows:
        merged.setdefault(row["name"], {}).update({k: v for k, v in row.items() if v is not None})
    return list(merged.values())


def analyze_fpga(model, target, record, *, x_sample=None, hls_config=None, energy=True, project_dir=None) -> dict:
    """Add to `record` (a RunRecord, through its methods) the layer rows (params, bits, energy split, resources), the
    figures (energy_pj; LUT, FF, DSP, BRAM_18K, URAM, latency_s estimates) and the estimate's step for `target`;
    the caller judges the budgets once, from these figures.

    x_sample sizes the precisions no quantizer fixes (the input range); without it, inputs in [0, 1] are assumed
    and the record says so. hls_config: a ready hls4ml config (e.g. from export_hls); otherwise the schedule
    export_hls would choose. project_dir: an hls4ml project the user has synthesized; its real figures go beside
    the estimate (LUT_estimate, LUT_hls, LUT_synth ...) and the budgets judge the most real one as LUT."""
    check_supported(model)
    if x_sample is None:
        shape = tuple(d or 1 for d in model.input_shape[1:])
        x_sample = np.random.default_rng(0).uniform(0, 1, size=(2, *shape)).astype(np.float32)
        record.warn("FPGA estimate: no input sample given; input precision sized for values in [0, 1]")
    rows = [{k: r[k] for k in ("name", "type", "params", "bits")} for r in keras_layer_counts(model)]
    try:
        e = qtools_energy(model) if energy else None
    except (IndexError, KeyError, ValueError, AttributeError) as err:   # QTools' graph walk, not our input
        e = None
        record.warn(f"QTools could not estimate this model's energy ({type(err).__name__}: {err}); "
                                  "it prices quantized (QKeras) models - quantize the model first")
    if e is not None:
        by_name = {layer["name"]: layer["energy_pj"] for layer in e["layers"]}
        for row in rows:
            if row["name"] in by_name:
                row["energy_pj"] = by_name[row["name"]]
        record.add_figures({"energy_pj": e["figure"]})
    hls_model_input, _ = replace_po2_biases(model)
    if hls_config is None:
        base = make_hls_config(hls_model_input, target, x_sample)

        def cfg_for(strategy, reuse_factor):
            return with_schedule(base, strategy, reuse_factor)

        _, strategy, reuse_factor, estimate, reason = choose_schedule(hls_model_input, cfg_for, target)
    else:
        estimate = estimate_resources(hls_model_input, hls_config, target)
        strategy = estimate["strategy"]
        reuse_factor, reason = hls_config.get("Model", {}).get("ReuseFactor"), "given"
    for row in rows:
        match = next((r for r in estimate["layers"] if r["name"] == row["name"]), None)
        if match:
            row["fpga"] = {k: match[k] for k in ("LUT", "FF", "DSP", "BRAM_18K", "reuse_factor", "ii_cycles")}
    record.set_layers(_merged_layers(record["layers"], rows))
    record.add_figures(estimate["figures"])
    synth = read_synthesis_reports(project_dir) if project_dir is not None else None
    if synth:
        record.add_figures(synth["figures"])
        for name in RESOURCE_FIGURES + ("latency_s",):       # post-synthesis beats HLS beats our estimate
            best = synth["figures"].get(f"{name}_synth") or synth["figures"].get(f"{name}_hls")
            if best is not None:
                # the estimate stays beside the real figure that replaces it; without one, LUT is the estimate
                # and a LUT_estimate copy would only repeat it (printed twice)
                record.add_figures({f"{name}_estimate": estimate["figures"][name], name: best})
    record.add_step("fpga_estimate", "analysis", metrics=estimate["figures"],
                    notes=[f"strategy {strategy}, reuse factor {reuse_factor} ({reason})",
                           f"fits {target.name}: {estimate['fits']}"])
    limits = budgets.target_limits(target)
    for name in sorted(set(limits) - set(record["figures"])):     # judged by the caller, once, from the figures
        record.warn(f"target budget '{name}' has no FPGA figure in this analysis: not judged")
    return record
