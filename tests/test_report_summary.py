"""summary.md: the verdict and one table row per budget, failing ones marked, safe inside a markdown table."""

import json
from pathlib import Path

from compressor.report import summary
from compressor.report.record import new_record

FIXTURES = Path(__file__).parent / "fixtures" / "records"


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| budget")]


def test_failing_run_names_what_failed():
    record = load("dcase")
    text = summary.render(record)
    assert text.splitlines()[0].startswith("### ❌ FAIL: dcase_student on cortex-m4")
    rows = table_rows(text)
    assert len(rows) == len(record["budgets"])
    failing = [row.split("|")[1].strip() for row in rows if "**fail**" in row]
    assert failing == [b["name"] for b in record["budgets"] if b["verdict"] == "fail"]
    assert "4 of 5 budgets hold. Failing: latency_s." in text
    latency = next(row for row in rows if row.startswith("| latency_s"))
    assert "| 500 ms | 870 ms | -74.0% |" in latency and "estimated by cycles/MAC model" in latency


def test_passing_run():
    record = load("mae")
    text = summary.render(record)
    assert text.startswith("### ✅ PASS")
    assert all("✅ pass" in row for row in table_rows(text))


def test_no_budgets_and_unfinished_run():
    text = summary.render(new_record(["compress", "analyze", "m.keras"]))
    assert text.startswith("### ➖ NO BUDGETS")
    assert "No budgets were set" in text and "did not finish" in text
    assert summary.render({}).startswith("### ➖ NO BUDGETS: model")


def test_cells_cannot_break_the_table():
    record = load("mae")
    record["budgets"][0]["name"] = "flash|bytes"
    record["budgets"][0]["by"] = "line one\nline two"
    rows = table_rows(summary.render(record))
    assert rows[0].count("|") - rows[0].count("\\|") == 7  # six cells, whatever the text held


def test_warnings_are_counted():
    text = summary.render(load("speech_analyze"))
    assert "1 warning(s): calibration fell back to synthetic inputs" in text
