"""The whole search: the recipe and its search block checked, the data loaded once, the trials on Ray Tune, the
Pareto set, and the chosen plan - the best metric among the trials meeting every budget and check - run again with
the recipe's full steps (its int8 export and TFLite Micro check) into the output folder, its report.json carrying
record["search"]. No plan fits: NoPlanFits (exit 3) naming the budget no trial met, the search record kept in
<out>/search.json."""

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import EXIT_BUDGET, BadInput, CompressorError, Interrupted
from .pareto import pareto_indices
from .space import search_spec
from .text import readable

STATE_DIR = "search_state"     # Ray Tune's experiment, inside the output folder (--resume reads it)
SEARCH_JSON = "search.json"


class NoPlanFits(CompressorError):
    """The search finished and no trial met every budget; the message names the budget(s) no trial met."""

    exit_code = EXIT_BUDGET


def search(recipe=None, *, model=None, target=None, data=None, quick=False, trials=None, time_budget_s=None,
           trial_timeout_s=None, address=None, resume=False, out=None, budgets=None, seed=None, cpus=None,
           first=None, log=None):
    """Search `recipe`'s plans (its `search:` block, or the target kind's defaults) under every budget - the board's,
    the recipe's and `budgets` - on Ray Tune; deliver the best fitting plan into `out` like a recipe run (report.json
    with a `search` section, model_int8.tflite, model_data.cc ...). Returns that run's Run. `model` (a Keras model
    or file) with its labelled `data` and `target`: the user's own model, searched with `recipe` or the target's
    default search recipe (recipes/default_<kind>_search.yaml). `first`: plans tried before the sampler's (a list of
    knob -> value). Raises NoPlanFits (exit 3) when no trial met every budget, Interrupted (exit 130) when SIGINT /
    SIGTERM stopped it (resume=True continues)."""
    from .. import atomic
    from ..analysis import budgets as rules
    from ..engine import load_checked_recipe, run_recipe
    from ..targets import load_target
    from .tuner import run_trials, start_ray
    from .user import pack

    say = log or (lambda line: print(line, flush=True))
    budgets = rules.normalize(budgets, "budgets")
    if model is not None:
        recipe, user, data = _user_search(recipe, model, target, data, quick, seed, say)
    elif recipe is None:
        raise BadInput("compress search: give --recipe R, or --model M --target T --data D (your own model)")
    else:
        if target is not None or data is not None:
            raise BadInput("compress search: --target and --data go with --model (a recipe names its target and "
                           "data)")
        recipe, user = load_checked_recipe(recipe), None
    target = load_target(recipe.target)
    spec = search_spec(recipe, target.kind, quick=quick, trials=trials, time_budget_s=time_budget_s,
                       trial_timeout_s=trial_timeout_s)
    seed = recipe.seed if seed is None else seed
    stem = Path(model).stem if isinstance(model, (str, Path)) else getattr(user, "name", None)
    out = Path(out) if out else Path("out") / (recipe.name if user is None else f"{stem}_search")
    atomic.check_output_folder(out)
    given_plan = as_given_plan(spec) if user is not None else None
    first = _check_first(first if first is not None else recipe.search.get("first"), spec, recipe)
    if given_plan and given_plan not in first:
        first = [given_plan, *first]
    base = recipe.profile(quick)
    if data is None:
        data = _recipe_data(recipe, quick, seed)
    data = _fewer_clips(data, spec.clips, seed)
    limits = {"target": rules.target_limits(target), "recipe": {k: v for k, v in recipe.budgets.items()
                                                               if k != "realtime_sample_rate"}, "cli": budgets}
    job = {"recipe": base, "spec": spec, "data": data, "seed": seed, "quick": quick, "budgets": budgets,
           "limits": limits, "first": first, "given": given_plan, "concurrent": None,
           "user": pack(user) if user is not None else None}
    say(f"search: {recipe.name} on {target.name}: {spec.trials} trial(s) over "
        + ", ".join(f"{k} {v}" for k, v in spec.space.items())
        + f"; {spec.metric} ({spec.metric_mode}) against {spec.cost} (min)")
    import ray
    started = start_ray(address, cpus, say)
    try:
        job["concurrent"] = max(1, int(ray.cluster_resources().get("CPU", 1)))
        entries, interrupted, repeats = run_trials(job, out / STATE_DIR, resume=resume, log=say)
    finally:
        if started:
            ray.shutdown()
    section = search_section(entries, spec, limits, resume, given_plan, repeats)
    if interrupted:
        _write_json(out / SEARCH_JSON, section)
        raise Interrupted(f"search stopped with {len(entries)} of {spec.trials} trial(s) done; its state is in "
                          f"{out / STATE_DIR}: run the same command with --resume")
    if section["delivered"] is None:
        _write_json(out / SEARCH_JSON, section)
        raise NoPlanFits(f"search: none of {len(entries)} trial(s) met every budget: {section['why_none']} "
                         f"(the trials: {out / SEARCH_JSON})")
    plan = section["delivered"]["plan"]
    say(f"search: delivering {_plan_text(plan)} (trial {section['delivered']['trial']}): its full steps again, "
        "its exports and their checks included")
    from .plans import given_models, plan_recipe
    final = plan_recipe(base, spec, plan, deliver=True)
    run = run_recipe(final, data=data, out=out, quick=quick, seed=seed, budgets=budgets,
                     models=given_models(final, plan, data, seed, user), log=say, write_reports=False)
    record = run.record
    if user is not None:
        record["model"]["source"] = str(model) if isinstance(model, (str, Path)) else None
    if recipe.data == "builtin":     # the trials' clips are the built-in data's: not "a user's data" for the weights
        from ..steps.slots import shipped_weights_warnings
        shipped = set(shipped_weights_warnings(final, run.models))
        record["warnings"] = [w for w in record.get("warnings", []) if w not in shipped]
    record["search"] = {**section, "delivered": {**section["delivered"], "verdict": record["verdict"],
                                                 "figures": _values(record["figures"])}}
    record["recipe"]["search_plan"] = plan
    _write_reports(record, out, say)
    _write_json(out / SEARCH_JSON, record["search"])
    return run


