"""Budget parsing, judging and re-judging."""

import pytest

from compressor.analysis import budgets
from compressor.errors import BadInput
from compressor.figures import counted, measured
from compressor.targets import load_target

FIGURES = {"macs": counted(29_238_120, "MAC", "nessi"), "params": counted(46_246, "", "keras"),
           "arena_bytes": measured(68_352, "bytes", "tflm"), "flash_bytes": counted(53_368, "bytes", "file")}


def test_parse_budget_accepts_numbers_and_aliases():
    assert budgets.parse_budget("macs=30e6") == ("macs", 30_000_000)
    assert budgets.parse_budget("latency=0.25") == ("latency_s", 0.25)
    assert budgets.parse_budget("ram=65536") == ("arena_bytes", 65536)


@pytest.mark.parametrize("text", ["macs", "macs=", "macs=abc", "=5", "macs>30", "macs==5", "accuracy >= x"])
def test_parse_budget_rejects_bad_text(text):
    with pytest.raises(BadInput, match=r"expected name=number \(a ceiling\), name<=number, name>=number"):
        budgets.parse_budget(text)


@pytest.mark.parametrize("text, expected", [("params=-1", "positive"), ("params=0", "positive"),
                                            ("metric_drop=-0.1", "non-negative")])
def test_parse_budget_rejects_limits_out_of_range(text, expected):
    with pytest.raises(BadInput, match=expected):
        budgets.parse_budget(text)


def test_metric_budgets_read_as_a_person_writes_them():
    assert budgets.parse_budget("accuracy>=0.9") == ("accuracy>=", 0.9)
    assert budgets.parse_budget("min_accuracy=0.9") == ("accuracy>=", 0.9)
    assert budgets.parse_budget("log_loss<=0.5") == ("log_loss", 0.5)
    assert budgets.parse_budget("max_metric_drop=0.01") == ("metric_drop", 0.01)
    assert budgets.parse_budget("max_metric_drop=0") == ("metric_drop", 0)
    assert budgets.parse_budget(" mse <= 0.02 ") == ("mse", 0.02)


def test_unknown_figure_names_list_the_known_ones():
    with pytest.raises(BadInput, match=r"--budget 'acuracy>=0.9': unknown figure 'acuracy' \(known: params, .*"
                                       r"accuracy, log_loss, mse, esr, probe_accuracy"):
        budgets.parse_budget("acuracy>=0.9")
    assert budgets.parse_budget("LUT_synth=1000") == ("LUT_synth", 1000)     # FPGA figures beside the estimate


def test_a_floor_fails_below_and_holds_at_or_above():
    figs = {"accuracy": measured(0.85, "fraction", "keras")}
    low, = budgets.judge(figs, {"cli": {"accuracy>=": 0.9}})
    assert low["verdict"] == "fail" and low["op"] == ">=" and low["margin"] == pytest.approx((0.85 - 0.9) / 0.9)
    met, = budgets.judge(figs, {"cli": {"accuracy>=": 0.85}})
    assert met["verdict"] == "pass" and met["margin"] == 0
    assert "under by 0.05" in budgets.table([low])


def test_a_budget_on_a_figure_the_run_lacks_fails_rather_than_passes():
    row, = budgets.judge(FIGURES, {"recipe": {"accuracy>=": 0.9}})
    assert row["verdict"] == "fail" and row["value"] is None and budgets.verdict([row]) == "fail"


def test_judge_margins_and_verdicts():
    rows = budgets.judge(FIGURES, {"cli": {"macs": 30e6, "params": 40_000}})
    by = {r["name"]: r for r in rows}
    assert by["macs"]["verdict"] == "pass" and by["macs"]["margin"] == pytest.approx((30e6 - 29_238_120) / 30e6)
    assert by["params"]["verdict"] == "fail" and by["params"]["margin"] < 0
    assert budgets.verdict(rows) == "fail"
    text = budgets.table(rows)
    assert "FAIL" in text and "over by 6,246" in text


def test_a_user_budget_never_loosens_the_boards():
    target = load_target("cortex-m4")
    limits = budgets.target_limits(target)
    assert limits == {"flash_bytes": 2_097_152, "arena_bytes": 655_360}
    big = {**FIGURES, "arena_bytes": measured(2_050_000, "bytes", "tflm")}
    rows = budgets.judge(big, {"target": limits, "cli": {"arena_bytes": 3e6}})
    arena = {r["source"]: r for r in rows if r["name"] == "arena_bytes"}
    assert arena["target"]["verdict"] == "fail" and arena["cli"]["verdict"] == "pass"   # both rows, board's kept
    assert budgets.verdict(rows) == "fail"
    tighter = budgets.judge(FIGURES, {"target": limits, "cli": {"ram": 60_000}})
    assert [r["verdict"] for r in tighter if r["name"] == "arena_bytes"] == ["pass", "fail"]


