"""Recipes as data: `recipes/<name>.yaml`, validated before any work starts.

A recipe names model slots (built from the zoo, copied from another slot, or loaded from a file), the data, the
target, an ordered list of steps acting on those slots, budgets, and a `quick` profile that shrinks epochs and data.
Every error names the file and the field.
"""

import copy
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .schema import Fields, load_yaml

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
USER_MODEL = "{model}"      # a slot's path that the user's model fills (compress --model M; recipes/default_*.yaml)


@dataclass(frozen=True)
class ModelSlot:
    name: str
    zoo: str | None = None          # a zoo model name
    args: dict = field(default_factory=dict)
    copy_of: str | None = None      # same architecture and initial weights as another slot
    path: str | None = None         # a trained Keras model file

    @property
    def shipped_weights(self) -> str | None:
        """The tag of the shipped pretrained weights a zoo slot starts from (args 'weights'), if any."""
        return self.args.get("weights") if self.zoo else None


@dataclass(frozen=True)
class Step:
    name: str
    kind: str
    model: str                      # the slot the step acts on
    teacher: str | None             # distill only
    params: dict


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    description: str
    family: str
    target: str
    seed: int
    data: str
    frontend: dict
    models: dict                    # slot name -> ModelSlot
    deliver: str                    # the slot that is analyzed, exported and judged against the budgets
    steps: tuple
    budgets: dict
    quick: dict                     # {"steps": {step: params override}, "models": {slot: args override}}
    search: dict = field(default_factory=dict)   # the `search:` block, as written (compressor/search/space.py reads it)

    def profile(self, quick: bool) -> "Recipe":
        """The recipe with the quick profile's overrides applied to its steps (or itself, for the full profile)."""
        if not quick:
            return self
        step_over, model_over = self.quick["steps"], self.quick["models"]
        steps = tuple(Step(s.name, s.kind, s.model, s.teacher, _merge(s.params, step_over.get(s.name, {})))
                      for s in self.steps)
        models = {n: ModelSlot(m.name, m.zoo, _merge(m.args, model_over.get(n, {})), m.copy_of, m.path)
                  for n, m in self.models.items()}
        return Recipe(**{**self.__dict__, "steps": steps, "models": models})

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "description": self.description, "family": self.family,
                "target": self.target, "deliver": self.deliver, "budgets": self.budgets,
                "models": {n: {k: v for k, v in (("zoo", m.zoo), ("args", m.args), ("copy_of", m.copy_of),
                                                  ("path", m.path)) if v} for n, m in self.models.items()},
                "steps": [{"name": s.name, "kind": s.kind, "model": s.model, "teacher": s.teacher,
                           "params": s.params} for s in self.steps]}


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(name_or_path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise BadInput(f"{path}: no such recipe file")
        return path
    path = RECIPES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise BadInput(f"unknown recipe '{name_or_path}' (known: {', '.join(recipe_names())})")
    return path


def load_recipe(name_or_path, *, kinds=None, families=None) -> Recipe:
    """The recipe, its structure checked. `kinds` (name -> step kind, as compressor.steps.KINDS) and `families`
    (names, as compressor.families.names()) are the registries the engine passes: with them, step kinds, the order
    of steps and the family are checked too (this core module does not import the layers above it)."""
    path = recipe_path(name_or_path)
    where = str(path)
    f = Fields(load_yaml(path), where)
    name = f.get("name", str)
    description = f.get("description", str)
    family = f.get("family", str, choices=tuple(families) if families is not None else None)
    target = f.get("target", str)
    seed = f.get("seed", int, default=0)
    data = f.get("data", str, default="builtin")
    frontend = f.get("frontend", dict, default={})
    models = _models(f.sub("models"), where)
    deliver = f.get("deliver", str, choices=tuple(models))
    steps = _steps(f.get("steps", list), models, where, kinds)
    if kinds is not None:
        _check_order(steps, models, deliver, where, kinds)
    budgets = _budgets(f.get("budgets", dict, default={}), where)
    quick = _quick(f.sub("quick", default={}) or Fields({}, f"{where}.quick"), steps, models, where)
    search = f.get("search", dict, default={})
    f.done()
    return Recipe(name, path, description, family, target, seed, data, frontend, models, deliver, tuple(steps),
                  budgets, quick, search)


def _models(f: Fields, where) -> dict:
    slots = {}
    for slot_name in f.data:
        m = f.sub(slot_name)
        slot = ModelSlot(slot_name, zoo=m.get("zoo", str, default=None), args=m.get("args", dict, default={}),
                         copy_of=m.get("copy_of", str, default=None), path=m.get("path", str, default=None))
        m.done()
        sources = [s for s in (slot.zoo, slot.copy_of, slot.path) if s is not None]
        if len(sources) != 1:
            raise BadInput(f"{where}.models.{slot_name}: give exactly one of 'zoo', 'copy_of', 'path'")
        if slot.copy_of is not None and slot.copy_of not in f.data:
            raise BadInput(f"{where}.models.{slot_name}: field 'copy_of': no model slot '{slot.copy_of}'")
        slots[slot_name] = slot
    if not slots:
        raise BadInput(f"{where}: field 'models': at least one model slot is needed")
    return slots


def _steps(items, models, where, kinds) -> list[Step]:
    steps, seen = [], set()
    for i, item in enumerate(items):
        s = Fields(item, f"{where}.steps[{i}]")
        name = s.get("name", str)
        s.where = f"{where}.steps[{i}] ({name})"
        if name in seen:
            raise BadInput(f"{s.where}: field 'name': duplicate step name '{name}'")
        seen.add(name)
        kind = s.get("kind", str, choices=_kind_names(kinds))
        if kinds is not None:
            kind = kinds[kind].name                 # an alias (ptq) becomes the kind's name (export_tflite)
        model = s.get("model", str, choices=tuple(models))
        teacher = s.get("teacher", str, default=None, choices=tuple(models) + (None,))
        if kinds is not None and kinds[kind].takes_teacher != (teacher is not None):
            teaching = sorted({k.name for k in kinds.values() if k.takes_teacher})
            raise BadInput(f"{s.where}: field 'teacher': " + (f"a {kind} step needs a teacher slot" if teacher is None
                                                                else f"only {' and '.join(teaching)} steps have one"))
        params = s.get("params", dict, default={})
        s.done()
        steps.append(Step(name, kind, model, teacher, params))
    if not steps:
        raise BadInput(f"{where}: field 'steps': at least one step is needed")
    return steps


def _budgets(budgets: dict, where) -> dict:
    """The recipe's limits, in the forms `--budget` takes (macs: 30e6, "accuracy>=": 0.8, min_accuracy: 0.8),
    checked now so a typo fails before any training; realtime_sample_rate is a rule, not a figure (steps/kinds)."""
    from .analysis.budgets import normalize

    rate = budgets.get("realtime_sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0):
        raise BadInput(f"{where}: field 'budgets.realtime_sample_rate': must be a positive number, got {rate!r}")
    out = normalize({k: v for k, v in budgets.items() if k != "realtime_sample_rate"}, f"{where}: field budgets")
    return {**out, **({"realtime_sample_rate": rate} if rate is not None else {})}


def _quick(f: Fields, steps, models, where) -> dict:
    """The quick profile: step parameter overrides by step name, model-argument overrides by slot name."""
    quick = {"steps": f.get("steps", dict, default={}), "models": f.get("models", dict, default={})}
    f.done()
    for part, names in (("steps", {s.name for s in steps}), ("models", set(models))):
        for key, override in quick[part].items():
            if key not in names:
                raise BadInput(f"{where}: field 'quick.{part}.{key}': no {part[:-1]} named '{key}'")
            if not isinstance(override, dict):
                raise BadInput(f"{where}: field 'quick.{part}.{key}': expected a mapping")
    return quick


def _kind_names(kinds):
    return tuple(kinds) if kinds is not None else None


def _check_order(steps, models, deliver, where, kinds):
    """Reject orders that cannot work: exporting, or teaching with, a model that has not been trained yet."""
    trained = {name for name, slot in models.items() if slot.path is not None or slot.shipped_weights}
    for i, step in enumerate(steps):
        at = f"{where}.steps[{i}] ({step.name})"
        if step.teacher is not None and step.teacher not in trained:
            raise BadInput(f"{at}: field 'teacher': model '{step.teacher}' is not trained by any earlier step")
        if kinds[step.kind].needs_trained and step.model not in trained:
            raise BadInput(f"{at}: field 'kind': {step.kind} of model '{step.model}' before any step trains it")
        if kinds[step.kind].trains:
            trained.add(step.model)
    if deliver not in trained:
        raise BadInput(f"{where}: field 'deliver': model '{deliver}' is never trained by a step")


def _merge(base: dict, override: dict) -> dict:
    """Nested dict merge; override wins."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out
