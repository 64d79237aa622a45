"""report.html: one self-contained page a person opens (styles and pictures inlined, no scripts, no network).

Order: verdict and budget gauges, headline figures, a search run's trials, model/target, per-layer table, charts, the
family's pictures, then the run's details. Every section is drawn only when the record holds its data; a section whose
data is malformed shows a one-line note instead of breaking the page. The HTML pieces are in blocks.py, the family's
pictures in views.py, the search's section in search.py.
"""

from . import charts
from .blocks import FIGURE_LABELS, _dict, _e, _list, _number, figure_html, label, picture, section, tag  # noqa: F401
from .summary import (compare_text, failed_budgets, figure_parts, format_margin, format_value, is_floor, row_title,
                      rows_of, shown_verdict, verdict_reason, verdict_word)
from .search import search_block
from .templates import STYLE
from .views import confusion_block, histograms, probe_block, spectrogram_block, waveform_block


# --- sections ---------------------------------------------------------------------------------------------------

def header(record) -> str:
    model, target = _dict(record.get("model")), _dict(record.get("target"))
    recipe = _dict(record.get("recipe"))
    title = _e(model.get("name") or "Model") + (f" on {_e(target.get('name'))}" if target.get("name") else "")
    facts = []
    if recipe.get("name"):
        facts.append(f"recipe <b>{_e(recipe['name'])}</b>" + (f" ({_e(recipe['profile'])} profile)"
                                                                if recipe.get("profile") else ""))
    elif _list(record.get("command"))[1:2] == ["analyze"]:
        facts.append("analysis only (no training)")
    if record.get("created"):
        facts.append(f"run started {_e(record['created'])}")
    return f'<header><h1>{title}</h1><p class="sub">{" · ".join(facts)}</p></header>'


def status_banner(record) -> str:
    status = record.get("status")
    if status in (None, "complete"):
        return ""
    return (f'<div class="banner warn" id="status">This run did not finish (status: {_e(status)}). '
            "Figures below are what it recorded before it stopped.</div>")


def verdict_block(record) -> str:
    verdict = shown_verdict(record)
    budgets, checks = rows_of(record, "budgets"), rows_of(record, "checks")
    reason = verdict_reason(record)
    why = f"{reason[0].upper()}{reason[1:]}. " if reason else ""
    if verdict == "unverified":
        text = why + "The exported model differs from its source beyond tolerance, whatever the budgets say."
    elif verdict == "fail":
        held = len(budgets) - len(failed_budgets(record))
        text = why + f"{held} of {len(budgets)} budgets hold."
    elif verdict == "pass":
        proofs = [c for c in checks if c.get("verdict") != "warn"]
        text = " ".join(f"Every {what} ({len(rows)} of {len(rows)})."
                        for what, rows in (("check passes", proofs), ("budget holds", budgets)) if rows)
    else:
        text = "No budgets were set, so there is nothing to judge."
    warns = sum(c.get("verdict") == "warn" for c in checks)
    text += f" {warns} quality warning(s) below." if warns else ""
    kind = {"pass": "pass", "fail": "fail", "unverified": "fail"}.get(verdict, "none")  # unverified: failing colour
    return (f'<div class="verdict {kind}" id="verdict" data-verdict="{verdict or "none"}">'
            f'<span class="word">{verdict_word(verdict)}</span><span class="why">{_e(text)}</span></div>')


