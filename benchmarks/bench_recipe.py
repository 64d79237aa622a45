"""One recipe, benchmarked in its own process (so its peak memory is its own): the recipe run with per-step wall
time and memory high-water mark, then the plain-tool baselines on the same data from the same float model.

    python -m benchmarks.bench_recipe <recipe> <out_dir> <result.json> [--full]

Everything goes through compressor's public API: `compressor.run_recipe(..., on_step=...)` gives each finished
step's record entry (its seconds; the memory high-water mark is read there), and the Run it returns gives the
record and the models.
"""

import dataclasses
import json
import resource
import sys
import time
import traceback
from pathlib import Path

from benchmarks import measure

QAT_EPOCHS = {"quick": 2, "full": 10}
CHANGES_MODEL = ("quantize", "prune")   # steps that change the delivered model (export only converts it)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB


def float_start(recipe, run, out, quick):
    """(slot, model, label) of the float model the baselines start from: the plainly trained student where the
    recipe trains one, otherwise the delivered model just before the recipe's first quantize / prune step.

    A Run holds the models as the recipe ended, and on_step sees only the record entry, so when a quantize or
    prune step changed the delivered model, the steps before it are run again (same recipe, seed and profile,
    deterministic ops: the same weights) to get the float model back."""
    import compressor

    if "student_no_kd" in run.models:
        return "student_no_kd", run.models["student_no_kd"], "student_no_kd (same architecture, plain training)"
    deliver = recipe.deliver
    label = "the delivered model before the recipe's first quantize/prune/int8 step"
    first = next((i for i, s in enumerate(recipe.steps) if s.kind in CHANGES_MODEL and s.model == deliver), None)
    if first is None:   # nothing changed the delivered model after training: it is the float model
        return deliver, run.models[deliver], label
    prefix = dataclasses.replace(recipe, steps=recipe.steps[:first])
    again = compressor.run_recipe(prefix, out=Path(f"{out}_float_prefix"), quick=quick,
                                  log=lambda line: print(f"[float prefix] {line}", flush=True))
    return deliver, again.models[deliver], f"{label} (its {first} step(s) before it run again, same seeds)"


def main(name, out, result_path, full=False):
    import compressor

    recipe = compressor.load_recipe(name)
    profile = "full" if full else "quick"
    steps = []

    def on_step(entry):
        steps.append({"name": entry["name"], "kind": entry["kind"], "seconds": entry["seconds"],
                      "peak_rss_mb": round(_rss_mb(), 1)})

    result = {"recipe": recipe.name, "profile": profile}
    t0 = time.perf_counter()
    run = None
    try:
        run = compressor.run_recipe(recipe, out=out, quick=not full, on_step=on_step)
    except Exception as e:  # a failed budget or check is a verdict, not an exception: this is an error
        result["recipe_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        result["error"] = (f"run_recipe raised ({result['recipe_error']}) after {len(steps)} finished step(s); "
                           "a run that raises hands back no models, so no rows")
    result["recipe_seconds"] = round(time.perf_counter() - t0, 2)
    result["recipe_peak_rss_mb"] = round(_rss_mb(), 1)
    result["steps"] = steps
    if run is not None:
        bench = measure.RecipeBench.of(run, recipe, quick=not full)
        slot, plain, label = float_start(recipe, run, out, quick=not full)
        result["rows"] = measure.comparison_rows(bench, plain, slot, label, qat_epochs=QAT_EPOCHS[profile])
        if measure.realtime_rate(bench):
            result["realtime"] = measure.realtime(bench)
        result["fidelity"] = measure.arena_fidelity(run.record)
        result["verdict"] = run.verdict
    Path(result_path).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], full="--full" in sys.argv)
    except Exception:
        traceback.print_exc()
        Path(sys.argv[3]).write_text(json.dumps({"recipe": sys.argv[1], "error": traceback.format_exc()[-800:]}))
        sys.exit(1)
