"""Runs a recipe: validate everything, then the steps in order with a context carried between them, a checkpoint
after each step, and the run record that becomes report.json."""

import hashlib
import json
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import Callable

from . import atomic, delivery
from .errors import BadInput, Interrupted, TrainingDiverged
from .jsonable import plain
from .recipe import Recipe, load_recipe
from .record import Run, RunRecord
from .targets import load_target


RESUMED = ("steps", "figures", "layers", "checks", "artifacts")   # record parts a checkpoint keeps
CHECKPOINT = ".checkpoint"   # the folder in `out` a resumed run starts from
MIN_FREE_BYTES = 200_000_000   # exports, reports and an hls4ml project (the CAE decoder's is ~15 MB with its C-sim)


@dataclass
class Context:
    recipe: Recipe
    target: object
    family: object                  # compressor.families.Family: everything that differs by model family
    data: object                    # compressor.audio.dataset.Dataset
    out: Path
    seed: int
    quick: bool
    record: RunRecord
    models: dict = field(default_factory=dict)      # slot -> keras.Model
    trained: set = field(default_factory=set)       # slots trained so far
    state: dict = field(default_factory=dict)       # JSON-able results later steps read (metrics, artifact paths)
    log_prefix: str = ""
    stop_requested: str | None = None               # the signal's name, once SIGINT / SIGTERM arrived
    diverged: str | None = None                     # where the loss became NaN / infinite
    logger: Callable = print                        # progress lines go here (the CLI prints them)
    on_step: Callable | None = None                 # called with each finished step's record entry
    on_epoch: Callable | None = None                # called with (the model being fitted, epoch) after each epoch
    budgets: dict = field(default_factory=dict)     # the user's and the recipe's limits (the qat step's tolerance)
    checkpoint: object = None                       # the run's Checkpoint: its fits back up each finished epoch

    def log(self, msg):
        self.logger(f"{self.log_prefix}{msg}")

    @property
    def delivered(self):
        return self.models[self.recipe.deliver]

    def rebuild(self, slot, **overrides):
        """A fresh model of zoo slot `slot`, fitted to the data, with `overrides` (batch_size=1 for the converter)."""
        from .steps.slots import build_slot
        return build_slot(self.recipe.models[slot], self.data, **overrides)


def load_checked_recipe(recipe) -> Recipe:
    """A recipe (name, YAML path or Recipe) with its step kinds, step order and family checked against the
    registries."""
    from . import families, steps

    if isinstance(recipe, Recipe):     # loaded (and checked) already, perhaps changed in Python since
        return recipe
    return load_recipe(recipe, kinds=steps.KINDS, families=[*families.names(), GENERIC])


GENERIC = "generic"     # a recipe for any model (recipes/default_*.yaml): the family follows the model's task


def recipe_family(recipe, data=None, delivered=None):
    """The family a recipe runs with: its own, or a generic recipe's from the task of the data (a loaded Dataset),
    else of the delivered slot's model."""
    from . import families
    from .audio.dataset import Dataset
    from .graph import model_task

    if recipe.family != GENERIC:
        return families.get(recipe.family)
    if isinstance(data, Dataset):
        return families.for_task(data.task)
    if delivered is None:
        raise BadInput(f"recipe {recipe.name}: family '{GENERIC}' needs the delivered slot's model handed in")
    return families.for_task(model_task(delivered))


