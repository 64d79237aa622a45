"""Real synthesis figures from an hls4ml project the user has synthesized (compress only writes and simulates it).

hls4ml's own parser (hls4ml.report.parse_vivado_report) reads <prj>/solution*/syn/report/<top>_csynth.xml and the
Vivado utilization report vivado_synth.rpt; this module turns its strings into numbers and labelled figures.
"""

import contextlib
import io
from pathlib import Path

from ..figures import estimated, measured

CSYNTH_BY = "Vivado/Vitis HLS C synthesis report (csynth.xml)"
VIVADO_BY = "Vivado synthesis utilization report (vivado_synth.rpt)"


def _number(text):
    value = float(str(text).strip())
    return int(value) if value.is_integer() else value


def read_synthesis_reports(project_dir) -> dict | None:
    """{"csynth": {...}, "vivado": {...}, "figures": {...}} from the project's reports, or None when the project
    has not been synthesized. csynth: latency_best/worst (cycles), ii_min/max, clock periods (ns), LUT, FF, DSP,
    BRAM_18K, URAM; vivado: LUT, FF, DSP, BRAM_18K (post-synthesis)."""
    import hls4ml

    project_dir = Path(project_dir)
    if not (project_dir / "project.tcl").is_file():
        return None
    with contextlib.redirect_stdout(io.StringIO()):          # the parser prints what it does not find
        report = hls4ml.report.parse_vivado_report(str(project_dir)) or {}
    out, figures = {}, {}
    cs = report.get("CSynthesisReport")
    if cs:
        csynth = {"latency_best_cycles": _number(cs["BestLatency"]),
                  "latency_worst_cycles": _number(cs["WorstLatency"]),
                  "ii_min_cycles": _number(cs["IntervalMin"]), "ii_max_cycles": _number(cs["IntervalMax"]),
                  "target_clock_ns": _number(cs["TargetClockPeriod"]),
                  "estimated_clock_ns": _number(cs["EstimatedClockPeriod"])}
        for key in ("LUT", "FF", "DSP", "BRAM_18K", "URAM"):
            if key in cs:
                csynth[key] = _number(cs[key])
            if "Available" + key in cs:
                csynth.setdefault("available", {})[key] = _number(cs["Available" + key])
        csynth["latency_worst_s"] = csynth["latency_worst_cycles"] * csynth["target_clock_ns"] * 1e-9
        out["csynth"] = csynth
        # HLS figures are the HLS tool's own estimate: real, but not yet placed and routed
        for key in ("LUT", "FF", "DSP", "BRAM_18K", "URAM"):
            if key in csynth:
                figures[f"{key}_hls"] = estimated(csynth[key], "count", CSYNTH_BY)
        figures["latency_s_hls"] = estimated(csynth["latency_worst_s"], "s", CSYNTH_BY)
        figures["ii_cycles_hls"] = estimated(csynth["ii_max_cycles"], "cycles", CSYNTH_BY)
    vs = report.get("VivadoSynthReport")
    if vs:
        vivado = {}
        for key, value in vs.items():
            key = "DSP" if key.startswith("DSP") else key
            vivado[key] = _number(value)
        if "BRAM_18K" in vivado:
            # hls4ml files Vivado's "Block RAM Tile" (36 Kb tiles, RAMB18 counted as 0.5) under BRAM_18K
            vivado["BRAM_36K_tiles"] = vivado["BRAM_18K"]
            vivado["BRAM_18K"] = _number(2 * vivado["BRAM_36K_tiles"])
        out["vivado"] = vivado
        for key in ("LUT", "FF", "DSP", "BRAM_18K", "URAM"):
            if key in vivado:
                figures[f"{key}_synth"] = measured(vivado[key], "count", VIVADO_BY)
    if not out:
        return None
    out["figures"] = figures
    return out
