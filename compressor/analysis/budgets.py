"""Budgets and checks: limits on the record's figures (from the target, a recipe or the command line), the proofs a
run made (int8 vs Keras, TFLite Micro vs TFLite, C-sim vs QKeras), and the verdict that weighs both.

A budget row: {name, limit, op, value, unit, margin, verdict, provenance, by, source}; op is "<=" (a ceiling) or
">=" (a floor); margin is the headroom relative to the limit, negative when the row fails.
A check row: the same keys plus `title`, with source "check" (a proof: pass | fail) or "comparison" (a quality
regression against a model the recipe trained itself: warn).

The verdict: "unverified" if a check failed (whatever the budgets say), else "fail" if a budget failed, else "pass";
None when there is nothing to judge. A user's budget never replaces the board's: each source keeps its own row, so
a looser user limit cannot hide the board's failure.
"""

import copy
import math
import re

from ..errors import BadInput

# short names a user may type for a figure
ALIASES = {"flash": "flash_bytes", "ram": "arena_bytes", "sram": "arena_bytes", "arena": "arena_bytes",
           "latency": "latency_s", "energy": "energy_j", "weights": "weights_bytes", "bytes": "weights_bytes",
           "drop": "metric_drop"}
# every figure a run can report and a budget can name (docs/report-schema.md, "figures")
RESOURCE_FIGURES = ("params", "zeros", "macs", "tflite_params", "weights_bytes", "flash_bytes", "arena_bytes",
                    "peak_activation_bytes", "latency_s", "energy_j", "energy_pj", "mac_rate",
                    "LUT", "FF", "DSP", "BRAM_18K", "URAM")
METRIC_FIGURES = ("accuracy", "log_loss", "mse", "esr", "probe_accuracy", "int8_accuracy", "int8_log_loss", "int8_mse",
                  "int8_streaming_esr", "csim_accuracy", "csim_mse", "metric_drop")
KNOWN_FIGURES = RESOURCE_FIGURES + METRIC_FIGURES
FIGURE_SUFFIXES = ("_estimate", "_hls", "_synth")      # FPGA figures beside the one judged: LUT_synth ...
ORIGINAL_LIMITS = ("target", "recipe")                  # sources a user's budget adds to, never replaces

_BUDGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|=)\s*(\S+)\s*$")
BUDGET_SYNTAX = ("name=number (a ceiling), name<=number, name>=number (a floor), max_name=number or "
                 "min_name=number, e.g. macs=30e6, accuracy>=0.9, max_metric_drop=0.01")


def budget_key(name: str, op: str) -> str:
    """The key a limit is stored under: the figure's name for a ceiling, 'name>=' for a floor."""
    return name if op == "<=" else f"{name}>="


def split_key(key: str) -> tuple[str, str]:
    """'accuracy>=' -> ('accuracy', '>='); 'macs' -> ('macs', '<='); aliases resolved."""
    name, op = (key[:-2], ">=") if key.endswith(">=") else (key, "<=")
    return ALIASES.get(name, name), op


def _known(name: str) -> bool:
    base = next((name[: -len(s)] for s in FIGURE_SUFFIXES if name.endswith(s)), name)
    return base in KNOWN_FIGURES


def check_name(name: str, where: str = "--budget") -> str:
    if not _known(name):
        raise BadInput(f"{where}: unknown figure {name!r} (known: {', '.join(KNOWN_FIGURES)}; aliases: "
                       f"{', '.join(sorted(ALIASES))})")
    return name


def check_limit(name: str, limit, where: str = "--budget") -> float:
    """A limit is a number; ceilings on resources are positive, metric limits may be 0 (a drop of at most 0)."""
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit):
        raise BadInput(f"{where}: expected a finite number, got {limit!r}")
    least_ok = limit >= 0 if name in METRIC_FIGURES else limit > 0
    if not least_ok:
        raise BadInput(f"{where}: must be a {'non-negative' if name in METRIC_FIGURES else 'positive'} number, "
                       f"got {limit!r}")
    return int(limit) if float(limit).is_integer() and abs(limit) < 2 ** 53 else float(limit)