def run_recipe(recipe, *, data=None, out=None, quick=False, resume=False, seed=None, budgets=None, models=None,
               log=None, on_step=None, on_epoch=None, target=None, write_reports=True) -> Run:
    """Run `recipe` (a shipped recipe name, a YAML path or a Recipe) and return the Run; reports land in `out`.
    `data` is a folder, "builtin", or a prepared Dataset (a user model's data: compressor/user_data.py); `models`
    hands in-memory Keras models into slots (slot -> model, instead of building them; a slot whose path is
    "{model}" must get one); `target` replaces the recipe's; `log` receives the progress lines (default: print);
    `on_step(entry)` is called after each finished step (timings, memory ...), `on_epoch(model, epoch)` after each
    training epoch of any step (the search reports its trials' progress so poor ones stop early)."""
    from . import steps
    from .analysis.budgets import normalize
    from .audio.dataset import Dataset, load_data
    from .methods.fit import set_seed
    from .recipe import USER_MODEL
    from .steps.slots import build_models, shipped_weights_warnings

    say = log or (lambda line: print(line, flush=True))
    budgets = normalize(budgets, "budgets")     # a mistyped figure fails now, not after training
    recipe = load_checked_recipe(recipe).profile(quick)
    models = dict(models or {})
    unknown = sorted(set(models) - set(recipe.models))
    if unknown:
        raise BadInput(f"models: no slot {', '.join(map(repr, unknown))} in recipe {recipe.name} "
                       f"(slots: {', '.join(recipe.models)})")
    missing = [n for n, slot in recipe.models.items() if slot.path == USER_MODEL and n not in models]
    if missing:
        raise BadInput(f"recipe {recipe.name}: slot '{missing[0]}' takes your model: compress --model M --target T "
                       f"--recipe {recipe.name}")
    family = recipe_family(recipe, data, models.get(recipe.deliver))
    target = target if target is not None and not isinstance(target, (str, Path)) else load_target(
        target or recipe.target)
    seed = recipe.seed if seed is None else seed
    out = Path(out) if out else Path("out") / recipe.name
    atomic.check_output_folder(out)     # before any work
    data_source = data or recipe.data
    if not isinstance(data_source, Dataset) and data_source not in (None, "builtin") \
            and not Path(data_source).exists():
        raise BadInput(f"--data {data_source}: no such file or folder")

    record = RunRecord(seed=seed, target=asdict(target), recipe={**recipe.as_dict(), "profile": "quick" if quick
                                                                  else "full"})
    if isinstance(data_source, Dataset):
        dataset = data_source
    elif family.data_spec is None:
        raise BadInput(f"recipe {recipe.name}: a model of your own brings its data: compress --model M --data D")
    else:
        dataset = load_data(None if data_source == "builtin" else data_source, family.data_spec, quick=quick,
                            seed=seed, frontend=recipe.frontend or None)
    record["data"] = {"source": dataset.name, "frontend": dataset.frontend, "classes": dataset.classes,
                      "labelled": dataset.labelled,
                      "shapes": {k: list(getattr(dataset, k).shape) for k in ("x_train", "x_val", "x_test")},
                      "changes": dataset.changes, "preparation": dataset.preparation}
    for change in dataset.changes + dataset.preparation:   # resampling, padding ...; the feature cache: said once
        say(f"data: {change}")
    ctx = Context(recipe, target, family, dataset, out, seed, quick, record, logger=say, on_step=on_step,
                  on_epoch=on_epoch, budgets=_tightest(recipe.budgets, budgets))
    set_seed(seed)                          # the models' initial weights come from the seed too
    ctx.models = build_models(recipe, dataset, given=models)
    if data_source not in (None, "builtin"):
        record.warn(*shipped_weights_warnings(recipe, ctx.models))
    steps.check_recipe(ctx)                 # everything that can be rejected is rejected before training
    _check_free_disk(out, ctx.models)

    checkpoint = Checkpoint(out / CHECKPOINT, _prefix_fingerprints(recipe, seed, quick, dataset.name))
    start = checkpoint.restore(ctx) if resume else 0
    if not resume:
        checkpoint.clear()
    ctx.checkpoint = checkpoint
    with stop_on_signals(ctx):
        for index, step in enumerate(recipe.steps):
            if index >= start:
                _run_step(ctx, checkpoint, index, step)
    ctx.log_prefix = ""
    delivery.finish(ctx, budgets)           # the delivered model measured on its target, judged once
    record["status"] = "complete"
    record.add_artifacts({"report_json": "report.json", "report_html": "report.html", "summary_md": "summary.md"})
    if write_reports:                       # False: the caller writes them (api.compress, once outputs are in place)
        from .report.write import write_reports as write
        write(record, out)
        say(f"reports written to {out}/ (report.html, report.json, summary.md)")
    return Run(record, ctx.models, out)


def _run_step(ctx, checkpoint, index, step):
    from . import steps
    from .methods.fit import set_seed

    ctx.log_prefix = f"[{index + 1}/{len(ctx.recipe.steps)} {step.name}] "
    ctx.log(f"{step.kind} of '{step.model}'")
    set_seed(ctx.seed + index)          # per-step seed: a resumed run replays the same randomness
    checkpoint.start_step(index)
    t0 = time.perf_counter()
    result = steps.run(ctx, step)
    if ctx.diverged:
        raise TrainingDiverged(f"{ctx.recipe.path}: step '{step.name}' diverged at {ctx.diverged}; lower its "
                               "learning rate (params.lr) or check the data for NaN / huge values")
    if ctx.stop_requested:              # the step was cut short: it is not recorded, the last finished one is
        checkpoint.mark_incomplete(ctx)
        epochs = " and this step's finished epochs" if checkpoint.has_epochs() else ""
        raise Interrupted(f"stopped by {ctx.stop_requested} during step {index + 1} ({step.name}); the {index} "
                          f"finished step(s){epochs} are saved in {checkpoint.folder}: run the same command with "
                          "--resume")
    if steps.get(step.kind).trains:
        ctx.trained.add(step.model)
    entry = ctx.record.add_step(step.name, step.kind, model=step.model, seconds=round(time.perf_counter() - t0, 2),
                                metrics=result.metrics, notes=result.notes, artifacts=result.artifacts,
                                **result.detail)
    if ctx.on_step:
        ctx.on_step(entry)
    checkpoint.save(ctx, index + 1)