def test_rejudge_keeps_the_boards_row_beside_a_looser_user_limit():
    big = {**FIGURES, "arena_bytes": measured(2_050_000, "bytes", "tflm")}
    record = budgets.apply({"figures": big}, {"target": {"arena_bytes": 655_360}})
    looser = budgets.rejudge(record, {"arena_bytes": 3_000_000})
    assert looser["verdict"] == "fail" and {(r["source"], r["verdict"]) for r in looser["budgets"]} == {
        ("target", "fail"), ("cli", "pass")}


def test_rejudge_names_the_reports_figures_for_a_budget_it_cannot_judge():
    record = budgets.apply({"figures": FIGURES}, {"target": {"flash_bytes": 2_097_152}})
    with pytest.raises(BadInput, match=r"--budget accuracy: this report has no such figure \(it has: arena_bytes, "
                                       r"flash_bytes, macs, params\)"):
        budgets.rejudge(record, {"accuracy>=": 0.9})


def test_rejudge_tightens_without_recomputing():
    record = budgets.apply({"figures": FIGURES}, {"target": {"flash_bytes": 2_097_152}})
    assert record["verdict"] == "pass"
    tighter = budgets.rejudge(record, {"flash_bytes": 50_000})
    assert tighter["verdict"] == "fail" and record["verdict"] == "pass"   # the original is untouched
    assert [r["source"] for r in tighter["budgets"]] == ["target", "cli"]
    assert budgets.verdict([]) is None


def test_a_failed_check_makes_the_verdict_unverified_whatever_the_budgets():
    ok = budgets.check_row("tflm_vs_tflite_lsb", "TFLite Micro vs TFLite", measured(1, "LSB", "tflm"), 4, "<=")
    bad = budgets.check_row("int8_max_error_lsb", "int8 vs Keras", measured(18.5, "LSB", "tflite"), 16, "<=")
    warn = {**budgets.check_row("accuracy_vs_b", "a vs b", measured(0.8, "fraction", "k"), 0.9, ">=",
                                source="comparison"), "verdict": "warn"}
    passing = budgets.judge(FIGURES, {"target": {"flash_bytes": 2_097_152}})
    failing = budgets.judge(FIGURES, {"cli": {"macs": 1000}})
    assert budgets.verdict(passing, [ok, warn]) == "pass"            # a warning never changes the verdict
    assert budgets.verdict(failing, [ok]) == "fail"
    assert budgets.verdict(passing, [ok, bad]) == "unverified"
    assert budgets.verdict(failing, [bad]) == "unverified"
    assert budgets.verdict([], [ok]) == "pass" and budgets.verdict([], []) is None
    assert budgets.describe(bad) == "int8 vs Keras: 18.5 LSB > 16 LSB"
    record = budgets.rejudge({"figures": FIGURES, "budgets": passing, "checks": [bad]}, {})
    assert record["verdict"] == "unverified"                          # compress check keeps the failed proof


# ---------------------------------------------------------------- fuzzing the --budget parser

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = st.sampled_from([*budgets.KNOWN_FIGURES, *budgets.ALIASES, "min_accuracy", "max_metric_drop", "watts",
                          "", "LUT_synth", "accuracy>"])
_OPS = st.sampled_from(["=", "<=", ">=", "==", "<", ">", "=>", " = ", ""])
_NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                     st.sampled_from(["", "x", "1e", "0x10", "1_000", "nan", "-0", "1e400", "３"]))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.tuples(_NAMES, _OPS, _NUMBERS).map("".join)))
def test_the_budget_parser_accepts_a_budget_or_names_what_is_wrong(text):
    try:
        key, limit = budgets.parse_budget(text)
    except BadInput as e:
        assert "\n" not in str(e) and str(e).startswith("--budget")
        return
    name, op = budgets.split_key(key)
    assert op in ("<=", ">=") and (name in budgets.KNOWN_FIGURES or name.split("_")[0] in budgets.KNOWN_FIGURES)
    assert isinstance(limit, (int, float)) and limit == limit and abs(limit) != float("inf")
    assert limit > 0 or (limit == 0 and name in budgets.METRIC_FIGURES)


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(max_size=30), st.tuples(_NAMES, _OPS, _NUMBERS).map("".join)))
def test_compress_check_never_crashes_on_a_budget(tmp_path_factory, text):
    import json

    from compressor.cli import main

    report = tmp_path_factory.getbasetemp() / "fuzz_report.json"
    if not report.exists():
        record = budgets.apply({"schema": "compressor.report/1", "figures": FIGURES}, {"target": {"flash": 2e6}})
        report.write_text(json.dumps(record))
    assert main(["check", str(report), "--budget", text]) in (0, 2, 3)