def _user_search(recipe, model, target, data, quick, seed, say):
    """(the recipe with the target, the user's Keras model, its Dataset) of `compress search --model M`."""
    from ..keras_io import model_and_source
    from ..engine import load_checked_recipe
    from ..graph import model_task
    from ..targets import load_target
    from ..user_data import user_dataset
    from .user import check_teachable, user_slots

    if target is None:
        raise BadInput("compress search --model: --target T names the board to fit")
    kind = load_target(target).kind
    recipe = load_checked_recipe(recipe or f"default_{kind}_search")
    if not user_slots(recipe):
        raise BadInput(f"recipe {recipe.name}: --model needs a recipe whose slots take your model (path "
                       f"\"{{model}}\"), as recipes/default_{kind}_search.yaml")
    model, source = model_and_source(model)
    if data is None:
        raise BadInput("compress search --model: every trial trains: give labelled data (--data an .npz with x and "
                       "y, or a folder of labelled audio)")
    dataset = user_dataset(data, model, model_task(model), seed=recipe.seed if seed is None else seed, quick=quick)
    if not dataset.labelled:
        raise BadInput(f"compress search --model: {data} has no labels or targets; every trial trains: give an "
                       ".npz with x and y (or labelled audio)")
    check_teachable(recipe, dataset.task, source or f"model '{model.name}'")
    for change in dataset.changes:
        say(f"data: {change}")
    return dataclasses.replace(recipe, target=str(target), search=_task_metric(recipe.search, dataset.task)), \
        model, dataset


def _task_metric(block, task):
    """The search block with `metric: auto` read for the model's task: accuracy for a classifier, else MSE (the
    figures the generic family measures)."""
    objectives = dict((block or {}).get("objectives") or {})
    if objectives.get("metric") != "auto":
        return block
    objectives["metric"] = "accuracy" if task == "classification" else "mse"
    return {**block, "objectives": objectives}


