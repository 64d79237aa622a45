"""summary.md: the verdict and the budgets as a short markdown table, for a CI job summary.

Also holds the plain-text formatting of figures (numbers with units, provenance) that report.html shares.
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
    return {"pass": "PASS", "fail": "FAIL"}.get(verdict, "NO BUDGETS")


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _title(record):
    model = (record.get("model") or {}).get("name") or "model"
    target = (record.get("target") or {}).get("name")
    recipe = (record.get("recipe") or {}).get("name") if isinstance(record.get("recipe"), dict) else None
    title = f"{model} on {target}" if target else model
    return f"{title} (recipe {recipe})" if recipe else title


def render(record: dict) -> str:
    record = record if isinstance(record, dict) else {}
    verdict = record.get("verdict")
    icon = {"pass": "✅", "fail": "❌"}.get(verdict, "➖")
    lines = [f"### {icon} {verdict_word(verdict)}: {_cell(_title(record))}", ""]
    if record.get("status") not in (None, "complete"):
        lines += [f"> **Run status: {_cell(record.get('status'))}** - the run did not finish; figures may be missing.", ""]
    budgets = [b for b in record.get("budgets") or [] if isinstance(b, dict)]
    if budgets:
        failed = [b for b in budgets if b.get("verdict") == "fail"]
        lines += [f"{len(budgets) - len(failed)} of {len(budgets)} budgets hold."
                  + (f" Failing: {', '.join(_cell(b.get('name', '?')) for b in failed)}." if failed else ""), ""]
        lines += ["| budget | limit | value | margin | verdict | how the value was obtained |",
                  "|---|---:|---:|---:|:---:|---|"]
        for b in budgets:
            unit = b.get("unit") or ""
            how = provenance_text({"provenance": b.get("provenance"), "by": b.get("by")}) or "-"
            mark = {"pass": "✅ pass", "fail": "❌ **fail**"}.get(b.get("verdict"), _cell(b.get("verdict", "-")))
            lines.append(f"| {_cell(b.get('name', '?'))} | {_cell(format_value(b.get('limit'), unit))} | "
                         f"{_cell(format_value(b.get('value'), unit))} | {format_margin(b.get('margin'))} | {mark} | "
                         f"{_cell(how)} |")
    else:
        lines.append("No budgets were set for this run.")
    warnings = [w for w in record.get("warnings") or [] if w]
    if warnings:
        lines += ["", f"{len(warnings)} warning(s): " + "; ".join(_cell(w) for w in warnings[:5])
                  + (" ..." if len(warnings) > 5 else "")]
    lines += ["", "Full report: `report.html` (tables, charts) and `report.json` (machine-readable)."]
    return "\n".join(lines) + "\n"
