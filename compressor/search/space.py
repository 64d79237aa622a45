"""A recipe's `search:` block as a SearchSpec: objectives, trial count and time, the space (knob -> values), the
prune step a plan adds, and the quick profile's overrides. Every error names the recipe file and the field.

The FPGA knobs (fpga_knobs.py) name layers: `kernel: {"enc_conv*": [2, 4, stochastic_ternary]}` is one knob a
block, flattened here into the plan key "kernel:enc_conv*" (the sampler draws each block's value on its own)."""

from dataclasses import dataclass, field

from ..analysis.budgets import KNOWN_FIGURES, METRIC_FIGURES
from ..errors import BadInput
from ..export.tflite import ACTIVATIONS
from .early import early_stop_spec
from .fpga_knobs import FPGA_KNOBS, check_fpga_knob

MCU_KNOBS = ("tflite_activations",)    # the export's TFLite format: int8, or int16 activations (16x8 mode)
KNOBS = ("width", "sparsity", "distill", "epochs", "lr") + MCU_KNOBS + FPGA_KNOBS
# what a plan may change when the recipe's block does not say. FPGA: the kernel bits of every quantize rule (one
# knob) and the hls4ml schedule
DEFAULT_SPACE = {"mcu": {"width": [0.25, 0.5, 0.75, 1.0], "sparsity": [0.0, 0.5, 0.75], "distill": [True, False],
                         "tflite_activations": ["int8", "int16"]},
                 "fpga": {"kernel": [4, 6, 8], "reuse_factor": [1, 4, 16, 64],
                          "strategy": ["Latency", "Resource"]}}
DEFAULT_OBJECTIVES = {"mcu": {"metric": "accuracy", "cost": "flash_bytes"},
                      "fpga": {"metric": "accuracy", "cost": "LUT"}}
MAXIMIZED = ("accuracy", "probe_accuracy", "int8_accuracy", "csim_accuracy")
DEFAULT_PRUNE = {"loss": "crossentropy", "optimizer": "adam", "lr": 5e-4, "epochs": 2, "batch_size": 32}
DEFAULT_TRIALS = 16
BLOCK_FIELDS = ("objectives", "trials", "time_budget_s", "trial_timeout_s", "early_stop", "space", "prune", "quick",
                "first")
QUICK_FIELDS = ("trials", "time_budget_s", "trial_timeout_s", "early_stop", "clips", "steps", "prune")


@dataclass(frozen=True)
class SearchSpec:
    metric: str                     # maximized when it is an accuracy, else minimized
    cost: str                       # minimized
    trials: int
    time_budget_s: float | None
    space: dict                     # knob -> list of values
    prune: dict                     # fit parameters of the prune step a plan with sparsity > 0 adds
    steps: dict = field(default_factory=dict)   # step name -> params override (the quick profile's)
    clips: int | None = None        # train / val / test clips each trial sees (the quick profile's), None: all
    trial_timeout_s: float | None = None    # a trial running longer is recorded failed ("timeout after S s")
    early_stop: dict | None = None  # ASHA's grace_epochs and reduction_factor (early.py), None: every trial runs out

    @property
    def metric_mode(self) -> str:
        return "max" if self.metric in MAXIMIZED else "min"

    def as_dict(self) -> dict:
        return {"objectives": {"metric": self.metric, "metric_mode": self.metric_mode, "cost": self.cost,
                               "cost_mode": "min"},
                "trials": self.trials, "time_budget_s": self.time_budget_s, "space": self.space,
                "prune": self.prune, "steps": self.steps, "clips": self.clips,
                "trial_timeout_s": self.trial_timeout_s, "early_stop": self.early_stop}


