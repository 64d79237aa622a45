"""report.html's Search section, drawn from record["search"] (a `compress search` run): what was searched and how,
the Pareto plot (the metric against the cost, one point per trial that ran, the budget lines, the delivered plan
ringed) and the table of every trial. Nothing is drawn for a record without a search."""

import math

from ..analysis.budgets import split_key
from . import charts
from .blocks import FIGURE_LABELS, _dict, _e, _list, _number, section
from .summary import format_value, plan_text, search_objectives, value_text

STATUS_BADGES = {"ok": "pass", "failed": "fail", "infeasible": "warn"}
COST_UNITS = (("_bytes", "bytes"), ("_s", "s"), ("_j", "J"), ("_pj", "pJ"))


def _unit(record, name) -> str:
    """The figure's unit as the delivered run recorded it; the trials keep plain numbers."""
    figure = _dict(_dict(record.get("figures")).get(name))
    if isinstance(figure.get("unit"), str):
        return figure["unit"]
    return next((unit for suffix, unit in COST_UNITS if str(name).lower().endswith(suffix)), "")


def _finite(value):
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def axis_title(name, unit, mode) -> str:
    """'MACs per inference (macs, MACs) - lower is better'."""
    text = FIGURE_LABELS.get(name, str(name).replace("_", " "))
    keys = ", ".join(str(k) for k in dict.fromkeys([name, unit]) if k and k != "fraction")
    better = {"max": "higher is better", "min": "lower is better"}.get(mode)
    return text + (f" ({keys})" if keys and keys != text else "") + (f" - {better}" if better else "")


def limits_on(search, names) -> list:
    """The recorded limits on the objectives: (axis, name, op, limit, source); keys read as the judge reads them
    (floors stored as 'name>=', a board's aliases such as latency for latency_s)."""
    rows = []
    for source, limits in _dict(search.get("limits")).items():
        for key, limit in _dict(limits).items():
            name, op = split_key(str(key))
            if name in names and _finite(limit) is not None:
                rows.append((names[name], name, op, limit, str(source)))
    return rows


def _trials(search) -> list:
    return [t for t in _list(search.get("trials")) if isinstance(t, dict)]


def _pareto(search) -> set:
    return {n for n in _list(search.get("pareto")) if isinstance(n, int)}


def _why(trial) -> str:
    """The trial's own why, else the budgets and checks it failed."""
    if trial.get("why"):
        return str(trial["why"])
    parts = []
    for row in _list(trial.get("failed_budgets")):
        row = _dict(row)
        floor = row.get("op") == ">="
        if row.get("value") is None:
            bound = f"{'≥' if floor else '≤'} {format_value(row.get('limit'))}"
            parts.append(f"{row.get('name')} not reported ({bound}, {row.get('source')})")
        else:
            parts.append(f"{row.get('name')} {format_value(row['value'])} {'<' if floor else '>'} "
                         f"{format_value(row.get('limit'))} ({row.get('source')})")
    parts += [f"check failed: {c}" for c in _list(trial.get("failed_checks"))]
    return "; ".join(parts)


def _facts(record, search, metric, mode, cost) -> str:
    spec, engine, counts = _dict(search.get("spec")), _dict(search.get("engine")), _dict(search.get("counts"))
    delivered = search.get("delivered")
    pairs = []
    if metric and cost:
        how = {"max": "maximized", "min": "minimized"}.get(mode, mode)
        pairs.append(("objectives", f"<b>{_e(metric)}</b>" + (f" ({_e(how)})" if how else "")
                      + f" against <b>{_e(cost)}</b> (minimized)"))
    space = _dict(spec.get("space"))
    if space:
        pairs.append(("space", "; ".join(f"{_e(k)}: {_e(', '.join(value_text(v) for v in _list(vals)))}"
                                         for k, vals in space.items())))
    if counts:
        pairs.append(("trials", _e(f"{counts.get('trials', 0)} run: {counts.get('ok', 0)} ok, "
                                   f"{counts.get('failed', 0)} failed, {counts.get('infeasible', 0)} rejected before "
                                   f"training; {counts.get('fit', 0)} fit every budget")
                      + (f" (of {_e(spec['trials'])} planned)" if spec.get("trials") is not None else "")
                      + (" · resumed" if search.get("resumed") else "")))
    engine_text = ", ".join(str(v) for k, v in engine.items() if v and isinstance(v, str) and k != "early_stopping")
    if isinstance(engine.get("sampler_repeats"), int) and engine["sampler_repeats"]:
        engine_text += f"; {engine['sampler_repeats']} proposal(s) of a plan already tried: told its result, not run"
    if engine_text:
        pairs.append(("engine", _e(engine_text)))
    pareto = [n for n in _list(search.get("pareto")) if isinstance(n, int)]
    if pareto:
        pairs.append(("Pareto set", _e(", ".join(f"trial {n}" for n in pareto)) + " (best metric first)"))
    if isinstance(delivered, dict):
        found = _dict(delivered.get("search_figures"))
        rerun = _dict(delivered.get("figures"))
        text = f"trial {_e(delivered.get('trial'))}: <b>{_e(plan_text(delivered.get('plan')))}</b>"
        shown = [k for k in (metric, cost) if _finite(found.get(k)) is not None]
        if shown:
            text += " - in the search " + _e(", ".join(f"{k} {format_value(found[k], _unit(record, k))}"
                                                      for k in shown))
        again = [k for k in (metric, cost) if _finite(rerun.get(k)) is not None]
        if again or delivered.get("verdict"):
            text += "; run again with its full steps: " + _e(", ".join(
                [f"{k} {format_value(rerun[k], _unit(record, k))}" for k in again]
                + ([f"verdict {str(delivered['verdict']).upper()}"] if delivered.get("verdict") else [])))
        pairs.append(("delivered", text))
    elif search.get("why_none"):
        pairs.append(("delivered", f'<span class="fail-text">no plan fits</span>: {_e(search["why_none"])}'))
    rows = [f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs]
    return f'<table class="facts">{"".join(rows)}</table>' if rows else ""


