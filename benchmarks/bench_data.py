"""Data preparation at size: peak RSS and wall time of `load_data` on generated TAU-layout folders (1 s clips at
44.1 kHz, 24-bit mono, fold1 split in the development set's proportion), cold cache (decode + front end + write)
and warm cache (features read back), each size in a fresh subprocess so its peak RSS is its own; then a linear fit
extrapolated to the full TAU Urban Acoustic Scenes 2022 Mobile development set (139,620 + 29,680 clips).

    .venv/bin/python -m benchmarks.bench_data                  # 500 / 1,000 / 2,000 / 4,000 clips, writes results.md
    .venv/bin/python -m benchmarks.bench_data --sizes 200 400 --no-write

Peak RSS is measured by sampling /proc every 50 ms: the sum over the measuring process and its worker processes
(joblib's loky pool), and the measuring process alone (also by getrusage ru_maxrss, which the sampling cannot miss).
The section of results.md between the bench_data markers is replaced; nothing else in results.md is touched.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FULL = {"train": 139_620, "test": 29_680}          # TAU Urban Acoustic Scenes 2022 Mobile, development, fold1
RATE, SCENES = 44_100, ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
                        "street_pedestrian", "street_traffic", "tram"]
FRONTEND = {"n_mels": 80}                           # recipes/dcase_student_int8.yaml
BEGIN, END = "<!-- bench_data: begin -->", "<!-- bench_data: end -->"


# ---- the folders ----------------------------------------------------------------------------------------------

def make_folders(work: Path, sizes) -> dict:
    """One TAU-layout folder per size; the largest holds the audio, the others hard-link its first clips."""
    import soundfile as sf

    biggest = max(sizes)
    audio = work / "audio_pool"
    audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    names = []
    for i in range(biggest):
        scene = SCENES[i % len(SCENES)]
        name = f"{scene}-city{i % 12}-{i}-0-a.wav"
        path = audio / name
        if not path.exists():
            clip = 0.3 * np.sin(2 * np.pi * (200 + 40 * (i % len(SCENES))) * t) + 0.05 * rng.standard_normal(RATE)
            sf.write(path, clip.astype(np.float32), RATE, subtype="PCM_24")
        names.append((name, scene))
    folders = {}
    share = FULL["test"] / (FULL["train"] + FULL["test"])
    for n in sizes:
        root = work / f"tau_{n}"
        if not (root / "meta.csv").exists():
            shutil.rmtree(root, ignore_errors=True)
            (root / "audio").mkdir(parents=True)
            meta = ["filename\tscene_label\tidentifier\tsource_label"]
            train, evaluate = ["filename\tscene_label"], ["filename\tscene_label"]
            for k, (name, scene) in enumerate(names[:n]):
                os.link(audio / name, root / "audio" / name)
                meta.append(f"audio/{name}\t{scene}\t{name[:-10]}\ta")
                (evaluate if k % round(1 / share) == 0 else train).append(f"audio/{name}\t{scene}")
            (root / "meta.csv").write_text("\n".join(meta) + "\n")
            (root / "evaluation_setup").mkdir()
            (root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(train) + "\n")
            (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("\n".join(evaluate) + "\n")
        folders[n] = root
    return folders


# ---- one measurement (run in a fresh subprocess) --------------------------------------------------------------

def _rss_kb(pid) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid) -> list:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(c) for c in (task / "children").read_text().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def measure(folder, cache):
    """load_data on `folder` with the feature cache in `cache`; prints one JSON line."""
    import resource
    import threading

    os.environ["COMPRESSOR_CACHE"] = str(cache)
    from compressor import families
    from compressor.audio import load_data

    me, peak, stop = os.getpid(), {"total": 0, "self": 0}, threading.Event()

    def sample():
        while not stop.is_set():
            own = _rss_kb(me)
            total = own + sum(_rss_kb(p) for p in _descendants(me))
            peak["total"], peak["self"] = max(peak["total"], total), max(peak["self"], own)
            time.sleep(0.05)

    baseline = _rss_kb(me)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    data = load_data(str(folder), families.get("dcase").data_spec, frontend=FRONTEND)
    seconds = time.perf_counter() - start
    stop.set()
    thread.join()
    features = sum(getattr(data, f"x_{s}").nbytes for s in ("train", "val", "test"))
    from compressor.audio import cache as feature_cache
    manifest = json.loads(next(Path(cache).glob(f"features/*/{feature_cache.MANIFEST}")).read_text())
    print(json.dumps({"seconds": seconds, "peak_total_kb": peak["total"], "peak_self_kb": peak["self"],
                      "maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "baseline_kb": baseline, "feature_bytes": int(features),
                      "clips": sum(len(getattr(data, f"x_{s}")) for s in ("train", "val", "test")),
                      "preparation": data.preparation, "extraction": manifest["stats"]}))


def run_one(folder, cache, jobs=None) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    if jobs:
        env["COMPRESSOR_JOBS"] = str(jobs)
    code = f"from benchmarks.bench_data import measure; measure({str(folder)!r}, {str(cache)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the table ------------------------------------------------------------------------------------------------

def fit_line(xs, ys):
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(slope), float(intercept)


def render(rows, jobs, total_seconds) -> str:
    mb = lambda kb: f"{kb / 1024:,.0f}"
    full = FULL["train"] + FULL["test"]
    lines = [BEGIN, "## 7. Data preparation at size (feature cache, issue 20)", "",
             f"`python -m benchmarks.bench_data` on this machine ({os.cpu_count()} CPUs, {jobs} extraction processes), "
             f"{time.strftime('%Y-%m-%d')}, total {total_seconds / 60:.1f} min, load average at the end "
             f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} (the CPUs are shared: wall times vary by about 2x from "
             "run to run). Generated TAU 2022 Mobile layout "
             "folders: 1 s clips at 44.1 kHz, 24-bit mono, fold1 train / evaluate in the development set's proportion; "
             "`load_data` with the dcase_student_int8 front end (dcase_mel, 80 mels -> 80 x 51 x 1 float32 = 16,320 "
             "bytes a clip), full profile. Each cell is one fresh process (measured): wall time of `load_data`, and "
             "peak RSS sampled every 50 ms over the process and its joblib workers (\"all\") and of the process alone "
             "(getrusage ru_maxrss). Cold: empty feature cache (decode + front end + write); warm: the same folder "
             "again (features read back). Raw audio is what the pre-cache readers held in memory, counted "
             "(clips x 44,100 x 4 bytes).", "",
             "| clips | features (counted) | raw audio (counted) | cold: wall | cold: peak RSS all / process | "
             "warm: wall | warm: peak RSS process | warm: cache |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, w = r["cold"], r["warm"]
        hit = "hit" if any("feature cache hit" in p for p in w["preparation"]) else "MISS"
        lines.append(f"| {r['clips']:,} | {c['feature_bytes'] / 1e6:,.1f} MB | {r['clips'] * RATE * 4 / 1e6:,.0f} MB | "
                     f"{c['seconds']:.1f} s | {mb(c['peak_total_kb'])} / {mb(c['maxrss_self_kb'])} MB | "
                     f"{w['seconds']:.2f} s | {mb(w['maxrss_self_kb'])} MB | {hit} |")
    clips = [r["clips"] for r in rows]
    # the pool's start (workers importing librosa) is a fixed cost; the rest grows with the clips
    start_up = float(np.median([r["cold"]["extraction"]["first_chunk_seconds"] for r in rows]))
    steady = [r["cold"]["extraction"]["seconds"] - r["cold"]["extraction"]["first_chunk_seconds"] for r in rows]
    rate_s, _ = fit_line(clips, steady)
    cold_s, cold_b = rate_s, start_up + float(np.median([r["cold"]["seconds"] - r["cold"]["extraction"]["seconds"]
                                                        for r in rows]))
    warm_s, warm_b = fit_line(clips, [r["warm"]["seconds"] for r in rows])
    rss_s, rss_b = fit_line(clips, [r["cold"]["maxrss_self_kb"] * 1024 for r in rows])
    all_s, all_b = fit_line(clips, [r["cold"]["peak_total_kb"] * 1024 for r in rows])
    warm_rss_s, warm_rss_b = fit_line(clips, [r["warm"]["maxrss_self_kb"] * 1024 for r in rows])
    per_clip = rows[-1]["cold"]["feature_bytes"] / rows[-1]["clips"]
    small, big = rows[0] if len(rows) == 1 else next((r for r in rows if r["clips"] == 1000), rows[0]), rows[-1]
    growth = (big["cold"]["maxrss_self_kb"] - small["cold"]["maxrss_self_kb"]) * 1024
    added = big["cold"]["feature_bytes"] - small["cold"]["feature_bytes"]
    feats_full = full * per_clip
    lines += ["",
              f"Growth of the process's cold peak RSS from {small['clips']:,} to {big['clips']:,} clips: "
              f"{growth / 1e6:,.1f} MB for {added / 1e6:,.1f} MB more features ({growth / added:.2f} x the features' "
              f"growth; acceptance: < 2 x). Least-squares lines over the {len(rows)} sizes (estimated, by linear "
              "fit): cold wall " f"{cold_s * 1000:.2f} ms a clip (extraction after the first chunk, "
              f"{', '.join(f'{s:.2f}' for s in steady)} s) + {cold_b:.1f} s fixed (the worker pool's start and "
              f"first chunk, median), warm wall {warm_s * 1e6:.1f} us a "
              f"clip + {warm_b:.2f} s; cold peak RSS {rss_s:,.0f} bytes a clip (features: {per_clip:,.0f}) + "
              f"{rss_b / 1e6:,.0f} MB; all processes {all_s:,.0f} bytes a clip + {all_b / 1e6:,.0f} MB.", "",
              f"**Extrapolated to the full development set** ({FULL['train']:,} + {FULL['test']:,} = {full:,} clips; "
              "estimated by those lines, on this machine): features "
              f"{feats_full / 1e9:.2f} GB on disk (counted) against {full * RATE * 4 / 1e9:.1f} GB of raw float32 audio "
              f"the readers held before; cold preparation about {(cold_s * full + cold_b) / 60:,.0f} min on {jobs} "
              f"processes, warm about {max(warm_s * full + warm_b, rows[-1]['warm']['seconds']):,.1f} s. Features above the in-memory limit "
              "(min(2 GiB, RAM / 4)) are memory-mapped, not read, so the full set's "
              f"{feats_full / 1e9:.2f} GB stay on disk and training streams them through tf.data; the process's "
              f"cold peak RSS line gives about {(rss_s * full + rss_b) / 1e9:.1f} GB if it held them all (an upper "
              "bound: the memory-mapped pages are file-backed and reclaimable).",
              END]
    return "\n".join(lines)


def write_section(text):
    path = HERE / "results.md"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    from compressor import atomic
    atomic.write_text(path, new)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    ap.add_argument("--work", default="/tmp/compressor_bench_data")
    ap.add_argument("--jobs", type=int, default=None, help="extraction processes (default: the cores)")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave results.md as it is")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    work = Path(args.work)
    folders = make_folders(work, sorted(args.sizes))
    from compressor.audio.cache import jobs as default_jobs
    jobs = args.jobs or default_jobs()
    rows = []
    for n in sorted(args.sizes):
        cache = work / f"cache_{n}"
        shutil.rmtree(cache, ignore_errors=True)
        cold = run_one(folders[n], cache, args.jobs)
        warm = run_one(folders[n], cache, args.jobs)
        rows.append({"clips": n, "cold": cold, "warm": warm})
        print(f"{n:>6,} clips: cold {cold['seconds']:.1f} s, peak RSS {cold['maxrss_self_kb'] / 1024:.0f} MB "
              f"(all {cold['peak_total_kb'] / 1024:.0f} MB); warm {warm['seconds']:.2f} s, "
              f"{warm['maxrss_self_kb'] / 1024:.0f} MB", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    text = render(rows, jobs, time.perf_counter() - start)
    print(text)
    if not args.no_write:
        write_section(text)
    (work / "bench_data.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
