"""Budgets: limits on the record's figures, from the target, a recipe or the command line, and the verdict table.

A budget row: {name, limit, value, unit, margin, verdict, provenance, by, source}; margin = (limit - value) / limit.
"""

import copy

from ..errors import BadInput

# short names a user may type for a figure
ALIASES = {"flash": "flash_bytes", "ram": "arena_bytes", "sram": "arena_bytes", "arena": "arena_bytes",
           "latency": "latency_s", "energy": "energy_j", "weights": "weights_bytes", "bytes": "weights_bytes"}


def parse_budget(text: str) -> tuple[str, float]:
    """'macs=30e6' -> ('macs', 30000000)."""
    name, sep, value = text.partition("=")
    name = ALIASES.get(name.strip(), name.strip())
    try:
        number = float(value)
    except ValueError:
        number = None
    if not sep or not name or number is None or not number > 0:
        raise BadInput(f"--budget {text!r}: expected name=positive number, e.g. macs=30e6")
    return name, int(number) if number.is_integer() else number


def parse_budgets(items) -> dict:
    return dict(parse_budget(t) for t in items or [])


def target_limits(target) -> dict:
    """name -> limit from the board: memories (MCU) or resources (FPGA), plus its own `budgets`."""
    if target.kind == "mcu":
        limits = {"flash_bytes": target.flash_bytes, "arena_bytes": target.sram_bytes}
    else:
        limits = {k: v for k, v in target.resources.items() if v > 0}
    limits.update(target.budgets)
    return limits


def judge(figures: dict, limits_by_source: dict) -> list[dict]:
    """Rows for every limit; `limits_by_source` is source -> {name: limit}, later sources override earlier ones."""
    merged = {}
    for source, limits in limits_by_source.items():
        for name, limit in (limits or {}).items():
            merged[ALIASES.get(name, name)] = (limit, source)
    rows = []
    for name, (limit, source) in merged.items():
        fig = figures.get(name)
        if name == "arena_bytes" and fig is None:
            fig = figures.get("peak_activation_bytes")  # no TFLM run: judge the estimate
        if fig is None:
            raise BadInput(f"budget '{name}': no such figure in this run (known: {', '.join(sorted(figures))})")
        value = fig["value"]
        rows.append({"name": name, "limit": limit, "value": value, "unit": fig["unit"],
                     "margin": (limit - value) / limit, "verdict": "pass" if value <= limit else "fail",
                     "provenance": fig["provenance"], "by": fig["by"], "source": source})
    return rows


def verdict(rows) -> str | None:
    if not rows:
        return None
    return "fail" if any(r["verdict"] == "fail" for r in rows) else "pass"


def apply(record: dict, limits_by_source: dict) -> dict:
    record["budgets"] = judge(record["figures"], limits_by_source)
    record["verdict"] = verdict(record["budgets"])
    return record


def rejudge(record: dict, overrides: dict) -> dict:
    """A copy of a saved record with its budgets judged again, `overrides` (name -> limit) winning; no recompute."""
    record = copy.deepcopy(record)
    by_source = {}
    for row in record.get("budgets", []):
        by_source.setdefault(row["source"], {})[row["name"]] = row["limit"]
    by_source["cli"] = {**by_source.get("cli", {}), **overrides}
    return apply(record, by_source)


def _fmt(value, unit) -> str:
    if isinstance(value, float) and unit in ("s", "J"):
        return f"{value:.4g} {unit}"
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.4g} {unit}"


def table(rows) -> str:
    """A plain-text verdict table; failing rows say by how much they are over."""
    if not rows:
        return "no budgets"
    lines = [f"{'budget':<16} {'value':>18} {'limit':>18} {'margin':>8}  verdict  (source; provenance)"]
    for r in rows:
        note = "" if r["verdict"] == "pass" else f"  over by {_fmt(r['value'] - r['limit'], r['unit'])}"
        lines.append(f"{r['name']:<16} {_fmt(r['value'], r['unit']):>18} {_fmt(r['limit'], r['unit']):>18} "
                     f"{r['margin']:>+8.1%}  {r['verdict'].upper():<7}  ({r['source']}; {r['provenance']}){note}")
    return "\n".join(lines)
