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

STATE_DIR = "search_state"     # Ray Tune's experiment, inside the output folder (--resume reads it)
SEARCH_JSON = "search.json"


class NoPlanFits(CompressorError):
    """The search finished and no trial met every budget; the message names the budget(s) no trial met."""

    exit_code = EXIT_BUDGET


def search(recipe, *, quick=False, trials=None, time_budget_s=None, address=None, resume=False, out=None,
           budgets=None, seed=None, cpus=None, first=None, log=None):
    """Search `recipe`'s plans (its `search:` block, or the target kind's defaults) under every budget - the board's,
    the recipe's and `budgets` - on Ray Tune; deliver the best fitting plan into `out` like a recipe run (report.json
    with a `search` section, model_int8.tflite, model_data.cc ...). Returns that run's Run. `first`: plans tried
    before the sampler's (a list of knob -> value). Raises NoPlanFits (exit 3) when no trial met every budget,
    Interrupted (exit 130) when SIGINT / SIGTERM stopped it (resume=True continues)."""
    from .. import atomic, families
    from ..analysis import budgets as rules
    from ..audio.dataset import load_data
    from ..engine import load_checked_recipe, run_recipe
    from ..targets import load_target
    from .tuner import run_trials, start_ray

    say = log or (lambda line: print(line, flush=True))
    budgets = rules.normalize(budgets, "budgets")
    recipe = load_checked_recipe(recipe)
    target = load_target(recipe.target)
    spec = search_spec(recipe, target.kind, quick=quick, trials=trials, time_budget_s=time_budget_s)
    seed = recipe.seed if seed is None else seed
    out = Path(out) if out else Path("out") / recipe.name
    atomic.check_output_folder(out)
    first = _check_first(first if first is not None else recipe.search.get("first"), spec, recipe)
    base = recipe.profile(quick)
    family = families.get(recipe.family)
    data = load_data(None if recipe.data == "builtin" else recipe.data, family.data_spec, quick=quick, seed=seed,
                     frontend=recipe.frontend or None)
    data = _fewer_clips(data, spec.clips, seed)
    limits = {"target": rules.target_limits(target), "recipe": {k: v for k, v in recipe.budgets.items()
                                                               if k != "realtime_sample_rate"}, "cli": budgets}
    job = {"recipe": base, "spec": spec, "data": data, "seed": seed, "quick": quick, "budgets": budgets,
           "limits": limits, "first": first, "concurrent": None}
    say(f"search: {recipe.name} on {target.name}: {spec.trials} trial(s) over "
        + ", ".join(f"{k} {v}" for k, v in spec.space.items())
        + f"; {spec.metric} ({spec.metric_mode}) against {spec.cost} (min)")
    import ray
    started = start_ray(address, cpus, say)
    try:
        job["concurrent"] = max(1, int(ray.cluster_resources().get("CPU", 1)))
        entries, interrupted = run_trials(job, out / STATE_DIR, resume=resume, log=say)
    finally:
        if started:
            ray.shutdown()
    section = search_section(entries, spec, limits, resume)
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
        "int8 export and checks included")
    from .plans import given_models, plan_recipe
    final = plan_recipe(base, spec, plan, deliver=True)
    run = run_recipe(final, data=data, out=out, quick=quick, seed=seed, budgets=budgets,
                     models=given_models(final, plan, data, seed), log=say, write_reports=False)
    record = run.record
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


def search_section(entries, spec, limits, resumed) -> dict:
    """record["search"]: the spec, every trial, the Pareto set (trial numbers), the chosen plan (or why none)."""
    trials = [{"trial": i + 1, **e} for i, e in enumerate(entries)]
    front = pareto_indices(entries, spec.metric, spec.metric_mode, spec.cost)
    counts = Counter(e["status"] for e in entries)
    fitting = [t for t in trials if t["status"] == "ok" and t["fits"]]
    section = {"spec": spec.as_dict(), "engine": _engine(), "trials": trials,
               "pareto": [trials[i]["trial"] for i in front],
               "counts": {"trials": len(entries), "ok": counts["ok"], "failed": counts["failed"],
                          "infeasible": counts["infeasible"], "fit": len(fitting)},
               "limits": limits, "delivered": None, "why_none": None, "resumed": bool(resumed)}
    if front:
        chosen = trials[front[0]]
        section["delivered"] = {"trial": chosen["trial"], "plan": chosen["plan"],
                                "search_figures": {k: chosen["figures"].get(k) for k in (spec.metric, spec.cost)}}
    else:
        section["why_none"] = _why_none(entries)
    section["summary"] = summary_line(section, spec)
    return section


def summary_line(section, spec) -> str:
    c = section["counts"]
    head = (f"search: {c['fit']} of {c['trials']} trial(s) fit every budget ({c['failed']} failed, "
            f"{c['infeasible']} rejected before training)")
    d = section["delivered"]
    if d is None:
        return f"{head}; no plan delivered: {section['why_none']}"
    figs = d["search_figures"]
    return (f"{head}; delivered {_plan_text(d['plan'])} (trial {d['trial']}: {spec.metric} "
            f"{figs[spec.metric]:.4g}, {spec.cost} {figs[spec.cost]:,.4g}); Pareto set: "
            f"{len(section['pareto'])} trial(s)")


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
    text = "; ".join(f"{name} {op} {limit:,.6g} ({source}) failed by {failing[(name, op, limit, source)]} of "
                     f"{len(judged)} judged trial(s)" for name, op, limit, source in named)
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
            "(multi-objective)", "early_stopping": None}
