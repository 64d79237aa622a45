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


@pytest.mark.parametrize("text", ["macs", "macs=", "macs=abc", "=5", "params=-1", "params=0"])
def test_parse_budget_rejects_bad_text(text):
    with pytest.raises(BadInput, match="name=positive number"):
        budgets.parse_budget(text)


def test_judge_margins_and_verdicts():
    rows = budgets.judge(FIGURES, {"cli": {"macs": 30e6, "params": 40_000}})
    by = {r["name"]: r for r in rows}
    assert by["macs"]["verdict"] == "pass" and by["macs"]["margin"] == pytest.approx((30e6 - 29_238_120) / 30e6)
    assert by["params"]["verdict"] == "fail" and by["params"]["margin"] < 0
    assert budgets.verdict(rows) == "fail"
    text = budgets.table(rows)
    assert "FAIL" in text and "over by 6,246" in text


def test_later_sources_override_and_targets_give_memories():
    target = load_target("cortex-m4")
    limits = budgets.target_limits(target)
    assert limits == {"flash_bytes": 2_097_152, "arena_bytes": 655_360}
    rows = budgets.judge(FIGURES, {"target": limits, "cli": {"ram": 60_000}})
    arena = [r for r in rows if r["name"] == "arena_bytes"]
    assert len(arena) == 1 and arena[0]["source"] == "cli" and arena[0]["verdict"] == "fail"


def test_unknown_budget_names_the_known_figures():
    with pytest.raises(BadInput, match="budget 'watts'.*known: arena_bytes, flash_bytes, macs, params"):
        budgets.judge(FIGURES, {"cli": {"watts": 1}})


def test_rejudge_tightens_without_recomputing():
    record = budgets.apply({"figures": FIGURES}, {"target": {"flash_bytes": 2_097_152}})
    assert record["verdict"] == "pass"
    tighter = budgets.rejudge(record, {"flash_bytes": 50_000})
    assert tighter["verdict"] == "fail" and record["verdict"] == "pass"   # the original is untouched
    assert tighter["budgets"][0]["source"] == "cli"
    assert budgets.verdict([]) is None
