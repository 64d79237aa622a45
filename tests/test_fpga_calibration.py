"""The FPGA estimate against real hls4ml synthesis (issue 17 item 4): the copied truth data loads, and on three
rebuilt designs the estimate reproduces what benchmarks/results.md section 6 states (estimate and error vs HLS)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_fpga_estimate", ROOT / "tools" / "check_fpga_estimate.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

DESIGNS = ("pm_c28e4f1_root", "pm_d3a8c69_mnist_orig", "tut_p3_pruned_u250_hp")


def _stated():
    """{(design, resource): (hls, estimate, error %)} from the results.md section 6 table."""
    text = (ROOT / "benchmarks" / "results.md").read_text()
    section = text.split(check.HEADING, 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0] in DESIGNS:
            num = lambda s: float(s.replace(",", ""))   # noqa: E731
            out[(cells[0], cells[2])] = (num(cells[3]), num(cells[5]), float(re.sub(r"[ %+]", "", cells[6])))
    return out


def test_truth_data_loads_with_source_columns():
    rows = check.truth_rows()
    assert len(rows) == 24
    for col in ("id", "source_repo", "fpga_part", "clock_period_ns", "hls_lut", "hls_ff", "hls_dsp", "hls_bram18k",
                "hls_latency_max", "viv_lut", "viv_bram_tile36"):
        assert col in rows[0]
    ids = {r["id"] for r in rows}
    designs = {p.name for p in (check.DATA / "designs").iterdir()}
    assert len(designs) == 15 and designs <= ids
    for d in designs:
        assert check.load_hls_config(check.DATA / "designs" / d)["HLSConfig"]["Model"]
    assert float(next(r for r in rows if r["id"] == "pm_c28e4f1_root")["hls_dsp"]) == 42


@pytest.mark.parametrize("design", DESIGNS)
def test_estimate_matches_the_stated_table(design):
    stated = _stated()
    row = next(r for r in check.truth_rows() if r["id"] == design)
    total, _ = check.estimate_design(row)
    cmp = check.compare(row, total)
    for res in check.RESOURCES:
        hls, est, err = stated[(design, res)]
        assert cmp[res]["hls"] == hls
        assert cmp[res]["est"] == pytest.approx(est, rel=0.005, abs=0.5), (design, res)
        assert 100 * cmp[res]["err_hls"] == pytest.approx(err, abs=1.0), (design, res)


def test_pruning_zeros_are_rebuilt():
    model, fracs = check.rebuild_model(check.DATA / "designs" / "tut_p3_pruned_u250_hp")
    k = model.get_layer("fc1").get_weights()[0]
    assert abs((k == 0).mean() - fracs["fc1"]) < 0.01 and fracs["fc1"] > 0.7
