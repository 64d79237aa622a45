"""The run record: what a run did and measured. `report.json` is this dict; the HTML and markdown only render it.

Schema `compressor.report/1` (documented field by field in docs/report-schema.md):

    schema      "compressor.report/1"
    created     ISO-8601 time the record was started
    status      "incomplete" until the run finished; "complete" after
    command     the argv that made it
    stack       versions of python and the pinned libraries
    seed        the run's seed, or null
    model       {name, source, family, task, input_shape, output_shape}
                task: classification | regression | autoencoder | representation
    target      the hardware target's fields (name, kind, clock, memories ...)
    recipe      null, or {name, path, profile: quick|full, steps: [...]} as loaded
    data        {source, frontend: {...parameters}, shapes: {...}}
    warnings    [one-line strings]; e.g. calibration fell back to synthetic inputs
    steps       [{name, kind, seconds, metrics: {key: figure}, artifacts: {role: path}, notes: [str]}]
    layers      per-layer table of the final model:
                [{name, type, params, zeros, bits, macs, bytes, energy_pj: {inputs, parameters, operations, outputs}}]
                (keys a model kind cannot have are omitted)
    figures     headline figures, name -> figure (see compressor.figures): params, macs, weights_bytes,
                flash_bytes, arena_bytes, latency_s, energy_j, energy_pj, LUT, FF, DSP, BRAM_18K ...
    budgets     [{name, limit, op: <=|>=, value, unit, margin, verdict: pass|fail, provenance, by,
                  source: target|recipe|cli}]; margin: headroom / |limit|, negative when the budget fails
    checks      [{name, title, limit, op, value, unit, margin, verdict: pass|fail|warn, provenance, by,
                  source: check|comparison, note}]: the proofs the run made (int8 vs Keras, TFLM vs TFLite,
                C-sim vs QKeras) and warnings where the delivered model is worse than the recipe's comparison
    verdict     "unverified" (a check failed) | "fail" (a budget failed) | "pass" | null (nothing judged)
    artifacts   role -> path relative to the output folder (model_int8.tflite, model_data.cc, hls/ ...)
    views       data for the family's pictures, small enough to inline:
                spectrograms {original, float, compressed, generated: 2-D lists}, waveforms {sample_rate, input,
                target, teacher, student}, confusion {classes, float, int8}, probe {before, after},
                weight_histograms {layer: {edges, counts}}
"""

import datetime
import platform
import sys
from importlib import metadata

SCHEMA = "compressor.report/1"
STACK_PACKAGES = ("tensorflow-cpu", "tensorflow-model-optimization", "qkeras", "hls4ml", "librosa", "numpy",
                  "tflite-runtime", "tflite-micro", "pedalboard", "cmsisdsp")


def stack_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in STACK_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_record(command=None) -> dict:
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "status": "incomplete",
        "command": list(sys.argv if command is None else command),
        "stack": stack_versions(),
        "seed": None,
        "model": {},
        "target": {},
        "recipe": None,
        "data": {},
        "warnings": [],
        "steps": [],
        "layers": [],
        "figures": {},
        "budgets": [],
        "checks": [],
        "verdict": None,
        "artifacts": {},
        "views": {},
    }