@contextmanager
def stop_on_signals(ctx):
    """SIGINT and SIGTERM ask the run to stop at the next safe point (a batch end, or a step end); a second one
    stops it at once."""
    def request(signum, frame):
        ctx.stop_requested = signal.Signals(signum).name
        ctx.log(f"{ctx.stop_requested}: stopping at the next safe point (again to stop at once)")
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, previous[s])

    if threading.current_thread() is not threading.main_thread():   # signals reach only the main thread
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, request)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Checkpoint:
    """After each step: every model slot's weights and the context state. A resumed run rebuilds the slots from
    the recipe, replays the structural part of the finished steps (no training), then loads the weights: this avoids
    deserializing QKeras models, which fails on this stack (SPEC 0).
    Within a step, each fit backs up its finished epochs (methods.fit.EpochBackup, in a folder per step and fit), so
    a resumed run continues the unfinished step after its last finished epoch; the step's end replaces them. Such a
    resume is not bit-exact: the later epochs see another shuffle order and random draws than an uninterrupted run's
    (one resumed at a step's end is exact). A checkpoint after k steps serves any recipe whose first k steps are the
    same (_prefix_fingerprints): copied into another recipe's --out, it spares that recipe the shared training."""

    def __init__(self, folder: Path, fingerprints: list):
        self.folder, self.fingerprints = folder, fingerprints    # fingerprints[k]: of the recipe's first k steps
        self.step, self.fits = 0, 0

    def start_step(self, index: int):
        self.step, self.fits = index, 0

    def next_fit_folder(self) -> Path:
        """Where the step's next fit keeps its epochs: the same folder for the same fit of a resumed run."""
        self.fits += 1
        return self._epochs() / f"step{self.step + 1}-fit{self.fits}"

    def has_epochs(self) -> bool:
        return any(p.is_file() for p in self._epochs().glob(f"step{self.step + 1}-fit*/**/*"))

    def _epochs(self) -> Path:
        # keyed by the steps up to this one: no other recipe's epochs are taken for this step's
        return self.folder / f"epochs-{self.fingerprints[self.step + 1]}"

    def clear(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def save(self, ctx: Context, steps_done: int):
        with atomic.staged_dir(self.folder) as tmp:
            for slot, model in ctx.models.items():
                model.save_weights(str(tmp / f"{slot}.weights.h5"))
            state = {"fingerprint": self.fingerprints[steps_done], "steps_done": steps_done,
                     "trained": sorted(ctx.trained),
                     "state": ctx.state, "record": {k: ctx.record[k] for k in RESUMED}}
            (tmp / "state.json").write_text(json.dumps(state, default=plain))

    def mark_incomplete(self, ctx: Context):
        """The record of a run that stopped early, beside its checkpoint (the previous outputs stay untouched)."""
        atomic.write_text(self.folder / "record.json",
                          json.dumps({**ctx.record, "status": "incomplete"}, indent=2, default=plain))

    def restore(self, ctx: Context) -> int:
        from . import steps

        state_file = self.folder / "state.json"
        if not state_file.is_file():
            ctx.log("no step finished before the run stopped: starting with the first")
            return 0
        state = json.loads(state_file.read_text())
        done = state["steps_done"]
        if done >= len(self.fingerprints) or state["fingerprint"] != self.fingerprints[done]:
            raise BadInput(f"{self.folder}: the checkpoint's {done} finished step(s) are not this recipe's first "
                           f"{done} (other models, steps, seed, profile or data); run without --resume")
        for step in ctx.recipe.steps[:done]:
            steps.restructure(ctx, step)
        for slot, model in ctx.models.items():
            model.load_weights(str(self.folder / f"{slot}.weights.h5"))
        ctx.trained, ctx.state = set(state["trained"]), state["state"]
        ctx.record.update(state["record"])     # what the finished steps recorded: entries, figures, checks, files
        ctx.log(f"resumed after step {done} of {len(ctx.recipe.steps)}")
        return done


def _tightest(*limits) -> dict:
    """One dict of ceilings (name -> value) and floors (name>= -> value), the tightest of each."""
    out = {}
    for given in limits:
        for name, value in given.items():
            if isinstance(value, (int, float)) and name in out:
                value = max(out[name], value) if name.endswith(">=") else min(out[name], value)
            out[name] = value
    return out


def _check_free_disk(out: Path, models):
    """Checkpoints hold every slot's weights (float32) and an hls4ml project can take hundreds of MB: refuse to
    start rather than fail an hour in."""
    params = sum(m.count_params() for m in models.values())
    need = 4 * params * 6 + MIN_FREE_BYTES       # two checkpoints, an epoch backup (weights, Adam's two slots)
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < need:
        raise BadInput(f"{existing}: {free / 1e6:,.0f} MB free, the run needs about {need / 1e6:,.0f} MB for "
                       "checkpoints and outputs (choose another --out)")


def _prefix_fingerprints(recipe: Recipe, seed, quick, data_name) -> list:
    """[k]: a fingerprint of what the recipe's first k steps produce - its family, target, models, seed, profile,
    data and those steps' parameters, not its name, budgets or later steps - so a checkpoint after k steps serves any
    recipe that begins with the same k steps: the same recipe with a later step edited, or another recipe that
    trains the same float model before it quantizes it differently."""
    d = recipe.as_dict()
    base = [d["family"], d["target"], d["models"], seed, quick, data_name]
    return [hashlib.sha256(json.dumps([base, d["steps"][:k]], sort_keys=True, default=str).encode()).hexdigest()[:16]
            for k in range(len(recipe.steps) + 1)]
