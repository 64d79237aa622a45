"""report.html from records: each family's pictures, robustness to missing or malformed data, provenance shown,
nothing fetched from the network, a failing budget or check that stands out, never green while a row is red."""

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

from compressor.report import charts, html, write
from compressor.record import new_record
from compressor.report.summary import format_value

FIXTURES = Path(__file__).parent / "fixtures" / "records"
FAMILY_SECTIONS = {  # the pictures a person expects for each family
    "cae": ["spectrograms", "weights", "energy", "steps"],
    "dcase": ["confusion", "steps"],
    "effects": ["waveforms", "steps"],
    "mae": ["probe", "steps"],
    "speech": ["confusion", "steps"],
    "speech_analyze": [],
    "unverified": [],
}


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def section_ids(page):
    return set(re.findall(r'<section id="([^"]+)"', page))


def images_in(page, section_id):
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
    return re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', match.group(1)) if match else []


@pytest.fixture(scope="module")
def pages():
    return {name: html.render(load(name)) for name in FAMILY_SECTIONS}


@pytest.mark.parametrize("name", FAMILY_SECTIONS)
def test_each_family_gets_its_pictures(pages, name):
    page = pages[name]
    for section_id in FAMILY_SECTIONS[name]:
        assert images_in(page, section_id), f"{name}: no picture in section {section_id}"
    picture_sections = {"spectrograms", "waveforms", "confusion", "probe", "weights", "energy"}
    # no family shows another family's pictures (the waveform view must not appear from missing data)
    unexpected = (section_ids(page) & picture_sections) - set(FAMILY_SECTIONS[name])
    assert not unexpected
    assert '<p class="section-error"' not in page


@pytest.mark.parametrize("name", FAMILY_SECTIONS)
def test_page_is_self_contained(pages, name):
    page = pages[name]
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page), "an external reference would need the network"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "@import" not in page and "<link rel=\"stylesheet\"" not in page
    assert len(page) < 600_000


@pytest.mark.parametrize("name", FAMILY_SECTIONS)
def test_verdict_shown_is_the_records(pages, name):
    verdict = load(name)["verdict"]
    shown = re.search(r'id="verdict" data-verdict="([a-z]+)"', pages[name]).group(1)
    assert shown == (verdict or "none")


def test_failed_budget_stands_out(pages):
    record = load("dcase")
    failing = [b["name"] for b in record["budgets"] if b["verdict"] == "fail"]
    assert failing == ["latency_s"]
    gauges = re.findall(r'<div class="gauge (\w+)" data-budget="([^"]+)"', pages["dcase"])
    assert [name for kind, name in gauges if kind == "fail"] == failing
    assert len(gauges) == len(record["budgets"])
    verdict_text = re.search(r'id="verdict".*?</div>', pages["dcase"], re.S).group(0)
    assert "FAIL" in verdict_text and "latency_s" in verdict_text


def verdict_div(page):
    return re.search(r'<div class="verdict (\w+)" id="verdict" data-verdict="(\w+)">(.*?)</div>', page, re.S).groups()


def gauge_of(page, attribute, name, nth=0):
    return re.findall(rf'<div class="gauge \w+" data-{attribute}="{name}".*?(?=<div class="gauge |</section>)', page,
                      re.S)[nth]


def test_unverified_banner_names_the_failed_check(pages):
    kind, verdict, text = verdict_div(pages["unverified"])
    assert (kind, verdict) == ("fail", "unverified")  # the failing colour, the record's word
    assert "UNVERIFIED" in text and "Failed check: int8 vs Keras: 18.5 LSB &gt; 16 LSB." in text
    check = gauge_of(pages["unverified"], "check", "int8_vs_keras_max_error_lsb")
    assert check.startswith('<div class="gauge fail"') and ">int8 vs Keras</span>" in check
    assert "18.5 LSB &gt; 16 LSB</span> · 116% of limit · margin -15.6%" in check
    agreement = gauge_of(pages["unverified"], "check", "int8_vs_keras_top1_agreement")
    assert agreement.startswith('<div class="gauge pass"') and "0.98 ≥ 0.95</span> · 103% of floor" in agreement
    assert re.search(r'<section id="budgets"><h2>Checks and budgets</h2>', pages["unverified"])


def test_a_pass_record_with_a_failed_check_is_not_shown_green():
    record = load("mae")
    record["checks"] = [load("unverified")["checks"][0]]
    assert record["verdict"] == "pass"  # the producer never writes this; the page must not believe it
    kind, verdict, text = verdict_div(html.render(record))
    assert (kind, verdict) == ("fail", "unverified") and "int8 vs Keras" in text