def pareto_plot(record, search, metric, mode, cost) -> str:
    if not (metric and cost):
        return ""
    pareto = _pareto(search)
    points = []
    for t in _trials(search):
        figures = _dict(t.get("figures"))
        x, y = _finite(figures.get(cost)), _finite(figures.get(metric))
        if t.get("status") != "ok" or x is None or y is None:
            continue
        tip = (f"trial {t.get('trial')}: {plan_text(t.get('plan'))} - {metric} {format_value(y, _unit(record, metric))}"
               f", {cost} {format_value(x, _unit(record, cost))}"
               + ("" if t.get("fits") else f" - does not fit: {_why(t) or 'a budget or check fails'}"))
        points.append({"trial": t.get("trial"), "x": x, "y": y, "fits": bool(t.get("fits")),
                       "pareto": t.get("trial") in pareto, "tip": tip})
    limits = [{"axis": axis, "name": name, "op": op, "value": limit,
               "text": f"{name} {'≥' if op == '>=' else '≤'} {format_value(limit, _unit(record, name))} ({source})"}
              for axis, name, op, limit, source in limits_on(search, {cost: "x", metric: "y"})]
    delivered = _dict(search.get("delivered")).get("trial")
    svg = charts.pareto_svg(points, {"title": axis_title(cost, _unit(record, cost), "min"),
                                     "unit": _unit(record, cost)},
                            {"title": axis_title(metric, _unit(record, metric), mode), "unit": _unit(record, metric)},
                            limits, delivered)
    if not svg:
        return '<p class="note">No trial ran to the end, so there is nothing to plot.</p>'
    left_out = sum(1 for t in _trials(search) if t.get("status") != "ok")
    note = (f'<p class="note">{left_out} trial(s) that failed or were rejected before training have no '
            f"{_e(metric)} and are not plotted; they are in the table.</p>") if left_out else ""
    return f'<div class="scroll">{svg}</div>{note}'


def trials_table(record, search, metric, cost) -> str:
    trials = _trials(search)
    if not trials:
        return ""
    pareto = _pareto(search)
    delivered = _dict(search.get("delivered")).get("trial")
    head = ("<tr><th>trial</th><th>plan</th><th>status</th>"
            f'<th class="r">{_e(metric)}</th><th class="r">{_e(cost)}</th><th>fits</th><th class="r">time</th>'
            "<th>why</th></tr>")
    body = []
    for t in trials:
        number, status = t.get("trial"), str(t.get("status") or "?")
        figures = _dict(t.get("figures"))
        marks = (['<span class="badge pass">delivered</span>'] if number is not None and number == delivered else []) \
            + (['<span class="mark-pareto">Pareto</span>'] if number in pareto else [])
        cells = [f"{_e(number)} {''.join(marks)}", _e(plan_text(t.get("plan"))),
                 f'<span class="badge {STATUS_BADGES.get(status, "")}">{_e(status)}</span>']
        for name in (metric, cost):
            value = _finite(figures.get(name))
            cells.append(_e(format_value(value, _unit(record, name))) if value is not None else "")
        fits = t.get("fits")
        cells.append("yes" if fits else "no" if status == "ok" else "")
        seconds = _finite(t.get("seconds"))
        cells.append(_e(format_value(seconds, "s")) if seconds is not None else "")
        cells.append(_e(_why(t)))
        classes = " ".join([status] + (["pareto"] if number in pareto else [])
                           + (["delivered"] if number is not None and number == delivered else []))
        body.append(f'<tr class="{_e(classes)}" data-trial="{_e(number)}" data-status="{_e(status)}">'
                    + "".join(f'<td class="r">{c}</td>' if i in (3, 4, 6) else f"<td>{c}</td>"
                              for i, c in enumerate(cells)) + "</tr>")
    return f'<div class="scroll"><table class="steps trials">{head}{"".join(body)}</table></div>'


def search_block(record) -> str:
    search = record.get("search")
    if not isinstance(search, dict):
        return ""
    metric, mode, cost = search_objectives(search)
    body = (_facts(record, search, metric, mode, cost) + pareto_plot(record, search, metric, mode, cost)
            + trials_table(record, search, metric, cost))
    return section("Search", body, "search",
                   "Every plan the search tried: the trials that ran are plotted, their metric against their cost; "
                   "the best metric among those meeting every budget and check was run again with the recipe's full "
                   "steps and delivered, and is what the rest of this page describes.")
