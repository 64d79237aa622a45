"""One recipe, benchmarked in its own process (so its peak memory is its own): the recipe run with per-step wall
time and memory high-water mark, then the plain-tool baselines on the same data from the same float model.

    python -m benchmarks.bench_recipe <recipe> <out_dir> <result.json> [--full]
"""

import json
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks import measure

QAT_EPOCHS = {"quick": 2, "full": 10}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB


def _instrument(captured):
    """Wrap kinds.run (the engine looks it up per step) to time each step, read the memory high-water mark after it,
    and keep a float copy of the delivered model before the first step that quantizes, prunes or converts it."""
    import tensorflow as tf

    from compressor.steps import kinds

    original = kinds.run

    def run(ctx, step):
        captured["ctx"] = ctx
        if step.kind in ("quantize", "prune", "ptq") and step.model == ctx.recipe.deliver and "float" not in captured:
            model = ctx.models[step.model]
            clone = tf.keras.models.clone_model(model)
            clone.set_weights(model.get_weights())
            captured["float"] = clone
        t0 = time.perf_counter()
        result = original(ctx, step)
        captured["steps"].append({"name": step.name, "kind": step.kind, "seconds": round(time.perf_counter() - t0, 2),
                                  "peak_rss_mb": round(_rss_mb(), 1)})
        return result

    kinds.run = run


def main(name, out, result_path, full=False):
    from compressor.engine import run_recipe

    captured = {"steps": []}
    _instrument(captured)
    profile = "full" if full else "quick"
    result = {"recipe": name, "profile": profile}
    t0 = time.perf_counter()
    try:
        record = run_recipe(name, out=out, quick=not full)
    except Exception as e:  # a failed budget or verification still leaves a record on disk
        result["recipe_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        report = Path(out) / "report.json"
        record = json.loads(report.read_text()) if report.is_file() else None
        if record is None and "ctx" in captured:   # failed mid-recipe: what the steps before the failure recorded
            record = captured["ctx"].record
    result["recipe_seconds"] = round(time.perf_counter() - t0, 2)
    result["recipe_peak_rss_mb"] = round(_rss_mb(), 1)
    result["steps"] = captured["steps"]
    ctx = captured.get("ctx")
    if record is not None and ctx is not None:
        result["rows"] = measure.comparison_rows(ctx, record, captured.get("float"), Path(out),
                                                 qat_epochs=QAT_EPOCHS[profile])
        if ctx.recipe.family == "effects":
            result["realtime"] = measure.realtime(ctx, Path(out))
        result["fidelity"] = measure.arena_fidelity(record)
        result["verdict"] = record.get("verdict")
    Path(result_path).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], full="--full" in sys.argv)
    except Exception:
        traceback.print_exc()
        Path(sys.argv[3]).write_text(json.dumps({"recipe": sys.argv[1], "error": traceback.format_exc()[-800:]}))
        sys.exit(1)
