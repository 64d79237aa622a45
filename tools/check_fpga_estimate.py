"""Check compressor's FPGA estimate (analysis/resources.py) against real hls4ml synthesis results.

Data: benchmarks/data/hls4ml_synthesis/ (truth.csv and, per design, keras_model_config.json + hls4ml_config.yml,
copied from the shared hls4ml_synthesis collection with its source columns). For each design: rebuild the Keras
model from its config (QKeras custom objects), set random weights with the recorded zero fraction per kernel, read
the hls4ml configuration, build a target from the row's part and clock, run estimate_resources, compare with the
HLS C-synthesis figures (hls_*) and, where present, Vivado (viv_*; BRAM given in 36 Kb tiles -> x2 for BRAM_18K).

    python tools/check_fpga_estimate.py            # prints the markdown table
    python tools/check_fpga_estimate.py --json     # rows as JSON
"""

import csv
import json
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "hls4ml_synthesis"
RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "latency_cycles")
HLS_COL = {"LUT": "hls_lut", "FF": "hls_ff", "DSP": "hls_dsp", "BRAM_18K": "hls_bram18k",
           "latency_cycles": "hls_latency_max"}
VIV_COL = {"LUT": "viv_lut", "FF": "viv_ff", "DSP": "viv_dsp", "BRAM_18K": "viv_bram_tile36"}


def truth_rows():
    with open(DATA / "truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def _num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def rebuild_model(design_dir, seed=0):
    """The Keras model of a design from its keras_model_config.json, kernels zeroed at the recorded fraction."""
    import numpy as np
    import keras
    from qkeras.utils import _add_supported_quantized_objects
    objs = {}
    _add_supported_quantized_objects(objs)
    cfg = json.loads((design_dir / "keras_model_config.json").read_text())
    sparsity = cfg.pop("_weight_sparsity", {}) or {}
    model = keras.models.model_from_json(json.dumps(cfg), custom_objects=objs)
    rng = np.random.default_rng(seed)
    fracs = {}
    for key, info in sparsity.items():                    # 'dense/dense/kernel:0' or '.../dense/vars/0'
        parts = key.split("/")
        name = parts[0] if not key.startswith("_layer_checkpoint") else parts[1]
        fracs[name] = float(info.get("zero_frac", 0.0))
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in ws]
        frac = fracs.get(layer.name, 0.0)
        if frac > 0 and getattr(layer, "kernel", None) is not None:
            k = new[0].ravel()
            k[rng.permutation(k.size)[:int(round(frac * k.size))]] = 0
            new[0] = k.reshape(ws[0].shape)
        layer.set_weights(new)
    return model, fracs


def load_hls_config(design_dir):
    import yaml

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)   # !keras_model 'path'
    cfg = yaml.load((design_dir / "hls4ml_config.yml").read_text(), Loader=Loader)
    if not isinstance(cfg, dict) or "HLSConfig" not in cfg:
        raise ValueError("hls4ml_config.yml is not a YAML mapping with HLSConfig")
    return cfg


def target_for(row, cfg):
    from compressor.targets import load_target
    part = (row["fpga_part"] or cfg.get("Part") or "").lower()
    base = load_target("pynq-z2" if part.startswith("xc7z020") else "alveo-u250")
    clock_ns = _num(row["clock_period_ns"]) or float(cfg.get("ClockPeriod", 5))
    return replace(base, name=f"synthetic {part} @ {clock_ns:g} ns", part=part, clock_mhz=1000.0 / clock_ns,
                   backend=cfg.get("Backend", base.backend))


def estimate_design(row):
    """(estimate totals, notes) for one truth row; raises ValueError with the reason when it cannot be rebuilt."""
    from compressor.analysis.resources import estimate_resources
    d = DATA / "designs" / row["id"]
    if not (d / "keras_model_config.json").is_file():
        raise ValueError("no keras_model_config.json in the collection (model not published as a config)")
    cfg = load_hls_config(d)
    model, fracs = rebuild_model(d)
    est = estimate_resources(model, cfg["HLSConfig"], target_for(row, cfg))
    return est["total"], {"io_type": cfg.get("IOType"), "sparsity": max(fracs.values(), default=0.0)}


def compare(row, total):
    out = {}
    for r in RESOURCES:
        hls = _num(row[HLS_COL[r]])
        viv = _num(row.get(VIV_COL.get(r, ""), None)) if r in VIV_COL else None
        if viv is not None and r == "BRAM_18K":
            viv *= 2
        est = float(total[r])
        out[r] = {"hls": hls, "viv": viv, "est": est,
                  "err_hls": None if not hls else (est - hls) / hls,
                  "ratio_hls": None if not hls or not est else max(est / hls, hls / est) if est else math.inf}
        if hls == 0 and est == 0:
            out[r]["err_hls"], out[r]["ratio_hls"] = 0.0, 1.0
        elif hls == 0 or (hls and est == 0):
            out[r]["ratio_hls"] = math.inf
    return out


