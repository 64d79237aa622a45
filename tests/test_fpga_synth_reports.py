"""Real synthesis figures read from report files in hls4ml's project layout (tests/fixtures/hls/synthesized)."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from compressor.analysis.synth_reports import read_synthesis_reports

PROJECT = Path(__file__).parent / "fixtures" / "hls" / "synthesized"
CSYNTH = PROJECT / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"


def _xml(path, tag):
    return int(ET.parse(path).getroot().find(tag).text)


def test_csynth_report_gives_latency_ii_and_resources_equal_to_the_file():
    report = read_synthesis_reports(PROJECT)
    cs = report["csynth"]
    lat = "./PerformanceEstimates/SummaryOfOverallLatency/"
    assert cs["latency_best_cycles"] == _xml(CSYNTH, lat + "Best-caseLatency") == 1187
    assert cs["latency_worst_cycles"] == _xml(CSYNTH, lat + "Worst-caseLatency") == 1193
    assert cs["ii_min_cycles"] == _xml(CSYNTH, lat + "Interval-min") == 1025
    assert cs["ii_max_cycles"] == _xml(CSYNTH, lat + "Interval-max") == 1031
    res = "./AreaEstimates/Resources/"
    assert cs["LUT"] == _xml(CSYNTH, res + "LUT") == 23456
    assert cs["FF"] == _xml(CSYNTH, res + "FF") == 9876
    assert cs["DSP"] == _xml(CSYNTH, res + "DSP48E") == 37          # Vivado's tag; Vitis says DSP
    assert cs["BRAM_18K"] == _xml(CSYNTH, res + "BRAM_18K") == 14
    assert cs["URAM"] == 0
    assert abs(cs["latency_worst_s"] - 1193 * 10e-9) < 1e-12
    assert report["figures"]["LUT_hls"]["value"] == 23456
    assert report["figures"]["LUT_hls"]["provenance"] == "estimated"  # HLS's own estimate, before place & route


def test_vivado_utilization_report_is_read_beside_it():
    viv = read_synthesis_reports(PROJECT)["vivado"]
    assert (viv["LUT"], viv["FF"], viv["DSP"]) == (19876, 8765, 35)
    assert viv["BRAM_36K_tiles"] == 6.5 and viv["BRAM_18K"] == 13    # 6.5 tiles of 36 Kb = 13 x 18 Kb
    fig = read_synthesis_reports(PROJECT)["figures"]["DSP_synth"]
    assert fig["provenance"] == "measured" and "vivado_synth.rpt" in fig["by"]


def test_unsynthesized_project_gives_none(tmp_path):
    assert read_synthesis_reports(tmp_path) is None                      # not an hls4ml project at all
    shutil.copy(PROJECT / "project.tcl", tmp_path / "project.tcl")      # written, never synthesized
    assert read_synthesis_reports(tmp_path) is None


def test_csynth_only_project_has_no_vivado_section(tmp_path):
    shutil.copytree(PROJECT, tmp_path / "p")
    (tmp_path / "p" / "vivado_synth.rpt").unlink()
    report = read_synthesis_reports(tmp_path / "p")
    assert "vivado" not in report and report["csynth"]["LUT"] == 23456