def _recipe_data(recipe, quick, seed):
    """A recipe's own data (its family's built-in set, or its folder)."""
    from .. import families
    from ..audio.dataset import load_data

    family = families.get(recipe.family)
    return load_data(None if recipe.data == "builtin" else recipe.data, family.data_spec, quick=quick, seed=seed,
                     frontend=recipe.frontend or None)


def search_section(entries, spec, limits, resumed, given_plan=None, repeats=None) -> dict:
    """record["search"]: the spec, every trial, the Pareto set (trial numbers), the chosen plan (or why none); with
    `given_plan` (the user's model as given), what the delivered plan costs in the metric against it; `repeats`
    the sampler's count of plans proposed again (tuner.run_trials), in the engine part."""
    trials = [{"trial": i + 1, **e} for i, e in enumerate(entries)]
    front = pareto_indices(entries, spec.metric, spec.metric_mode, spec.cost)
    counts = Counter(e["status"] for e in entries)
    fitting = [t for t in trials if t["status"] == "ok" and t["fits"]]
    section = {"spec": spec.as_dict(), "engine": {**_engine(), "early_stopping": _early_stopping(spec),
                                                  "sampler_repeats": (repeats or {}).get("repeats"),
                                                  "sampler_drawn": (repeats or {}).get("drawn")},
               "trials": trials,
               "pareto": [trials[i]["trial"] for i in front],
               "counts": {"trials": len(entries), "ok": counts["ok"], "failed": counts["failed"],
                          "infeasible": counts["infeasible"], "stopped_early": counts["stopped early"],
                          "fit": len(fitting)},
               "limits": limits, "delivered": None, "why_none": None, "metric_cost": None, "resumed": bool(resumed)}
    if front:
        chosen = trials[front[0]]
        section["delivered"] = {"trial": chosen["trial"], "plan": chosen["plan"],
                                "search_figures": {k: chosen["figures"].get(k) for k in (spec.metric, spec.cost)}}
        section["metric_cost"] = _metric_cost(trials, chosen, given_plan, spec)
    else:
        section["why_none"] = _why_none(entries)
    section["summary"] = summary_line(section, spec)
    return section


def summary_line(section, spec) -> str:
    c = section["counts"]
    head = (f"search: {c['fit']} of {c['trials']} trial(s) fit every budget ({c['failed']} failed, "
            f"{c['infeasible']} rejected before training"
            + (f", {c['stopped_early']} stopped early" if c.get("stopped_early") else "") + ")")
    d = section["delivered"]
    if d is None:
        return f"{head}; no plan delivered: {section['why_none']}"
    figs = d["search_figures"]
    cost = section.get("metric_cost")
    paid = (f"; {spec.metric} {readable(cost['given'])} as given -> {readable(cost['delivered'])}"
            if cost else "")
    return (f"{head}; delivered {_plan_text(d['plan'])} (trial {d['trial']}: {spec.metric} "
            f"{readable(figs[spec.metric])}, {spec.cost} {readable(figs[spec.cost])}){paid}; Pareto set: "
            f"{len(section['pareto'])} trial(s)")


def _metric_cost(trials, chosen, given_plan, spec):
    """The metric of the user's model as given (its trial) against the chosen plan's, and the difference."""
    given = next((t for t in trials if t["plan"] == given_plan and t["status"] == "ok"), None)
    if given is None or given_plan is None:
        return None
    before, after = given["figures"][spec.metric], chosen["figures"][spec.metric]
    return {"metric": spec.metric, "given_trial": given["trial"], "given": before, "delivered": after,
            "change": after - before}


