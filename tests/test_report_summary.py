"""summary.md: the verdict (never green while a row is red), the checks and one table row per budget, failing ones
marked, safe inside a markdown table."""

import json
from pathlib import Path

from compressor.report import summary
from compressor.record import new_record

FIXTURES = Path(__file__).parent / "fixtures" / "records"


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def table_rows(text, table="budget"):
    """The body rows of the table whose header starts with `table` ("budget" or "check")."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith(f"| {table} |"):
            inside = True
        elif inside and line.startswith("| "):
            rows.append(line)
        elif inside and not line.startswith("|---"):
            break
    return rows


def check_row(**row):
    return {"name": "int8_vs_keras_max_error_lsb", "title": "int8 vs Keras", "value": 0.5, "limit": 16, "op": "<=",
            "unit": "LSB", "verdict": "pass", "provenance": "measured", "by": "tflite-runtime", "source": "check"} | row


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
    assert "| cli | ≤ 500 ms | 870 ms | -74.0% |" in latency and "estimated by cycles/MAC model" in latency
    assert text.splitlines()[0].endswith(" - failing budget: latency_s: 870 ms > 500 ms")


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
    assert rows[0].count("|") - rows[0].count("\\|") == 8  # seven cells, whatever the text held


def test_warnings_are_counted():
    text = summary.render(load("speech_analyze"))
    assert "1 warning(s): calibration fell back to synthetic inputs" in text


def test_unverified_run_names_the_failed_check():
    record = load("unverified")
    text = summary.render(record)
    assert all(b["verdict"] == "pass" for b in record["budgets"])  # the budgets hold, the proof does not
    assert text.splitlines()[0] == ("### ❌ UNVERIFIED: speech_cnn1d on cortex-m4 - "
                                    "failed check: int8 vs Keras: 18.5 LSB > 16 LSB")
    checks = table_rows(text, "check")
    assert checks[0] == ("| int8 vs Keras | 18.5 LSB | ≤ 16 LSB | ❌ **fail** | "
                         "measured by tflite-runtime vs Keras on 64 calibration inputs |")
    assert checks[1].startswith("| int8 vs Keras top-1 agreement | 0.98 | ≥ 0.95 | ✅ pass |")
    assert len(table_rows(text)) == len(record["budgets"])
    assert text.index("| check |") < text.index("| budget |")


def test_a_red_row_is_never_shown_green():
    """A record that says pass beside a failed check (no producer writes one) shows the worst of both."""
    record = load("mae")
    assert summary.shown_verdict(record) == "pass"
    record["checks"] = [check_row(value=18.5, verdict="fail")]
    assert summary.shown_verdict(record) == "unverified"
    assert summary.render(record).startswith("### ❌ UNVERIFIED")
    record["checks"] = []
    record["budgets"][0]["verdict"] = "fail"
    assert summary.shown_verdict(record) == "fail"
    assert summary.shown_verdict(load("unverified") | {"verdict": "pass"}) == "unverified"
    assert summary.shown_verdict(load("dcase") | {"verdict": "unverified"}) == "unverified"  # never better than said
    assert summary.shown_verdict({"verdict": "something else"}) is None
    # a quality warning, or a comparison row marked fail, never changes the verdict: only proofs do
    record = load("mae") | {"checks": [check_row(source="comparison", verdict="warn"),
                                       check_row(source="comparison", verdict="fail")]}
    assert summary.shown_verdict(record) == "pass"


def test_warn_row_shows_both_figures():
    record = load("dcase")
    record["checks"] = [check_row(name="accuracy", title="accuracy vs the recipe's QAT comparison", value=0.375,
                                  limit=0.39, op=">=", unit="fraction", verdict="warn", source="comparison",
                                  by="tflite-runtime on the test set",
                                  note="delivered int8 0.375 vs tfmot QAT 0.39 on the test set")]
    text = summary.render(record)
    assert text.startswith("### ❌ FAIL")  # the warning changes no verdict (dcase fails on latency)
    assert table_rows(text, "check") == [
        "| accuracy vs the recipe's QAT comparison | 0.375 | ≥ 0.39 | ⚠️ warn | "
        "measured by tflite-runtime on the test set; delivered int8 0.375 vs tfmot QAT 0.39 on the test set |"]


def test_users_budget_beside_the_boards_and_a_floor():
    record = load("dcase")
    board = next(b for b in record["budgets"] if b["name"] == "arena_bytes")
    record["budgets"] = [board, board | {"limit": 65536, "margin": -0.043, "verdict": "fail", "source": "cli"},
                         {"name": "accuracy", "limit": 0.4, "op": ">=", "value": 0.375, "unit": "fraction",
                          "margin": -0.0625, "verdict": "fail", "provenance": "measured", "by": "test set",
                          "source": "recipe"}]
    record["verdict"] = "fail"
    text = summary.render(record)
    rows = table_rows(text)
    assert rows[0].startswith("| arena_bytes | target | ≤ 640 KiB | 66.8 KiB | +89.6% | ✅ pass |")
    assert rows[1].startswith("| arena_bytes | cli | ≤ 64 KiB | 66.8 KiB | -4.3% | ❌ **fail** |")
    assert rows[2].startswith("| accuracy | recipe | ≥ 0.4 | 0.375 | -6.2% | ❌ **fail** |")
    assert text.splitlines()[0].endswith(
        " - failing budgets: arena_bytes: 66.8 KiB > 64 KiB; accuracy: 0.375 < 0.4")


def test_old_record_without_checks_or_op():
    record = load("speech_analyze")
    assert "checks" not in record and all("op" not in b for b in record["budgets"])
    text = summary.render(record)
    assert text.splitlines()[0] == "### ✅ PASS: speech_cnn1d on cortex-m4"
    assert "| check |" not in text
    assert table_rows(text)[0].startswith("| flash_bytes | target | ≤ 2 MiB |")  # no op: a ceiling
    record["budgets"][0]["margin"] = None  # margin may be null (limit 0)
    assert "| - | ✅ pass |" in summary.render(record)


def test_changes_to_the_users_data_are_said_in_both_reports():
    from compressor.report import html

    record = {"verdict": None, "data": {"source": "my_wavs", "changes": [
        "resampled 5 of 8 WAVs from 8,000 Hz to 16,000 Hz", "padded 2 of 8 clips shorter than 1 s with zeros"]}}
    text = summary.render(record)
    assert ("Data changed by the run: resampled 5 of 8 WAVs from 8,000 Hz to 16,000 Hz; padded 2 of 8 clips "
            "shorter than 1 s with zeros") in text
    page = html.render(record)
    assert "changed by the run" in page and "resampled 5 of 8 WAVs from 8,000 Hz to 16,000 Hz" in page
