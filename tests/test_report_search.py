"""A search run's report: report.html draws record["search"] (the Pareto plot as inline SVG - one point per trial that
ran, the Pareto staircase, the delivered plan ringed, the budget lines on the objectives - and a row per trial) and
summary.md says how many trials fit and which plan was delivered, or why none. The record is made by the search's
own search_section from hand-made trial entries, so it has the shape a real run writes."""

import json
import re
from pathlib import Path

import pytest

from compressor.report import html, summary
from compressor.search import runner
from compressor.search.space import SearchSpec

FIXTURES = Path(__file__).parent / "fixtures" / "records"
SPACE = {"width": [0.25, 0.5, 0.75, 1.0, 1.5], "sparsity": [0.0, 0.25, 0.5, 0.75], "distill": [True, False]}
ENGINE = {"tuner": "ray[tune] 2.x", "sampler": "optuna TPESampler (multi-objective)", "early_stopping": None}


def entry(width, sparsity, distill, accuracy, macs, status="ok", fits=True, failed=(), why=None):
    figures = {"params": int(57856 * width), "macs": macs} | ({} if accuracy is None else {"accuracy": accuracy})
    return {"plan": {"width": width, "sparsity": sparsity, "distill": distill}, "status": status, "why": why,
            "figures": figures, "failed_budgets": list(failed), "failed_checks": [], "fits": fits, "seconds": 31.2}


FLOOR = {"name": "accuracy", "op": ">=", "limit": 0.4, "value": 0.3, "source": "cli"}
ENTRIES = [entry(0.5, 0.25, True, 0.62, 7_100_000),                                      # 1 Pareto
           entry(0.25, 0.0, False, 0.45, 2_000_000),                                     # 2 Pareto
           entry(1.0, 0.5, True, 0.66, 26_116_000),                                      # 3 Pareto, delivered
           entry(0.75, 0.0, True, 0.55, 15_000_000),                                     # 4 dominated by 1
           entry(0.25, 0.75, True, 0.30, 2_000_000, fits=False, failed=[FLOOR]),         # 5 under the floor
           entry(1.5, 0.0, True, None, 58_000_000, status="infeasible", fits=False,
                 why="before training: macs 58,000,000 > 30,000,000 (recipe)"),          # 6
           entry(0.5, 0.5, False, None, 7_100_000, status="failed", fits=False,
                 why="diverged: loss <NaN> at epoch 1"),                                 # 7
           entry(0.5, 0.0, False, 0.58, 7_100_000)]                                      # 8 dominated by 1
LIMITS = {"target": {"flash_bytes": 1048576, "arena_bytes": 196608},
          "recipe": {"params": 128000, "macs": 30000000}, "cli": {"accuracy>=": 0.4}}


def search_record(entries=ENTRIES, limits=LIMITS, monkeypatch=None):
    """The dcase fixture as a search run's report.json: record["search"] as runner.search writes it."""
    monkeypatch.setattr(runner, "_engine", lambda: ENGINE)     # the section names Ray's version: not needed here
    spec = SearchSpec("accuracy", "macs", 8, None, SPACE, {"epochs": 1})
    section = runner.search_section(entries, spec, limits, False)
    record = json.loads((FIXTURES / "dcase.json").read_text())
    if section["delivered"] is not None:
        section["delivered"] = {**section["delivered"], "verdict": "pass",
                                "figures": {"accuracy": 0.65, "macs": 26_116_000, "flash_bytes": 57660}}
    record["search"] = section
    return record


@pytest.fixture
def record(monkeypatch):
    return search_record(monkeypatch=monkeypatch)


def search_section_html(page):
    match = re.search(r'<section id="search">.*?</section>', page, re.S)
    assert match, "no Search section"
    return match.group(0)


def test_pareto_plot_has_a_point_per_trial_that_ran(record):
    svg = re.search(r'<svg class="pareto".*?</svg>', search_section_html(html.render(record)), re.S).group(0)
    points = re.findall(r'<circle class="pt ([a-z ]+)" data-trial="(\d+)"', svg)
    assert sorted(int(n) for _, n in points) == [1, 2, 3, 4, 5, 8]          # status ok only
    kinds = {int(n): set(c.split()) for c, n in points}
    assert {n for n, c in kinds.items() if "pareto" in c} == {1, 2, 3} == set(record["search"]["pareto"])
    assert "nofit" in kinds[5] and all("fits" in kinds[n] for n in (1, 2, 3, 4, 8))
    assert 'fill="#fff"' in re.search(r'<circle class="pt nofit" data-trial="5"[^>]*>', svg).group(0)  # hollow
    assert re.search(r'<path class="front" d="M[^"]*H[^"]*V', svg)        # the Pareto trials joined
    assert '<g class="delivered-mark" data-trial="3">' in svg and "delivered: trial 3" in svg
    # the board's limits are on figures the plot does not show; the recipe's MAC rule and the user's floor are
    assert re.findall(r'class="budget" data-budget="(\w+)" data-axis="(\w)"', svg) == [("macs", "x"),
                                                                                     ("accuracy", "y")]
    assert "macs ≤ 30 M MACs (recipe)" in svg and "accuracy ≥ 0.4 (cli)" in svg
    assert "MACs per inference (macs, MACs) - lower is better" in svg and "accuracy - higher is better" in svg