def as_given_plan(spec):
    """The plan that delivers the user's model as given (width 1, no pruning, int8), when the space has it: the first
    trial of a search on the user's model, so what the delivered plan costs is measured, not guessed."""
    plan = {k: v for k, v in {"width": 1.0, "sparsity": 0.0, "tflite_activations": "int8"}.items()
            if k in spec.space}
    if set(plan) != set(spec.space) or any(v not in spec.space[k] for k, v in plan.items()):
        return None
    return plan


def _why_none(entries) -> str:
    """The budgets no trial met: a budget is named when every trial that was judged failed it."""
    judged = [e for e in entries if e["status"] in ("ok", "infeasible")]
    if not judged:
        return "every trial failed (see each trial's why)"
    failing = Counter()
    for e in judged:
        for key in {(r["name"], r["op"], r["limit"], r["source"]) for r in e["failed_budgets"]}:
            failing[key] += 1
    named = [k for k, n in failing.items() if n == len(judged)] or [k for k, _ in failing.most_common(1)]
    checks = sum(1 for e in judged if e.get("failed_checks"))
    text = "; ".join(f"{name} {op} {readable(limit)} ({source}) failed by {failing[(name, op, limit, source)]} of "
                     f"{len(judged)} judged trial(s)" for name, op, limit, source in named)
    unrunnable = [e for e in judged if e["status"] == "infeasible" and not e["failed_budgets"]]
    if not text and unrunnable:     # rejected before training by the device, not a budget (trial.evaluate)
        return f"{len(unrunnable)} of {len(judged)} judged plan(s) cannot run on the device ({unrunnable[0]['why']})"
    return text or f"a check failed in {checks} of {len(judged)} trial(s)"


def _check_first(first, spec, recipe):
    """Plans to try before the sampler's: each names every knob, with a value from its list."""
    if not first:
        return []
    where = f"{recipe.path}: field 'search.first'"
    if not isinstance(first, list):
        raise BadInput(f"{where}: expected a list of plans (knob -> value)")
    for i, plan in enumerate(first):
        if not isinstance(plan, dict) or set(plan) != set(spec.space):
            raise BadInput(f"{where}[{i}]: a plan names every knob of the space ({', '.join(spec.space)})")
        for k, v in plan.items():
            if v not in spec.space[k]:
                raise BadInput(f"{where}[{i}].{k}: {v!r} is not one of {spec.space[k]}")
    return [dict(p) for p in first]


def _fewer_clips(data, clips, seed):
    """The quick search's trials see `clips` examples of each split (a seeded choice, the same in every trial)."""
    if not clips:
        return data
    rng = np.random.default_rng(seed)
    picked = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if len(x) > clips:
            idx = np.sort(rng.choice(len(x), clips, replace=False))
            x, y = x[idx], y[idx]
        picked.update({f"x_{split}": x, f"y_{split}": y})
    return dataclasses.replace(data, **picked, changes=[*data.changes,
                                                        f"search quick profile: {clips} clips a split"])


def _write_reports(record, out, say):
    from ..report.write import write_reports

    write_reports(record, out)      # report.html and summary.md draw record["search"] themselves
    say(f"reports written to {out}/ (report.html, report.json, summary.md; the trials in {SEARCH_JSON})")


def _write_json(path, data):
    from .. import atomic
    from ..jsonable import plain
    atomic.write_text(path, json.dumps(data, indent=2, default=plain))


def _values(figures) -> dict:
    return {k: f["value"] for k, f in figures.items() if isinstance(f, dict) and "value" in f}


def _plan_text(plan) -> str:
    return ", ".join(f"{k}={v}" for k, v in plan.items())


def _engine() -> dict:
    import optuna
    import ray
    return {"tuner": f"ray[tune] {ray.__version__}", "sampler": f"optuna {optuna.__version__} TPESampler "
            "(multi-objective, multivariate, budgets as constraints; no plan run twice)"}


def _early_stopping(spec):
    early = spec.early_stop
    return early and (f"ASHA on {spec.metric} (validation split, each epoch): grace {early['grace_epochs']} "
                      f"epoch(s), reduction factor {early['reduction_factor']}")