def parse_budget(text: str) -> tuple[str, float]:
    """'macs=30e6' -> ('macs', 30000000); 'accuracy>=0.9' -> ('accuracy>=', 0.9); 'max_metric_drop=0.01' ->
    ('metric_drop', 0.01)."""
    match = _BUDGET.match(text or "")
    number = None
    if match:
        try:
            number = float(match.group(3))
        except ValueError:
            pass
    if number is None:
        raise BadInput(f"--budget {text!r}: expected {BUDGET_SYNTAX}")
    name, op = match.group(1), match.group(2)
    if op == "=":
        op = "<="
        for prefix, prefix_op in (("max_", "<="), ("min_", ">=")):
            if name.startswith(prefix) and _known(ALIASES.get(name[4:], name[4:])):
                name, op = name[4:], prefix_op
    name = check_name(ALIASES.get(name, name), f"--budget {text!r}")
    return budget_key(name, op), check_limit(name, number, f"--budget {text!r}")


def parse_budgets(items) -> dict:
    return dict(parse_budget(t) for t in items or [])


def normalize(limits: dict, where: str = "budgets") -> dict:
    """A mapping as a recipe or a Python caller writes it ({macs: 30e6, "accuracy>=": 0.8, min_accuracy: 0.8})
    -> {key: limit} as parse_budget gives it; errors name `where` and the key."""
    out = {}
    for key, limit in (limits or {}).items():
        if isinstance(limit, str):
            try:
                limit = float(limit)
            except ValueError:
                pass
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise BadInput(f"{where}.{key}: must be a number, got {limit!r}")
        text = f"{key}{limit!r}" if str(key).endswith((">=", "<=")) else f"{key}={limit!r}"
        try:
            parsed, value = parse_budget(text)
        except BadInput as e:
            raise BadInput(f"{where}.{key}: {str(e).split(': ', 1)[-1]}") from None
        out[parsed] = value
    return out


def target_limits(target) -> dict:
    """name -> limit from the board: memories (MCU) or resources (FPGA), plus its own `budgets`."""
    if target.kind == "mcu":
        limits = {"flash_bytes": target.flash_bytes, "arena_bytes": target.sram_bytes}
    else:
        limits = {k: v for k, v in target.resources.items() if v > 0}
    limits.update(target.budgets)
    return limits


def board_limits(target, figures) -> dict:
    """The target's limits to judge: on an FPGA only the resources the estimate could size (the others were warned
    about by the analysis); on an MCU all of them (a missing memory figure then fails its row)."""
    limits = target_limits(target)
    if target.kind == "fpga":
        limits = {k: v for k, v in limits.items() if k in figures}
    return limits


def _margin(value, limit, op):
    if value is None or not limit:
        return None
    return (limit - value) / abs(limit) if op == "<=" else (value - limit) / abs(limit)


def _row(name, op, limit, fig, source) -> dict:
    """One judged limit; a figure the run did not produce fails the row (a gate that cannot be read is not met)."""
    if fig is None:
        return {"name": name, "limit": limit, "op": op, "value": None, "unit": "", "margin": None, "verdict": "fail",
                "provenance": None, "by": "not reported by this run", "source": source}
    value = fig["value"]
    holds = value <= limit if op == "<=" else value >= limit
    return {"name": name, "limit": limit, "op": op, "value": value, "unit": fig["unit"],
            "margin": _margin(value, limit, op), "verdict": "pass" if holds else "fail",
            "provenance": fig["provenance"], "by": fig["by"], "source": source}