def test_warn_row_in_the_warning_colour_with_both_figures():
    record = load("mae")
    record["checks"] = [{"name": "probe_accuracy", "title": "probe accuracy vs the recipe's comparison",
                         "value": 0.58, "limit": 0.6, "op": ">=", "unit": "fraction", "margin": -0.0333,
                         "verdict": "warn", "provenance": "measured", "by": "linear probe", "source": "comparison",
                         "note": "delivered 0.58 vs 0.6 for the comparison the recipe trained"}]
    page = html.render(record)
    assert verdict_div(page)[:2] == ("pass", "pass")  # a warning never changes the verdict
    assert "1 quality warning(s) below." in verdict_div(page)[2]
    row = gauge_of(page, "check", "probe_accuracy")
    assert row.startswith('<div class="gauge warn"') and '<div class="fill warn"' in row
    assert "0.58 &lt; 0.6" in row and "delivered 0.58 vs 0.6 for the comparison the recipe trained" in row


def test_users_budget_beside_the_boards():
    record = load("dcase")
    board = next(b for b in record["budgets"] if b["name"] == "arena_bytes")
    record["budgets"] = [board, board | {"limit": 65536, "margin": -0.043, "verdict": "fail", "source": "cli"}]
    page = html.render(record)
    target, cli = gauge_of(page, "budget", "arena_bytes", 0), gauge_of(page, "budget", "arena_bytes", 1)
    assert target.startswith('<div class="gauge pass"') and "from target" in target
    assert cli.startswith('<div class="gauge fail"') and "from cli" in cli and "66.8 KiB &gt; 64 KiB" in cli


@pytest.mark.parametrize("value, verdict, width, text", [
    (0.375, "fail", "75.0", "0.375 &lt; 0.4</span> · 94% of floor"),
    (0.45, "pass", "90.0", "0.45 ≥ 0.4</span> · 112% of floor")])
def test_a_floor_fills_towards_its_mark(value, verdict, width, text):
    record = load("dcase")
    record["budgets"] = [{"name": "accuracy", "limit": 0.4, "op": ">=", "value": value, "unit": "fraction",
                          "margin": (value - 0.4) / 0.4, "verdict": verdict, "provenance": "measured",
                          "by": "test set", "source": "recipe"}]
    row = gauge_of(html.render(record), "budget", "accuracy")
    # the mark (the floor) sits at 80%: a failing floor stops short of it, a passing one reaches past
    assert f'<div class="fill {verdict}" style="width:{width}%">' in row
    assert '<div class="limit" style="left:80.0%">' in row
    assert text in row


def test_old_record_without_checks_or_op(pages):
    record = load("speech_analyze")
    assert "checks" not in record and all("op" not in b for b in record["budgets"])
    assert verdict_div(pages["speech_analyze"])[:2] == ("pass", "pass")
    assert "<h2>Budgets</h2>" in pages["speech_analyze"] and "data-check" not in pages["speech_analyze"]
    assert "627 KiB ≤ 2 MiB</span> · 31% of limit" in gauge_of(pages["speech_analyze"], "budget", "flash_bytes")
    record["budgets"][0].update(margin=None, limit=0)  # margin may be null (a limit of 0): no bar, still a verdict
    row = gauge_of(html.render(record), "budget", "flash_bytes")
    assert 'style="width:0.0%"' in row and "margin -" in row


def test_every_headline_figure_shows_its_provenance(pages):
    record = load("dcase")
    cards = re.search(r'<section id="figures">(.*?)</section>', pages["dcase"], re.S).group(1)
    for name, fig in record["figures"].items():
        card = re.search(rf'<span title="{name}">.*?</div></div>', cards, re.S).group(0)
        assert f'class="tag {fig["provenance"]}"' in card
        assert html._e(fig["by"]) in card  # the method is in the tag's tooltip


def test_layer_table_totals_and_shares(pages):
    record = load("cae")
    table = re.search(r'<table class="layers">(.*?)</table>', pages["cae"], re.S).group(1)
    total_row = re.search(r'<tr class="total">(.*?)</tr>', table, re.S).group(1)
    assert f'{sum(layer["params"] for layer in record["layers"]):,}' in total_row
    assert f'{sum(layer["macs"] for layer in record["layers"]):,}' in total_row
    shares = [float(s) for s in re.findall(r'<span class="pct">([\d.]+)%</span>', table)]
    assert len(shares) == len(record["layers"])
    assert sum(shares) == pytest.approx(100, abs=0.5)


@pytest.mark.parametrize("record", [{}, None, new_record(["compress", "analyze", "m.keras"])],
                         ids=["empty", "none", "fresh"])
def test_renders_whatever_the_record_holds(record):
    page = html.render(record)
    assert 'data-verdict="none"' in page and "NO BUDGETS" in page
    assert "budgets" not in section_ids(page) and "steps" not in section_ids(page)