def search_spec(recipe, target_kind, *, quick=False, trials=None, time_budget_s=None,
                trial_timeout_s=None) -> SearchSpec:
    """The recipe's search block (its quick part merged in when `quick`), the command line's trials and time last."""
    where = f"{recipe.path}: field 'search'"
    block = dict(recipe.search or {})
    if target_kind not in DEFAULT_SPACE:
        raise BadInput(f"{where}: searching for a {target_kind} target is not built yet (MCU and FPGA targets)")
    unknown = sorted(set(block) - set(BLOCK_FIELDS))
    if unknown:
        raise BadInput(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(BLOCK_FIELDS)})")
    quick_block = block.get("quick") or {}
    if not isinstance(quick_block, dict):
        raise BadInput(f"{where}.quick: expected a mapping")
    bad = sorted(set(quick_block) - set(QUICK_FIELDS))
    if bad:
        raise BadInput(f"{where}.quick: unknown field(s) {', '.join(bad)} (known: {', '.join(QUICK_FIELDS)})")
    objectives = {**DEFAULT_OBJECTIVES[target_kind], **(block.get("objectives") or {})}
    for role in ("metric", "cost"):
        name = objectives.get(role)
        if name not in KNOWN_FIGURES:
            raise BadInput(f"{where}.objectives.{role}: unknown figure {name!r} (known: {', '.join(KNOWN_FIGURES)})")
    if objectives["cost"] in METRIC_FIGURES:
        raise BadInput(f"{where}.objectives.cost: {objectives['cost']} is a task metric; the cost is a resource "
                       "figure (flash_bytes, arena_bytes, latency_s, energy_j, macs, params ...)")
    space = _space(block.get("space") or DEFAULT_SPACE[target_kind], f"{where}.space", recipe, target_kind)
    prune = {**DEFAULT_PRUNE, **(block.get("prune") or {})}
    steps = {}
    if quick:
        prune.update(quick_block.get("prune") or {})
        steps = dict(quick_block.get("steps") or {})
        for name in steps:
            if name not in {s.name for s in recipe.steps}:
                raise BadInput(f"{where}.quick.steps.{name}: no step named '{name}'")
    trials = trials if trials is not None else (quick_block.get("trials") if quick else None) or block.get(
        "trials", DEFAULT_TRIALS)
    time_budget_s = time_budget_s if time_budget_s is not None else (
        quick_block.get("time_budget_s") if quick else None) or block.get("time_budget_s")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise BadInput(f"{where}.trials: a positive whole number, got {trials!r}")
    trial_timeout_s = trial_timeout_s if trial_timeout_s is not None else (
        quick_block.get("trial_timeout_s") if quick else None) or block.get("trial_timeout_s")
    for name, seconds in (("time_budget_s", time_budget_s), ("trial_timeout_s", trial_timeout_s)):
        if seconds is not None and (not _number(seconds) or seconds <= 0):
            raise BadInput(f"{where}.{name}: a positive number of seconds, got {seconds!r}")
    clips = quick_block.get("clips") if quick else None
    if clips is not None and (not isinstance(clips, int) or clips < 8):
        raise BadInput(f"{where}.quick.clips: a whole number of at least 8, got {clips!r}")
    early = early_stop_spec(*((quick_block["early_stop"], f"{where}.quick.early_stop") if quick and "early_stop" in
                              quick_block else (block.get("early_stop"), f"{where}.early_stop")))
    return SearchSpec(objectives["metric"], objectives["cost"], trials, time_budget_s, space, prune, steps, clips,
                      trial_timeout_s, early)


def _space(space, where, recipe, target_kind) -> dict:
    if not isinstance(space, dict) or not space:
        raise BadInput(f"{where}: expected a mapping knob -> list of values")
    out = {}
    for knob, values in space.items():
        if knob not in KNOBS:
            raise BadInput(f"{where}.{knob}: unknown knob (known: {', '.join(KNOBS)})")
        if knob in FPGA_KNOBS:
            out.update(check_fpga_knob(knob, values, f"{where}.{knob}", recipe, target_kind))
            continue
        if not isinstance(values, list) or not values:
            raise BadInput(f"{where}.{knob}: expected a non-empty list of values")
        if knob in MCU_KNOBS and target_kind != "mcu":
            raise BadInput(f"{where}.{knob}: a TFLite export knob, for an MCU target (this one is {target_kind}: "
                           "its activation bits are the knob 'activation')")
        for v in values:
            ok = {"width": lambda v: _number(v) and 0 < v <= 4, "sparsity": lambda v: _number(v) and 0 <= v < 1,
                  "distill": lambda v: isinstance(v, bool), "epochs": lambda v: isinstance(v, int) and v >= 0,
                  "lr": lambda v: _number(v) and v > 0, "tflite_activations": lambda v: v in ACTIVATIONS}[knob]
            if not ok(v):
                raise BadInput(f"{where}.{knob}: value {v!r} is out of range")
        out[knob] = list(values)
    if "distill" in out and not any(s.teacher for s in recipe.steps):
        raise BadInput(f"{where}.distill: the recipe has no distill step (no teacher to distill from)")
    return out


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