def run():
    rows, skipped = [], []
    for row in truth_rows():
        try:
            total, notes = estimate_design(row)
        except Exception as e:                      # noqa: BLE001 - a design that cannot be rebuilt is listed
            skipped.append((row["id"], f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"))
            continue
        rows.append({"id": row["id"], "part": row["fpga_part"], "clock_ns": row["clock_period_ns"],
                     "strategy": row["strategy"], "notes": notes, "cmp": compare(row, total)})
    return rows, skipped


def summary(rows):
    import statistics
    s = {}
    for r in RESOURCES:
        errs = [abs(x["cmp"][r]["err_hls"]) for x in rows if x["cmp"][r]["err_hls"] is not None]
        ratios = [(x["cmp"][r]["ratio_hls"], x["id"]) for x in rows if x["cmp"][r]["ratio_hls"] is not None]
        s[r] = {"median_abs_err": statistics.median(errs) if errs else None, "n": len(errs),
                "worst_ratio": max(ratios) if ratios else None}
    return s


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"


def markdown(rows, skipped):
    s = summary(rows)
    lines = ["| design | strategy / io | resource | HLS (C synth) | Vivado | estimate | error vs HLS |",
             "|---|---|---|---:|---:|---:|---:|"]
    for x in rows:
        for r in RESOURCES:
            c = x["cmp"][r]
            err = "-" if c["err_hls"] is None else f"{100 * c['err_hls']:+.0f} %"
            lines.append(f"| {x['id']} | {x['strategy'].split(' ')[0]} / {x['notes']['io_type']} | {r} | "
                         f"{_fmt(c['hls'])} | {_fmt(c['viv'])} | {_fmt(c['est'])} | {err} |")
    lines += ["", "| resource | designs | median abs error vs HLS | worst ratio (design) | goal met |", "|---|---:|---:|---|---|"]
    for r in RESOURCES:
        m, w = s[r]["median_abs_err"], s[r]["worst_ratio"]
        ok = m is not None and m <= 0.30 and (r not in ("DSP", "BRAM_18K") or (w and w[0] <= 2))
        lines.append(f"| {r} | {s[r]['n']} | {'-' if m is None else f'{100 * m:.0f} %'} | "
                     f"{'-' if not w else (f'{w[0]:.1f}x' if math.isfinite(w[0]) else 'inf (estimate 0 or real 0)')} ({w[1] if w else ''}) | "
                     f"{'yes' if ok else 'no'} |")
    lines += ["", "Not rebuilt:"] + [f"- {i}: {why}" for i, why in skipped]
    return "\n".join(lines)


HEADING = "## 6. FPGA resources: compressor's estimate against real hls4ml synthesis"
INTRO = """Written by `python tools/check_fpga_estimate.py --write` on {date} (no other section rerun). Each design of
`benchmarks/data/hls4ml_synthesis/truth.csv` (copied from the public hls4ml synthesis collection, source columns kept)
is rebuilt from its `keras_model_config.json` (QKeras objects; random weights with the recorded zero fraction per
kernel), its own `hls4ml_config.yml` is priced by `compressor.analysis.resources.estimate_resources` (estimator "{by}")
on a target with the row's part and clock. **Stage modelled: HLS C synthesis** (the `hls_*` columns, the error
column); Vivado (`viv_*`, BRAM 36 Kb tiles x2 = BRAM_18K) is shown for reference only - it is often 2-3x lower in LUT
and caps DSPs at the device. Latency is the design's worst-case latency in clock cycles.

Goal (issue 17 item 4): median |error| <= 30 % on each resource and on latency, and no design off by more than 2x on
DSP or BRAM. **Met on the DSP median only; not met otherwise.** Estimator v1.1 differs from v1 by two corrections
read off these designs, with no fitted constant (so leave-one-design-out equals in-sample): Latency-strategy layers
count only non-zero weights (hls4ml removes them, `n_zeros`), and a layer with no `result` precision in the
configuration takes the model default instead of its accumulator width (v1 priced the 16-bit jet MLP at 2 DSPs a
product). Median |error| v1 -> v1.1: LUT 90 -> 86 %, FF 99 -> 98 %, DSP 121 -> 16 %, BRAM 75 -> 75 %, latency
152 -> 152 %; the worst LUT and FF ratios grow (38 -> 97x, 68 -> 135x on pm_0c42eea_main, whose real cost
is control logic the model does not price). What is still wrong: FF is priced as the adder-tree LUTs (FF = LUT); pooling, activation and stream
control logic cost nothing (small io_stream CNNs: LUT and FF 10-100x low); io_parallel designs get no BRAM (real 3-8);
io_parallel latency adds a reuse factor and a tree depth per layer (3-5x high); eeg_conv1d_encoder_m2 (Resource
strategy, 12-bit weights) is priced in fabric multipliers where HLS used 813 DSPs; 16-bit constant multiplications
HLS maps partly to LUTs (jet MLP: 1,450 DSP for 4,256 products). Constants were not fitted (deliverable 3 of the
session that wrote this: only the two corrections).
"""


def write_results(rows, skipped, path=ROOT / "benchmarks" / "results.md"):
    import datetime
    from compressor.analysis.resources import BY
    text = path.read_text()
    body = "\n".join([HEADING, "", INTRO.format(date=datetime.date.today().isoformat(), by=BY),
                      markdown(rows, skipped), ""])
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        text = head + body + ("" if nxt < 0 else rest[nxt + 1:])
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    rows, skipped = run()
    if "--write" in sys.argv:
        write_results(rows, skipped)
    elif "--json" in sys.argv:
        print(json.dumps({"rows": rows, "skipped": skipped, "summary": summary(rows)}, indent=1, default=str))
    else:
        print(markdown(rows, skipped))