def gauge(row, attribute) -> str:
    """One bar: the figure against its limit (the mark). A ceiling (<=) holds while the fill stays left of the mark,
    a floor (>=) once the fill reaches past it; a row with no positive limit shows no fill, only its verdict."""
    value, limit = _number(row.get("value")), _number(row.get("limit"))
    used = value / limit if value is not None and limit is not None and limit > 0 else None
    width = 0 if used is None else max(0.0, min(used, 1.25)) / 1.25 * 100
    kind = row.get("verdict") if row.get("verdict") in ("pass", "fail", "warn") else "none"
    margin = _number(row.get("margin"))
    level = "near" if kind == "pass" and margin is not None and margin < 0.1 else kind
    used_text = "-" if used is None else f"{used:.0%} of {'floor' if is_floor(row) else 'limit'}"
    source = f'<span class="src">from {_e(row["source"])}</span>' if attribute == "budget" and row.get("source") else ""
    note = f'<span class="rownote">{_e(row["note"])}</span>' if row.get("note") else ""
    name = row.get("name")
    what = label(name or "?") if attribute == "budget" else f'<span title="{_e(name)}">{_e(row_title(row))}</span>'
    return (f'<div class="gauge {kind}" data-{attribute}="{_e(name)}" data-verdict="{kind}">'
            f'<div class="label"><b>{what}</b> {source}</div>'
            f'<div class="bar" title="{_e(used_text)}"><div class="fill {level}" style="width:{width:.1f}%"></div>'
            f'<div class="limit" style="left:{100 / 1.25:.1f}%"></div></div>'
            f'<div class="figs"><span class="num">{_e(compare_text(row))}</span> · {_e(used_text)} · '
            f'margin {_e(format_margin(row.get("margin")))} {tag(row.get("provenance"), row.get("by"))}'
            f'<span class="badge {kind}">{_e(row.get("verdict", "-"))}</span>{note}</div></div>')


def gauges(record) -> str:
    """The checks (proofs of the exported model, and quality warnings) first, then one bar per budget."""
    checks = rows_of(record, "checks")
    rows = [gauge(c, "check") for c in checks] + [gauge(b, "budget") for b in rows_of(record, "budgets")]
    return section("Checks and budgets" if checks else "Budgets", "".join(rows), "budgets",
                   "Each bar shows a figure against its limit (the dark mark): a ceiling (≤) must stay left of it, "
                   "a floor (≥) must reach past it. Margin is the headroom left, negative when a row fails.")


def warnings_block(record) -> str:
    items = [f"<li>{_e(w)}</li>" for w in _list(record.get("warnings")) if w]
    return section("Warnings", f'<ul class="warnings">{"".join(items)}</ul>', "warnings") if items else ""


def headline(record) -> str:
    cards = [f'<div class="card"><div class="k">{label(name)}</div><div class="v">{figure_html(value)}</div></div>'
             for name, value in _dict(record.get("figures")).items()]
    return section("Headline figures", f'<div class="cards">{"".join(cards)}</div>', "figures",
                   "Hover a tag to see how each figure was obtained.") if cards else ""


def _facts_table(pairs) -> str:
    rows = [f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs if v not in (None, "", [], {})]
    return f'<table class="facts">{"".join(rows)}</table>' if rows else ""


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{_e(k)} {_e(_plain_text(v))}" for k, v in value.items())
    return _e(_plain_text(value))