def test_malformed_sections_degrade_to_a_note_not_a_crash():
    record = load("cae")
    record["layers"] = [{"name": "x", "macs": "lots", "energy_pj": {"inputs": "?"}}, "not a layer"]
    record["budgets"] = [{"name": "flash", "limit": "big", "value": None, "verdict": "fail"}]
    record["views"] = {"spectrograms": {"original": "not an array"}, "confusion": {"float": [[1, 2, 3]]},
                       "waveforms": {"input": None}, "probe": {"before": "n/a"},
                       "weight_histograms": {"conv": {"edges": [0, 1], "counts": [1, 2, 3]}}}
    record["steps"] = [{"metrics": {"mse": {"value": float("nan")}}}]
    record["figures"] = {"params": {"value": None}}
    page = html.render(record)
    assert 'data-verdict="fail"' in page
    assert 'class="gauge fail" data-budget="flash"' in page
    assert "<img" not in page  # nothing drawable: no picture, and no crash


@pytest.mark.parametrize("name", FAMILY_SECTIONS)
def test_fixtures_hold_their_familys_views(name):
    assert html.missing_views(load(name)) == []


def test_a_recipe_run_without_its_pictures_says_so():
    record = load("cae")
    del record["views"]["spectrograms"]
    assert html.missing_views(record) == ["spectrograms"]
    assert 'id="missing-views"' in html.render(record) and "no spectrograms" in html.render(record)
    record["recipe"] = None  # an analyze record has no data to draw: nothing is missing
    assert html.missing_views(record) == []


def test_missing_views_come_from_the_record_not_a_family_table():
    record = load("cae")
    del record["views"]["spectrograms"]
    record["model"]["family"] = "no such family"    # the report never looks the family up
    assert html.missing_views(record) == ["spectrograms"]
    del record["model"]["expected_views"]           # a record that does not say: nothing is missing
    assert html.missing_views(record) == []


def test_a_section_that_raises_is_named_on_the_page(monkeypatch):
    def broken(_layers):
        raise ValueError("bad energy split")
    monkeypatch.setattr(charts, "energy_split", broken)
    page = html.render(load("cae"))
    assert '<p class="section-error">The energy chart section could not be drawn' in page
    assert "bad energy split" in page and images_in(page, "spectrograms")


def test_text_from_the_record_is_escaped():
    record = load("mae")
    record["model"]["name"] = "<script>alert(1)</script>"
    record["warnings"] = ['<img src="http://evil.example/x.png">']
    page = html.render(record)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'src="http://evil' not in page


def test_incomplete_run_is_flagged():
    record = load("effects")
    record["status"] = "incomplete"
    assert 'id="status"' in html.render(record)
    record["status"] = "complete"
    assert 'id="status"' not in html.render(record)


def test_spectrograms_are_downsampled_to_keep_the_page_small():
    big = np.random.default_rng(0).random((128, 196))
    small = charts._downsample(big, charts.MAX_SPEC)
    assert small.shape[0] <= charts.MAX_SPEC[0] and small.shape[1] <= charts.MAX_SPEC[1]
    assert small.mean() == pytest.approx(big[:, :small.shape[1] * 2].mean(), rel=1e-9)
    record = load("cae")
    record["views"]["spectrograms"] = {k: big.tolist() for k in ("original", "float", "compressed", "generated")}
    assert len(html.render(record)) < 600_000


def test_esr_matches_its_definition():
    # sum (y - yhat)^2 / sum y^2 = (1 + 0) / (1 + 1)
    assert charts.esr([1.0, 1.0], [0.0, 1.0]) == pytest.approx(0.5)
    assert charts.esr([1.0, 1.0], [1.0]) is None
    assert charts.esr([0.0, 0.0], [0.0, 1.0]) is None


def test_esr_of_the_waveforms_is_on_the_page(pages):
    waves = load("effects")["views"]["waveforms"]
    expected = charts.esr(waves["target"], waves["student"])
    assert 0 < expected < 1
    assert f"<th>student</th><td class=\"r\">{expected:.4f}</td>" in pages["effects"]


def test_confusion_accuracy_in_the_chart_title():
    matrix = [[3, 1], [0, 4]]
    fig_uri = charts.confusion({"classes": ["a", "b"], "float": matrix})
    assert fig_uri.startswith("data:image/png;base64,")
    assert charts.confusion({"float": [[1, 2, 3]]}) is None  # not square: no picture


@pytest.mark.parametrize("value, unit, text", [
    (68352, "bytes", "66.8 KiB"), (512, "bytes", "512 B"), (0.0123, "s", "12.3 ms"), (0.87, "s", "870 ms"),
    (1.4e6, "pJ", "1.4 µJ"), (0.0387, "J", "38.7 mJ"), (26116000, "MACs", "26.1 M MACs"),
    (57856, "params", "57,856 params"), (None, "s", "-")])
def test_values_read_in_units(value, unit, text):
    assert format_value(value, unit) == text


def test_write_reports_writes_the_rendered_page(tmp_path):
    record = load("dcase")
    paths = write.write_reports(copy.deepcopy(record), tmp_path)
    assert paths["report_html"].read_text(encoding="utf-8") == html.render(record)
    assert json.loads(paths["report_json"].read_text())["verdict"] == "fail"
