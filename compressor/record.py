"""The run record: what a run did and measured. `report.json` is this dict; the HTML and markdown only render it.

Schema `compressor.report/2` (documented field by field in docs/report-schema.md); a run builds it through
RunRecord's methods (add_step, add_figures, add_checks, add_artifacts, warn ...), and report.json is the dict:

    schema      "compressor.report/2"
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
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

SCHEMA = "compressor.report/2"
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


class RunRecord(dict):
    """The record of one run, built through methods so every part is added in one way: a step's entry, figures,
    check rows, artifacts by role, warnings; budgets are judged once, at the end, by analysis.budgets.apply. It is the
    dict report.json holds (renderers and `compress check` read it as plain JSON)."""

    def __init__(self, command=None, **fields):
        super().__init__(new_record(command))
        self.update(fields)

    def add_step(self, name, kind, *, model=None, seconds=None, metrics=None, notes=(), artifacts=None, **detail):
        entry = {"name": name, "kind": kind, **({"model": model} if model is not None else {}), "seconds": seconds,
                 "metrics": dict(metrics or {}), "artifacts": dict(artifacts or {}), "notes": list(notes), **detail}
        self["steps"].append(entry)
        self.add_artifacts(entry["artifacts"])
        return entry

    def add_figures(self, figures: dict):
        self["figures"].update(figures)

    def set_layers(self, rows):
        self["layers"] = list(rows)

    def add_checks(self, rows):
        self["checks"].extend(rows)

    def add_artifacts(self, by_role: dict):
        """role -> path relative to the output folder (model_int8.tflite under 'tflite', hls/ under 'hls_project')."""
        self["artifacts"].update(by_role)

    def warn(self, *lines):
        self["warnings"].extend(line for line in lines if line)


@dataclass
class Run:
    """What a run hands back: its record (report.json's dict), the Keras models it ended with (slot -> model; a
    model run's is under "model"), and the folder its files were written to (None when nothing was written)."""
    record: RunRecord
    models: dict = field(default_factory=dict)
    out: Path | None = None

    @property
    def verdict(self):
        return self.record.get("verdict")

    @property
    def artifacts(self) -> dict:
        """role -> path of every file the run wrote."""
        if self.out is None:
            return {}
        return {role: Path(self.out) / path for role, path in self.record.get("artifacts", {}).items()}
