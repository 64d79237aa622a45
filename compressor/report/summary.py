"""summary.md: the verdict, the checks and the budgets as short markdown tables, for a CI job summary.

Also holds what report.html shares: the plain-text formatting of figures (numbers with units, provenance) and of
verdict rows, and the verdict to show (shown_verdict).
"""

import math

PROVENANCE_WORDS = ("measured", "estimated", "counted")


def figure_parts(value):
    """(number or other value, unit, provenance, by) from a figure dict or a bare value."""
    if isinstance(value, dict):
        return value.get("value"), value.get("unit") or "", value.get("provenance"), value.get("by")
    return value, "", None, None


def _si(value, unit, steps):
    for scale, prefix in steps:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_value(value, unit=""):
    """A number in units a person reads: 68,352 B -> '66.8 KiB', 0.0123 s -> '12.3 ms', 26116000 MACs -> '26.1 M MACs'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = "-" if value is None else str(value)
        return f"{text} {unit}".strip() if value is not None else text
    if not math.isfinite(value):
        return f"{value} {unit}".strip()
    unit = unit or ""
    if unit in ("bytes", "B"):
        for scale, name in ((1024 ** 3, "GiB"), (1024 ** 2, "MiB"), (1024, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:,.0f} B"
    if unit == "s":
        return _si(value, "s", ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")))
    if unit in ("J", "pJ"):
        joules = value * (1e-12 if unit == "pJ" else 1)
        return _si(joules, "J", ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")))
    if unit == "%":
        return f"{value:.3g} %"
    if unit in ("fraction", "ratio"):
        return f"{value:.3g}"
    if float(value).is_integer() and abs(value) < 1e15:
        if abs(value) >= 1e6:
            return f"{value / 1e6:.3g} M {unit}".strip()
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.4g} {unit}".strip()


def format_figure(value):
    number, unit, _, _ = figure_parts(value)
    return format_value(number, unit)


def provenance_text(value):
    """'measured by tflite-micro arena' or '' when the value carries no provenance."""
    _, _, provenance, by = figure_parts(value)
    if not provenance:
        return ""
    return f"{provenance} by {by}" if by else str(provenance)


def format_margin(margin):
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        return "-"
    return f"{margin:+.1%}"


def verdict_word(verdict):
    return {"pass": "PASS", "fail": "FAIL", "unverified": "UNVERIFIED"}.get(verdict, "NO BUDGETS")


def rows_of(record, key):
    """The record's verdict rows under `key` ("budgets" or "checks"); absent or malformed entries give none."""
    rows = record.get(key) if isinstance(record, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def failed_checks(record):
    """Failed proofs; a comparison row only warns, it never fails the run (as the producer's verdict has it)."""
    return [row for row in rows_of(record, "checks")
            if row.get("source", "check") == "check" and row.get("verdict") == "fail"]


def failed_budgets(record):
    return [row for row in rows_of(record, "budgets") if row.get("verdict") == "fail"]


SEVERITY = (None, "pass", "fail", "unverified")


def shown_verdict(record):
    """The worst of the record's verdict and what its rows say, so a page is never green while a row is red (the
    producer never writes such a record, but a hand-edited or foreign one must not pass for a good run)."""
    record = record if isinstance(record, dict) else {}
    said = record.get("verdict") if record.get("verdict") in SEVERITY else None
    rows = "unverified" if failed_checks(record) else "fail" if failed_budgets(record) else None
    return max(said, rows, key=SEVERITY.index)


def is_floor(row):
    return row.get("op") == ">="  # a row without "op" (an old record) is a ceiling


def row_title(row):
    return str(row.get("title") or row.get("name") or "?")


def bound_text(row):
    """'≤ 500 ms' for a ceiling, '≥ 0.9' for a floor."""
    return f"{'≥' if is_floor(row) else '≤'} {format_value(row.get('limit'), row.get('unit') or '')}"


def compare_text(row):
    """The row's value against its limit, as a true statement: '12 ms ≤ 500 ms' when it holds, '18.5 LSB > 16 LSB'
    when it fails or warns."""
    unit = row.get("unit") or ""
    if row.get("value") is None:
        return "not reported by this run"
    holds = row.get("verdict") not in ("fail", "warn")
    sign = ("≥" if holds else "<") if is_floor(row) else ("≤" if holds else ">")
    return f"{format_value(row.get('value'), unit)} {sign} {format_value(row.get('limit'), unit)}"


def verdict_reason(record):
    """What made the shown verdict red, in one line: 'failed check: int8 vs Keras: 18.5 LSB > 16 LSB', or the failing
    budgets; '' for any other verdict."""
    verdict = shown_verdict(record)
    what, rows = {"unverified": ("failed check", failed_checks(record)),
                  "fail": ("failing budget", failed_budgets(record))}.get(verdict, ("", []))
    if not rows:
        return ""
    return f"{what}{'s' if len(rows) > 1 else ''}: " + "; ".join(f"{row_title(r)}: {compare_text(r)}" for r in rows)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _title(record):
    model = (record.get("model") or {}).get("name") or "model"
    target = (record.get("target") or {}).get("name")
    recipe = (record.get("recipe") or {}).get("name") if isinstance(record.get("recipe"), dict) else None
    title = f"{model} on {target}" if target else model
    return f"{title} (recipe {recipe})" if recipe else title


MARKS = {"pass": "✅ pass", "fail": "❌ **fail**", "warn": "⚠️ warn"}


def _table_row(*cells):
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cells(row):
    """value, verdict mark, how it was obtained (plus a warn row's note, which names the figure it compares with)."""
    how = provenance_text({"provenance": row.get("provenance"), "by": row.get("by")}) or "-"
    how += f"; {row['note']}" if row.get("note") else ""
    mark = MARKS.get(row.get("verdict"), row.get("verdict", "-"))
    return format_value(row.get("value"), row.get("unit") or ""), mark, how


def value_text(value) -> str:
    """A plan's value as the recipe's YAML writes it: true / false for a switch."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def plan_text(plan) -> str:
    """'width 0.5, sparsity 0.25, distill true' from a plan (knob -> value)."""
    if not isinstance(plan, dict):
        return "" if plan is None else str(plan)
    return ", ".join(f"{k} {value_text(v)}" for k, v in plan.items())


def search_objectives(search) -> tuple:
    """(metric, metric_mode, cost) of record["search"]["spec"]; None for what it does not say."""
    spec = search.get("spec") if isinstance(search.get("spec"), dict) else {}
    objectives = spec.get("objectives") if isinstance(spec.get("objectives"), dict) else spec
    mode = objectives.get("metric_mode")
    return objectives.get("metric"), mode if mode in ("max", "min") else None, objectives.get("cost")


def _figure_list(figures, names, units) -> str:
    """'accuracy 0.62, macs 7.1 M MACs': plain numbers (a trial's figures) in the units the run recorded."""
    figures = figures if isinstance(figures, dict) else {}
    return ", ".join(f"{n} {format_value(figures[n], figure_parts(units.get(n))[1])}" for n in names
                     if isinstance(figures.get(n), (int, float)) and not isinstance(figures.get(n), bool))


def _listed(value) -> list:
    return value if isinstance(value, list) else []


def search_lines(record) -> list:
    """A search run's lines: the run's own one-line account (or one made from its counts), then the delivered plan run
    again, or why no plan fits, and the Pareto set."""
    search = record.get("search")
    if not isinstance(search, dict):
        return []
    metric, _, cost = search_objectives(search)
    units = record.get("figures") if isinstance(record.get("figures"), dict) else {}
    counts = search.get("counts") if isinstance(search.get("counts"), dict) else {}
    delivered = search.get("delivered") if isinstance(search.get("delivered"), dict) else None
    line = search.get("summary") if isinstance(search.get("summary"), str) else None
    if not line:
        line = (f"search: {counts.get('trials', 0)} trials ({counts.get('ok', 0)} ok, {counts.get('failed', 0)} "
                f"failed, {counts.get('infeasible', 0)} infeasible), {counts.get('fit', 0)} fit")
        if delivered:
            found = _figure_list(delivered.get("search_figures"), (metric, cost), units)
            line += f"; delivered trial {delivered.get('trial')}: {plan_text(delivered.get('plan'))}" + (
                f" - {found}" if found else "")
        elif search.get("why_none"):
            line += f"; no plan fits: {search['why_none']}"
    lines = [line.replace("\n", " ")]
    if delivered:
        again = _figure_list(delivered.get("figures"), (metric, cost), units)
        verdict = delivered.get("verdict")
        lines.append(f"Delivered plan (trial {delivered.get('trial')}): {plan_text(delivered.get('plan'))}; run again "
                     "with its full steps" + (f": {again}" if again else "")
                     + (f", verdict {str(verdict).upper()}" if verdict else "") + ".")
    elif search.get("why_none") and "no plan" not in line:
        lines.append(f"No plan fits: {search['why_none']}.")
    trials = {t.get("trial"): t for t in _listed(search.get("trials")) if isinstance(t, dict)
              and isinstance(t.get("trial"), int)}
    pareto = [n for n in _listed(search.get("pareto")) if isinstance(n, int) and n in trials]
    if pareto:
        shown = []
        for n in pareto[:5]:
            figs = _figure_list(trials[n].get("figures"), (metric, cost), units)
            shown.append(f"trial {n} ({plan_text(trials[n].get('plan'))}" + (f": {figs}" if figs else "") + ")")
        lines.append(f"Pareto set, best {metric} first: " + "; ".join(shown) + (" ..." if len(pareto) > 5 else "")
                     + ".")
    return [lines[0], "", *(f"- {item}" for item in lines[1:]), *([""] if lines[1:] else [])]


def render(record: dict) -> str:
    record = record if isinstance(record, dict) else {}
    verdict = shown_verdict(record)
    icon = {"pass": "✅", "fail": "❌", "unverified": "❌"}.get(verdict, "➖")
    reason = verdict_reason(record)
    head = f"### {icon} {verdict_word(verdict)}: {_cell(_title(record))}"
    lines = [head + (f" - {_cell(reason)}" if reason else ""), ""]
    if record.get("status") not in (None, "complete"):
        lines += [f"> **Run status: {_cell(record.get('status'))}** - the run did not finish; figures may be missing.", ""]
    lines += search_lines(record)     # a search run: what was searched and which plan was delivered
    checks = rows_of(record, "checks")
    if checks:  # the proofs first: when one fails, the budgets below were judged on an unproven model
        lines += ["| check | value | tolerance | verdict | how it was measured |", "|---|---:|---:|:---:|---|"]
        for c in checks:
            value, mark, how = _cells(c)
            lines.append(_table_row(row_title(c), value, bound_text(c), mark, how))
        lines.append("")
    budgets = rows_of(record, "budgets")
    if budgets:
        failed = failed_budgets(record)
        lines += [f"{len(budgets) - len(failed)} of {len(budgets)} budgets hold."
                  + (f" Failing: {', '.join(_cell(row_title(b)) for b in failed)}." if failed else ""), ""]
        lines += ["| budget | source | limit | value | margin | verdict | how the value was obtained |",
                  "|---|---|---:|---:|---:|:---:|---|"]
        for b in budgets:
            value, mark, how = _cells(b)
            lines.append(_table_row(row_title(b), b.get("source") or "-", bound_text(b), value,
                                    format_margin(b.get("margin")), mark, how))
    else:
        lines.append("No budgets were set for this run.")
    warnings = [w for w in record.get("warnings") or [] if w]
    if warnings:
        lines += ["", f"{len(warnings)} warning(s): " + "; ".join(_cell(w) for w in warnings[:5])
                  + (" ..." if len(warnings) > 5 else "")]
    changes = [c for c in (record.get("data") or {}).get("changes") or [] if isinstance(c, str)]
    if changes:     # what the run did to the user's data (resampled, padded, trimmed ...), said once
        lines += ["", "Data changed by the run: " + "; ".join(_cell(c) for c in changes)]
    lines += ["", "Full report: `report.html` (tables, charts) and `report.json` (machine-readable)."]
    return "\n".join(lines) + "\n"