def judge(figures: dict, limits_by_source: dict) -> list[dict]:
    """One row per (source, limit); `limits_by_source` is source -> {key: limit} (keys as budget_key makes them).
    Sources never override each other: the board's row stays beside a user's looser one."""
    rows = []
    for source, limits in limits_by_source.items():
        for key, limit in (limits or {}).items():
            name, op = split_key(key)
            fig = figures.get(name)
            if name == "arena_bytes" and fig is None:
                fig = figures.get("peak_activation_bytes")  # no TFLM run: judge the estimate
            rows.append(_row(name, op, limit, fig, source))
    return rows


def check_row(name, title, fig, limit, op, source="check", note=None) -> dict:
    """A proof made in this run (int8 vs Keras ...) as a verdict row: pass or fail against its tolerance."""
    row = {**_row(name, op, limit, fig, source), "title": title}
    if note:
        row["note"] = note
    return row


def verdict(budget_rows, check_rows=()) -> str | None:
    checks = [r for r in check_rows if r.get("source", "check") == "check"]
    if any(r["verdict"] == "fail" for r in checks):
        return "unverified"
    if any(r["verdict"] == "fail" for r in budget_rows):
        return "fail"
    return "pass" if budget_rows or checks else None


def apply(record: dict, limits_by_source: dict) -> dict:
    record["budgets"] = judge(record["figures"], limits_by_source)
    record["verdict"] = verdict(record["budgets"], record.get("checks") or [])
    return record


def rejudge(record: dict, overrides: dict) -> dict:
    """A copy of a saved record with its budgets judged again, a user's `overrides` (key -> limit) added beside the
    board's and the recipe's limits (never replacing them); its checks count as they were measured. No recompute."""
    record = copy.deepcopy(record)
    figures = record.get("figures") or {}
    for key in overrides:
        name, _ = split_key(key)
        if name not in figures and not (name == "arena_bytes" and "peak_activation_bytes" in figures):
            raise BadInput(f"--budget {name}: this report has no such figure (it has: {', '.join(sorted(figures))})")
    by_source = {}
    for row in record.get("budgets", []):
        by_source.setdefault(row["source"], {})[budget_key(row["name"], row.get("op", "<="))] = row["limit"]
    by_source["cli"] = {**by_source.get("cli", {}), **overrides}
    return apply(record, by_source)


def failed_checks(record) -> list[dict]:
    return [r for r in record.get("checks") or [] if r.get("source", "check") == "check" and r["verdict"] == "fail"]


def describe(row) -> str:
    """'int8 vs Keras: 18.5 LSB > 16' - a failed row in a few words."""
    what = row.get("title") or row["name"]
    if row.get("value") is None:
        return f"{what}: not reported by this run"
    broken = {"<=": ">", ">=": "<"}[row.get("op", "<=")]
    return f"{what}: {_fmt(row['value'], row['unit'])} {broken} {_fmt(row['limit'], row['unit'])}"


def _fmt(value, unit) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and unit in ("s", "J"):
        return f"{value:.4g} {unit}"
    return (f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.4g} {unit}").strip()


def table(rows, checks=()) -> str:
    """A plain-text verdict table: the checks first, then the budgets; failing rows say by how much."""
    if not rows and not checks:
        return "no budgets"
    lines = [f"{'budget / check':<26} {'value':>16} {'limit':>18} {'margin':>8}  verdict  (source; provenance)"]
    for r in [*checks, *rows]:
        op = r.get("op", "<=")
        margin = "-" if r.get("margin") is None else f"{r['margin']:+.1%}"
        note = ""
        if r["verdict"] != "pass" and r.get("value") is not None:
            gap = abs(r["value"] - r["limit"])
            note = f"  {'over' if op == '<=' else 'under'} by {_fmt(gap, r['unit'])}"
        if r.get("note"):
            note += f"  {r['note']}"
        name = r.get("title") or r["name"]
        lines.append(f"{name:<26} {_fmt(r.get('value'), r['unit']):>16} {op} {_fmt(r['limit'], r['unit']):>15} "
                     f"{margin:>8}  {r['verdict'].upper():<7}  ({r['source']}; {r.get('provenance')}){note}")
    return "\n".join(lines)