def test_trials_table_has_a_row_per_trial(record):
    section = search_section_html(html.render(record))
    rows = re.findall(r'<tr class="([^"]*)" data-trial="(\d+)" data-status="(\w+)">(.*?)</tr>', section, re.S)
    assert [(int(n), s) for _, n, s, _ in rows] == [(1, "ok"), (2, "ok"), (3, "ok"), (4, "ok"), (5, "ok"),
                                                    (6, "infeasible"), (7, "failed"), (8, "ok")]
    cells = {int(n): re.findall(r"<td[^>]*>(.*?)</td>", body, re.S) for _, n, _, body in rows}
    assert "delivered" in rows[2][0] and "DELIVERED".lower() in cells[3][0] and "Pareto" in cells[3][0]
    assert cells[3][1] == "width 1.0, sparsity 0.5, distill true"
    assert cells[3][3:6] == ["0.66", "26.1 M MACs", "yes"]
    assert cells[5][5] == "no" and cells[5][7] == "accuracy 0.3 &lt; 0.4 (cli)"
    assert cells[6][7].startswith("before training: macs 58,000,000")
    assert cells[7][7] == "diverged: loss &lt;NaN&gt; at epoch 1"                   # escaped
    assert "8 run: 6 ok, 1 failed, 1 rejected before training; 5 fit every budget" in section


def test_summary_says_how_many_fit_and_what_was_delivered(record):
    text = summary.render(record)
    assert record["search"]["summary"] in text          # the run's own line, as runner.search used to append it
    assert "search: 5 of 8 trial(s) fit every budget (1 failed, 1 rejected before training)" in text
    assert ("- Delivered plan (trial 3): width 1.0, sparsity 0.5, distill true; run again with its full steps: "
            "accuracy 0.65, macs 26.1 M MACs, verdict PASS.") in text
    assert "- Pareto set, best accuracy first: trial 3 (width 1.0" in text
    assert text.index("search: 5 of 8") < text.index("| budget |")     # after the verdict, before the tables


def test_summary_without_the_runs_line_composes_one(record):
    del record["search"]["summary"]
    text = summary.render(record)
    assert ("search: 8 trials (6 ok, 1 failed, 1 infeasible), 5 fit; delivered trial 3: width 1.0, sparsity 0.5, "
            "distill true - accuracy 0.66, macs 26.1 M MACs") in text


def test_no_plan_fits_says_why(monkeypatch):
    over = {"name": "macs", "op": "<=", "limit": 500_000, "source": "cli"}
    entries = [entry(0.5, 0.0, True, 0.6, 7_100_000, fits=False, failed=[{**over, "value": 7_100_000}]),
               entry(0.25, 0.0, True, 0.5, 2_000_000, fits=False, failed=[{**over, "value": None}])]
    record = search_record(entries, {**LIMITS, "cli": {"macs": 500_000}}, monkeypatch)
    text = summary.render(record)
    assert "no plan delivered: macs <= 500,000 (cli) failed by 2 of 2 judged trial(s)" in text
    section = search_section_html(html.render(record))
    assert "no plan fits" in section and "delivered-mark" not in section
    assert len(re.findall(r'<circle class="pt nofit"', section)) == 2
    assert "<td>macs 7.1 M &gt; 500,000 (cli)</td>" in section
    assert "<td>macs not reported (≤ 500,000, cli)</td>" in section
    # both the recipe's 30 M and the user's 0.5 M ceiling are near the points: both drawn
    assert re.findall(r'class="budget" data-budget="macs"', section) == ['class="budget" data-budget="macs"'] * 2


def test_a_limit_far_from_every_point_is_named_not_drawn(monkeypatch):
    record = search_record(ENTRIES, {**LIMITS, "recipe": {"macs": 3e9}}, monkeypatch)
    section = search_section_html(html.render(record))
    assert 'class="budget" data-budget="macs"' not in section
    assert 'class="budget-off" data-budget="macs"' in section and "off this chart" in section


def test_a_record_without_search_renders_as_before():
    record = json.loads((FIXTURES / "dcase.json").read_text())
    page, text = html.render(record), summary.render(record)
    assert 'id="search"' not in page and "<svg" not in page
    assert "search:" not in text and "Pareto" not in text


def test_a_malformed_search_degrades_to_a_note(record):
    record["search"]["trials"] = [{"trial": 1, "status": "ok", "figures": {"accuracy": "high", "macs": None}}, "x"]
    record["search"]["pareto"] = [[1]]
    page = html.render(record)
    assert 'data-verdict="fail"' in page                  # the rest of the page is there
    assert 'id="search"' in page and '<p class="section-error">' not in page
    assert summary.render(record).startswith("### ❌ FAIL")
    record["search"] = {"spec": "?", "trials": None, "delivered": "?"}
    assert '<p class="section-error">' not in html.render(record) and summary.render(record)


def test_the_samplers_repeats_are_in_the_record_and_the_page(monkeypatch):
    monkeypatch.setattr(runner, "_engine", lambda: ENGINE)
    spec = SearchSpec("accuracy", "macs", 8, None, SPACE, {"epochs": 1})
    section = runner.search_section(ENTRIES, spec, LIMITS, False, repeats={"repeats": 3, "drawn": 0})
    assert (section["engine"]["sampler_repeats"], section["engine"]["sampler_drawn"]) == (3, 0)
    record = json.loads((FIXTURES / "dcase.json").read_text())
    record["search"] = section
    assert "3 proposal(s) of a plan already tried: told its result, not run" in search_section_html(html.render(record))
    assert runner.search_section(ENTRIES, spec, LIMITS, False)["engine"]["sampler_repeats"] is None