def _plain_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " × ".join("any" if v is None else str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def context(record) -> str:
    model, target, data = _dict(record.get("model")), _dict(record.get("target")), _dict(record.get("data"))
    model_html = _facts_table([("name", _e(model.get("name"))), ("family", _e(model.get("family"))),
                               ("task", _e(model.get("task"))), ("source", _e(model.get("source"))),
                               ("input shape", _plain(model.get("input_shape"))),
                               ("output shape", _plain(model.get("output_shape")))])
    target_pairs = [("name", _e(target.get("name"))), ("kind", _e(target.get("kind"))),
                    ("description", _e(target.get("description")))]
    if target.get("clock_hz"):
        target_pairs.append(("clock", _e(f"{target['clock_hz'] / 1e6:g} MHz")))
    if target.get("clock_mhz"):
        target_pairs.append(("clock", _e(f"{target['clock_mhz']:g} MHz")))
    for key, label in (("flash_bytes", "flash"), ("sram_bytes", "SRAM")):
        if _number(target.get(key)) is not None:
            target_pairs.append((label, _e(format_value(target[key], "bytes"))))
    target_pairs += [("part", _e(target.get("part"))), ("resources", _plain(target.get("resources")))]
    changes = "<br>".join(_e(c) for c in data.get("changes") or [] if isinstance(c, str))
    data_html = _facts_table([("source", _e(data.get("source"))), ("front end", _plain(data.get("frontend"))),
                              ("shapes", _plain(data.get("shapes"))), ("changed by the run", changes or None)])
    boxes = [f'<div class="box"><h3>{t}</h3>{h}</div>'
             for t, h in (("Model", model_html), ("Target", _facts_table(target_pairs)), ("Data", data_html)) if h]
    return section("What was compressed, for what", f'<div class="boxes">{"".join(boxes)}</div>', "context")


def _energy_total(layer):
    parts = [_number(v) for v in _dict(layer.get("energy_pj")).values()]
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def _bits(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "" if value is None else str(value)


def layer_table(record) -> str:
    layers = [layer for layer in _list(record.get("layers")) if isinstance(layer, dict)]
    if not layers:
        return ""
    energies = [_energy_total(layer) for layer in layers]
    macs = [_number(layer.get("macs")) for layer in layers]
    use_energy = any(e for e in energies)
    shares_of = energies if use_energy else macs
    total = sum(s for s in shares_of if s) or None
    share_label = "share of energy" if use_energy else "share of MACs"
    columns = [("params", "params", "count"), ("zeros", "zeros", "count"), ("macs", "MACs", "count"),
               ("bytes", "bytes", "bytes")]
    columns = [c for c in columns if any(layer.get(c[0]) is not None for layer in layers)]
    has_bits = any(layer.get("bits") is not None for layer in layers)
    head = ("<tr><th>layer</th><th>type</th>" + "".join(f'<th class="r">{_e(c[1])}</th>' for c in columns)
            + ("<th>bits</th>" if has_bits else "") + ('<th class="r">energy</th>' if use_energy else "")
            + f"<th>{share_label}</th></tr>")
    body = []
    for layer, energy, share_value in zip(layers, energies, shares_of):
        cells = []
        for key, _, kind in columns:
            value = _number(layer.get(key))
            text = format_value(value, "bytes") if kind == "bytes" and value is not None else (
                f"{value:,.0f}" if value is not None else "")
            if key == "zeros" and value is not None and _number(layer.get("params")):
                text += f" ({value / _number(layer['params']):.0%})"
            cells.append(f'<td class="r">{_e(text)}</td>')
        share = share_value / total if share_value and total else 0.0
        body.append(
            f"<tr><td>{_e(layer.get('name'))}</td><td>{_e(layer.get('type'))}</td>{''.join(cells)}"
            + (f"<td>{_e(_bits(layer.get('bits')))}</td>" if has_bits else "")
            + (f'<td class="r">{_e(format_value(energy, "pJ")) if energy is not None else ""}</td>'
               if use_energy else "")
            + f'<td><div class="share"><div style="width:{share * 100:.1f}%"></div></div>'
              f'<span class="pct">{share:.1%}</span></td></tr>')
    totals = [f'<td class="r">{_e(format_value(sum(_number(layer.get(c[0])) or 0 for layer in layers), "bytes") if c[2] == "bytes" else f"{sum(_number(layer.get(c[0])) or 0 for layer in layers):,.0f}")}</td>'
              for c in columns]
    body.append("<tr class=\"total\"><td>total</td><td></td>" + "".join(totals)
                + ("<td></td>" if has_bits else "")
                + (f'<td class="r">{_e(format_value(sum(e for e in energies if e), "pJ"))}</td>' if use_energy else "")
                + "<td>100%</td></tr>")
    figures = _dict(record.get("figures"))
    notes = [f"{label}: {tag(figure_parts(figures[key])[2], figure_parts(figures[key])[3])}"
             for key, label in (("params", "parameters"), ("macs", "MACs"), ("energy_pj", "energy"))
             if isinstance(figures.get(key), dict)]
    note = "Per inference, final model. " + " · ".join(notes)
    return section("Layers", f'<div class="scroll"><table class="layers">{head}{"".join(body)}</table></div>',
                   "layers", note)


def energy_chart(record) -> str:
    uri = charts.energy_split(_list(record.get("layers")))
    energy = _dict(record.get("figures")).get("energy_pj") or _dict(record.get("figures")).get("energy_j")
    note = "Where each layer's energy goes: reading inputs, reading parameters, and the arithmetic itself."
    if isinstance(energy, dict):
        note += " " + tag(energy.get("provenance"), energy.get("by"))
    return section("Energy per layer", picture(uri, "energy per layer, split"), "energy", note) if uri else ""


def steps_block(record) -> str:
    steps = [s for s in _list(record.get("steps")) if isinstance(s, dict)]
    if not steps:
        return ""
    rows = []
    for step in steps:
        metrics = " ".join(f'<span class="metric">{_e(k)} {figure_html(v)}</span>'
                           for k, v in _dict(step.get("metrics")).items())
        notes = "".join(f'<div class="stepnote">{_e(n)}</div>' for n in _list(step.get("notes")))
        seconds = _number(step.get("seconds"))
        rows.append(f"<tr><td><b>{_e(step.get('name'))}</b></td><td>{_e(step.get('kind'))}</td>"
                    f'<td class="r">{_e(format_value(seconds, "s")) if seconds is not None else ""}</td>'
                    f"<td>{metrics}{notes}</td></tr>")
    table = ('<table class="steps"><tr><th>step</th><th>kind</th><th class="r">time</th><th>metrics</th></tr>'
             + "".join(rows) + "</table>")
    chart = picture(charts.step_metrics(steps), "metrics before and after each step")
    return section("Steps", table + chart, "steps",
                   "What each step did, how long it took, and what it measured; the charts compare steps.")


def missing_views(record) -> list:
    """The views a recipe run should have recorded but did not: the family says which it expects (the record's
    model.expected_views; none listed, none missing). Empty for analyze records, which have no data to show."""
    record = record if isinstance(record, dict) else {}
    if not isinstance(record.get("recipe"), dict):
        return []
    views = _dict(record.get("views"))
    expected = _dict(record.get("model")).get("expected_views")
    if not isinstance(expected, (list, tuple)):
        return []
    return [v for v in expected if isinstance(v, str) and not views.get(v)]


def missing_views_note(record) -> str:
    missing = missing_views(record)
    if not missing:
        return ""
    return (f'<p class="note" id="missing-views">This run recorded no {_e(", ".join(m.replace("_", " ") for m in missing))}'
            f" for its {_e(_dict(record.get('model')).get('family'))} model, so those pictures are not shown.</p>")


def artifacts_block(record) -> str:
    items = [f'<tr><th>{_e(role)}</th><td><a href="{_e(path)}">{_e(path)}</a></td></tr>'
             for role, path in _dict(record.get("artifacts")).items() if path]
    return section("Files written", f'<table class="facts">{"".join(items)}</table>', "artifacts") if items else ""


def run_details(record) -> str:
    command = record.get("command")
    command = " ".join(str(c) for c in command) if isinstance(command, list) else command
    stack = ", ".join(f"{_e(k)} {_e(v)}" for k, v in _dict(record.get("stack")).items() if v)
    body = _facts_table([("command", f"<code>{_e(command)}</code>" if command else ""),
                         ("seed", _e(record.get("seed"))), ("status", _e(record.get("status"))),
                         ("report schema", _e(record.get("schema"))), ("software", stack)])
    return section("Run details", body, "run")


def legend() -> str:
    return ('<footer>Tags: ' + tag("measured", "in this run: an interpreter, a C simulation, a test metric")
            + " in this run · " + tag("estimated", "by a named model (hover each tag to see which)")
            + " by a named model · " + tag("counted", "exactly, from the model's structure")
            + " exactly from the model's structure.</footer>")


SECTIONS = (status_banner, verdict_block, gauges, warnings_block, headline, search_block, context, layer_table,
            energy_chart, steps_block, histograms, spectrogram_block, waveform_block, confusion_block, probe_block,
            missing_views_note, artifacts_block, run_details)


def _guarded(draw, record) -> str:
    try:
        return draw(record)
    except Exception as error:  # noqa: BLE001 - one malformed section must not cost the reader the whole page
        return (f'<p class="section-error">The {_e(draw.__name__.replace("_", " "))} section could not be drawn '
                f"from this record ({_e(type(error).__name__)}: {_e(error)}).</p>")


def render(record: dict) -> str:
    record = record if isinstance(record, dict) else {}
    model, target = _dict(record.get("model")), _dict(record.get("target"))
    title = "compressor report: " + str(model.get("name") or "model") + (
        f" on {target.get('name')}" if target.get("name") else "")
    body = "".join(_guarded(draw, record) for draw in SECTIONS)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'  # stops the browser asking for /favicon.ico
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>"
            f"{_guarded(header, record)}{body}{legend()}</main></body></html>\n")
