"""results.json -> results.md: the tables the README links. Every number comes from the JSON of one run."""

from pathlib import Path

LOWER_IS_BETTER = ("ESR", "MSE")
# Why a recipe's row loses to TFLite PTQ on the metric, printed under its verdict when it does (issue 19: every
# compressor row beats PTQ or says why not); and what a reader must know to read a table's rows side by side
WHY_NOT_PTQ = {
    "fpga_cae_ternary": "the recipe is the source's Model 7 for an FPGA: ternary kernels and 57 % sparsity store the "
                        "weights in about a fifth of the int8 model's bytes and its decoder fits the PYNQ-Z2; 8-bit "
                        "PTQ keeps more precision, and its int8 TFLite model runs on a CPU, not in the FPGA fabric.",
}
READING = {
    "effects_gru_tor": "Every row is measured on the same audio, the first 0.25 s of test audio from a zero state: the "
                       "float row runs the float student over it as one sequence (keras), the int8 rows stream it "
                       "sample by sample through the int8 one-step model. The recipe's record has the same pair "
                       "(`float_span_esr`, `int8_streaming_esr`), with a check that they are within 0.05.",
}


def _fmt(v, kind=None):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if kind == "bytes":
        return f"{v:,.0f}"
    if kind == "macs":
        return f"{v / 1e6:.3f} M" if v >= 1e5 else f"{v:,.0f}"
    if kind == "pct":
        return f"{100 * v:.1f} %"
    if kind == "s":
        return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"
    if kind == "j":
        return f"{v * 1e3:.3g} mJ" if v >= 1e-3 else f"{v * 1e6:.3g} uJ"
    if kind == "pj":
        return f"{v / 1e6:.4g} uJ"
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _numeric(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _verdict(rows, metric_name):
    """Does compressor's recipe beat every applicable plain tool on the task metric and on bytes? Said plainly."""
    mine = rows.get("compressor", {})
    lower = any(tag in metric_name for tag in LOWER_IS_BETTER)
    notes = []
    for key, label in (("tflite_ptq", "TFLite PTQ"), ("tfmot_qat", "tfmot QAT")):
        other = rows.get(key, {})
        if not _numeric(other.get("metric")) or not _numeric(mine.get("metric")):
            notes.append(f"vs {label}: no comparison ({_fmt(other.get('metric'))})")
            continue
        a, b = mine["metric"], other["metric"]
        if abs(a - b) <= 1e-9:
            what = "ties with it"
        else:
            what = "beats it" if (a < b if lower else a > b) else "does NOT beat it"
        if _numeric(mine.get("bytes")) and _numeric(other.get("bytes")):
            size = ("the same size" if mine["bytes"] == other["bytes"] else
                    "smaller" if mine["bytes"] < other["bytes"] else "NOT smaller")
        else:
            size = "size not comparable"
        notes.append(f"vs {label}: {what} on {metric_name.split(' (')[0]} ({_fmt(a)} vs {_fmt(b)}); {size} in bytes")
    return "; ".join(notes)


def comparison(recipe_jobs):
    lines = ["## 1. compressor against the plain tools", "",
             "Same data (the recipe's built-in data, its test split), same float starting model for the baselines. "
             "Metric measured on the test split: every row on the same inputs where the family measures float and "
             "int8 side by side (classifiers: the first 200 test examples; effects: the first 0.25 s (quick) or 1 s "
             "(full) of test audio, streamed through the int8 models); otherwise the float row on the whole test "
             "split and the int8 rows on up to 200 examples (TFLite interpreter); MAE: linear-probe accuracy on "
             "mean-pooled embeddings. MACs counted (int8 rows: on the flatbuffer, NeSsi rules); sparsity = zero "
             "weights / weights; target latency and energy estimated alike for every int8 row (compressor's own "
             "per-operator estimate, calibrated on MLPerf Tiny: cycles / clock, x power; or the FPGA first-order "
             "model); host latency measured: median of 50 TFLite interpreter invokes on this machine.", ""]
    for job in recipe_jobs:
        name = job.get("recipe", job["job"])
        rows = job.get("rows")
        lines.append(f"### {name}")
        lines.append("")
        if job.get("recipe_error"):
            lines.append(f"**The recipe itself failed** (a toolkit bug, reported): `{job['recipe_error']}`. A run "
                         "that raises hands back no models, so there are no rows; section 2 times the steps that "
                         "finished.")
            lines.append("")
        if not rows:
            lines += [f"Not measured: {job.get('error', 'no rows')[-300:]}", ""]
            continue
        metric = rows["metric_name"]
        fpga = any("qtools_energy_pj" in (rows.get(k) or {}) for k in ("float", "compressor"))
        head = ["row", metric, "model bytes", "MACs", "sparsity", "est. latency", "est. energy", "host int8 latency"]
        if fpga:
            head += ["QTools energy", "FPGA resources (est.)"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for key, label in (("float", "float (" + rows["float_source"] + ")"), ("tflite_ptq", "TFLite default int8 PTQ"),
                           ("tfmot_qat", "tfmot int8 QAT"), ("compressor", f"compressor `{name}`")):
            r = rows.get(key) or {}
            if not _numeric(r.get("metric")) and len(r) <= 1:
                cells = [label, _fmt(r.get("metric"))] + ["-"] * (len(head) - 2)
            else:
                cells = [label, _fmt(r.get("metric")), _fmt(r.get("bytes"), "bytes") + f" ({r.get('bytes_by', '')})",
                         _fmt(r.get("macs"), "macs"), _fmt(r.get("sparsity"), "pct"), _fmt(r.get("latency_s"), "s"),
                         _fmt(r.get("energy_j"), "j"), _fmt(r.get("host_latency_s"), "s")]
                if fpga:
                    res = r.get("resources")
                    cells += [_fmt(r.get("qtools_energy_pj"), "pj"),
                              ", ".join(f"{k} {v:,.0f}" for k, v in res.items()) if res else "-"]
            lines.append("| " + " | ".join(cells) + " |")
        verdict = _verdict(rows, metric)
        lines += ["", f"**Verdict:** {verdict}", ""]
        if "vs TFLite PTQ: does NOT beat it" in verdict and name in WHY_NOT_PTQ:
            lines += [f"**Why not:** {WHY_NOT_PTQ[name]}", ""]
        if name in READING:
            lines += [READING[name], ""]
        notes = [rows[k]["note"] for k in ("tfmot_qat",) if isinstance(rows.get(k), dict) and rows[k].get("note")]
        if notes:
            lines += [f"QAT: {n}" for n in notes] + [""]
    return lines


def cost(recipe_jobs, analyze_jobs, scaling):
    lines = ["## 2. What the toolkit costs (this machine)", "",
             "Wall time per step as the run records it (`run_recipe(on_step=...)`); memory = the process's peak RSS "
             "(high-water mark) after the step, so a step's own peak is where the column rises. Whole process: "
             "`/usr/bin/time -f %M`.", "",
             "| recipe | step | kind | seconds | peak RSS after step (MB) |", "|---|---|---|---|---|"]
    for job in recipe_jobs:
        for s in job.get("steps", []):
            lines.append(f"| {job.get('recipe')} | {s['name']} | {s['kind']} | {s['seconds']:.1f} | "
                         f"{s['peak_rss_mb']:.0f} |")
        lines.append(f"| {job.get('recipe')} | **whole recipe (+ baselines)** | | {_fmt(job.get('recipe_seconds'))} "
                     f"({_fmt(job.get('wall_s'))} with baselines) | {_fmt(job.get('process_peak_rss_mb'))} |")
    lines += ["", "`compress analyze` (compressor.analyze: counts, int8 conversion, TFLM arena, estimates) on each "
              "zoo model, one process each:", "",
              "| model | args | target | params | MACs | analyze (s) | process wall (s) | peak RSS (MB) |",
              "|---|---|---|---|---|---|---|---|"]
    for j in analyze_jobs:
        if "error" in j:
            lines.append(f"| {j['job'].split(':', 1)[1]} | | | failed: {j['error'].strip().splitlines()[-1][:160]} "
                         "| | | | |")
            continue
        lines.append(f"| {j['model']} | {j['args'] or ''} | {j['target']} | {j['params']:,} | {_fmt(j['macs'], 'macs')} "
                     f"| {j['analyze_s']:.1f} | {_fmt(j.get('wall_s'))} | {_fmt(j['process_peak_rss_mb'])} |")
    lines += ["", "Growth with model size: the `dcase_teacher@width` rows above (width 0.25 / 0.5 / 1.0). "
              "Growth with data size (DCASE student, random inputs of the right shape):", "",
              "| examples | one training epoch (s) | int8 calibration + conversion (s) |", "|---|---|---|"]
    for r in (scaling or {}).get("rows", []):
        lines.append(f"| {r['examples']} | {r['fit_epoch_s']} | {r['int8_calibrate_convert_s']} |")
    if scaling and "error" in scaling:
        lines.append(f"| failed: {scaling['error'][-200:]} | | |")
    return lines + [""]


def realtime(recipe_jobs):
    lines = ["## 3. Effects in real time (1 s of 44.1 kHz audio)", "",
             "Float Keras: the whole second as one sequence, XLA-compiled (the median of 3 runs, as the recipe's "
             "record times it; keras' own recurrent loop costs about 0.7 s whatever the model's size). Int8: the "
             "one-step streaming model in "
             "the TFLite interpreter, one invoke per sample as the firmware runs it (Python loop overhead included). "
             "Real-time factor = processing time / 1 s (< 1 is faster than real time). MAC rate = MACs per sample "
             "(counted on the int8 flatbuffer) x 44,100; utilisation = that / the target's MAC/s (estimated).", "",
             "| model | float Keras (s) | RTF float | int8 streaming (s) | RTF int8 | MACs/sample | MAC/s needed | "
             "cortex-m4 | cortex-m7 | cortex-m33 |", "|---|---|---|---|---|---|---|---|---|---|"]
    found = False
    for job in recipe_jobs:
        for slot, r in (job.get("realtime") or {}).items():
            found = True
            t = r["targets"]
            cells = [f"{slot} ({r['model']})", f"{r['keras_float_s']:.3f}", f"{r['rtf_keras']:.3f}",
                     f"{r['int8_streaming_s']:.3f}", f"{r['rtf_int8']:.3f}", f"{r['macs_per_sample']:,}",
                     f"{r['mac_rate'] / 1e6:.2f} M"]
            cells += [f"{100 * t[n]['utilisation']:.0f} % {'(fits)' if t[n]['utilisation'] <= 1 else '(does NOT fit)'}"
                      for n in ("cortex-m4", "cortex-m7", "cortex-m33")]
            lines.append("| " + " | ".join(cells) + " |")
    if not found:
        lines.append("| not measured: the effects recipe job failed (see results.json) |" + " |" * 9)
    return lines + [""]


def fidelity(fid, recipe_jobs):
    lines = ["## 4. Estimator fidelity", "", "| figure | toolkit | reference | toolkit / reference | toolkit by | "
             "reference source |", "|---|---|---|---|---|---|"]
    for r in (fid or {}).get("rows", []):
        ratio = r["toolkit"] / r["published"] if r["published"] else None
        lines.append(f"| {r['what']} | {r['toolkit']:,} | {r['published']:,} | {'-' if ratio is None else f'{ratio:.5f}'} | {r['by']} | "
                     f"{r['source']} |")
    if fid and "error" in fid:
        lines.append(f"| failed: {fid['error'][-200:]} | | | | | |")
    for job in recipe_jobs:
        f = job.get("fidelity")
        if f and f.get("peak_activation_estimate"):
            lines.append(f"| {job['recipe']}: tensor-lifetime peak estimate vs TFLM arena | "
                         f"{f['peak_activation_estimate']:,} | {f['arena_measured']:,} | "
                         f"{f['peak_activation_estimate'] / f['arena_measured']:.4f} | estimated | measured: "
                         "tflite-micro print_allocations, this run |")
    return lines + [""]


def write_markdown(data, path: Path):
    jobs = data["jobs"]
    recipe_jobs = [j for j in jobs if j["job"].startswith("recipe:")]
    analyze_jobs = [j for j in jobs if j["job"].startswith("analyze:")]
    scaling = next((j for j in jobs if j["job"] == "data_scaling"), None)
    fid = next((j for j in jobs if j["job"] == "fidelity"), None)
    stack = ", ".join(f"{k} {v}" for k, v in data["stack"].items() if v)
    lines = ["# Benchmarks", "",
             f"Run {data['created']} with `python -m benchmarks.run --{data['profile']}` on this machine: "
             f"{data['cpus']} CPUs, {data['parallel_jobs']} jobs at once, total "
             f"{_fmt(data['total_wall_s'] and round(data['total_wall_s'] / 60, 1))} min. "
             f"Load average at the end {', '.join(f'{x:.1f}' for x in data['load_average_at_end'])}"
             + (" (above the jobs' own: other work shared the cores, so wall times are upper bounds)."
                if max(data["load_average_at_end"]) > data["parallel_jobs"] + 1 else "."), "",
             f"Stack: {stack}.", "", *([data["note"], ""] if data.get("note") else []),
             f"Profile `{data['profile']}`: the recipes' quick schedules (few epochs, small built-in data), so task "
             "metrics are those of briefly trained models: they compare methods on equal budgets, not final quality.",
             ""]
    lines += comparison(recipe_jobs) + cost(recipe_jobs, analyze_jobs, scaling) + realtime(recipe_jobs)
    lines += fidelity(fid, recipe_jobs)
    path.write_text("\n".join(lines) + "\n" + kept_sections(path))


RENDERED = 4    # sections 1-4 come from results.json; the later ones from their own tools (tools/, bench_search.py)


def kept_sections(path) -> str:
    """The sections after RENDERED of the results.md being replaced, as they were: other tools wrote them."""
    import re

    old = path.read_text() if path.is_file() else ""
    found = re.search(rf"^## {RENDERED + 1}\. ", old, flags=re.MULTILINE)
    return old[found.start():] if found else ""
