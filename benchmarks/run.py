"""Benchmarks: compressor against the plain tools, what it costs, real time, estimator fidelity.

    .venv/bin/python -m benchmarks.run --quick      # recipes' quick profiles (about 20 minutes on 2 cores)
    .venv/bin/python -m benchmarks.run --full       # full schedules (hours)
    .venv/bin/python -m benchmarks.run --render     # rewrite results.md from results.json

Every job runs in its own process (its peak RSS is its own, read with getrusage(RUSAGE_CHILDREN)); JOBS of them at
once. Writes benchmarks/results.json and benchmarks/results.md.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECIPES = ["fpga_cae_ternary", "fpga_cae_8bit", "dcase_student_int8", "effects_gru_tor", "encodecmae_lite_int8",
           "speech_cnn_int8"]
ZOO = ["cae", "cae_fpga", "dcase_baseline", "dcase_student", "dcase_teacher", "effects_lstm", "effects_gru",
       "encodecmae_lite", "encodecmae_student", "speech_cnn1d"]
TEACHER_WIDTHS = [0.25, 0.5, 1.0]     # model-size scaling of `compress analyze`


def jobs(profile, work):
    full = ["--full"] if profile == "full" else []
    out = []
    for r in RECIPES:
        out.append((f"recipe:{r}", ["benchmarks.bench_recipe", r, str(work / r), str(work / f"{r}.json"), *full]))
    out.append(("fidelity", ["benchmarks.bench_cost", "fidelity", str(work / "fidelity.json")]))
    out.append(("data_scaling", ["benchmarks.bench_cost", "data_scaling", str(work / "data_scaling.json")]))
    for z in ZOO:
        out.append((f"analyze:{z}", ["benchmarks.bench_cost", "analyze", z, str(work / f"analyze_{z}.json")]))
    for w in TEACHER_WIDTHS:
        out.append((f"analyze:dcase_teacher@{w}", ["benchmarks.bench_cost", "analyze", "dcase_teacher", f"width={w}",
                                                   str(work / f"analyze_teacher_{w}.json")]))
    return out


def _result_path(args) -> Path:
    return Path(args[-1] if args[0] == "benchmarks.bench_cost" else args[3])


def _read_result(name, args, log_dir, code=None, seconds=None) -> dict:
    result_path, rss_file = _result_path(args), log_dir / f"{name.replace(':', '_')}.rss"
    result = json.loads(result_path.read_text()) if result_path.is_file() else {"error": f"exit {code}, no result"}
    peak = None
    if rss_file.is_file():
        try:
            peak = int(rss_file.read_text().strip().splitlines()[-1]) / 1024
        except (ValueError, IndexError):
            pass
    meta = log_dir / f"{name.replace(':', '_')}.wall"
    if seconds is None and meta.is_file():     # --collect: what run_job noted when the job ended
        code, seconds = json.loads(meta.read_text())
    result.update(job=name, exit_code=code, wall_s=None if seconds is None else round(seconds, 1),
                  process_peak_rss_mb=peak)
    return result


def run_job(name, args, log_dir):
    """One job in a child process: its wall time and peak RSS (from /usr/bin/time -f %M when present)."""
    cmd = [sys.executable, "-m", *args]
    timer = Path("/usr/bin/time")
    rss_file = log_dir / f"{name.replace(':', '_')}.rss"
    if timer.exists():
        cmd = [str(timer), "-f", "%M", "-o", str(rss_file), *cmd]
    t0 = time.perf_counter()
    with open(log_dir / f"{name.replace(':', '_')}.log", "w") as log:
        code = subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - t0
    (log_dir / f"{name.replace(':', '_')}.wall").write_text(json.dumps([code, seconds]))
    result = _read_result(name, args, log_dir, code, seconds)
    print(f"[{time.strftime('%H:%M:%S')}] {name}: exit {code}, {seconds:.0f} s", flush=True)
    return result


def _span(log_dir) -> float | None:
    """--collect: from the first job's start to the last job's end, from the .wall notes (written at each end)."""
    ends = [(f.stat().st_mtime, json.loads(f.read_text())[1]) for f in log_dir.glob("*.wall")]
    return round(max(e for e, _ in ends) - min(e - s for e, s in ends), 1) if ends else None


def main():
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    mode.add_argument("--render", action="store_true")
    parser.add_argument("--collect", action="store_true", help="with --quick/--full: gather the results the jobs "
                        "under --work have written so far (no wall times) instead of running them")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--note", default="", help="a sentence for the results' header (e.g. how the run went)")
    parser.add_argument("--skip", default="", help="comma-separated job-name prefixes not to run (e.g. recipe:fpga)")
    parser.add_argument("--work", default="/tmp/compressor_bench")
    a = parser.parse_args()
    if a.render:
        from benchmarks.render import write_markdown
        write_markdown(json.loads((HERE / "results.json").read_text()), HERE / "results.md")
        return
    profile = "full" if a.full else "quick"
    work = Path(a.work) / profile
    (work / "logs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    todo = jobs(profile, work)
    skip = tuple(p for p in a.skip.split(",") if p)
    if skip and not a.collect:
        todo = [j for j in todo if not j[0].startswith(skip)]
    if a.collect:
        results = [_read_result(name, args, work / "logs") for name, args in todo]
    else:
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda j: run_job(j[0], j[1], work / "logs"), todo))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    from compressor.record import stack_versions
    data = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "profile": profile, "parallel_jobs": a.jobs, "cpus": os.cpu_count(), "stack": stack_versions(),
            "total_wall_s": _span(work / "logs") if a.collect else round(time.perf_counter() - started, 1), "largest_child_peak_rss_mb": round(children, 1),
            "load_average_at_end": os.getloadavg(), "note": a.note, "jobs": results}
    (HERE / "results.json").write_text(json.dumps(data, indent=1, default=str))
    from benchmarks.render import write_markdown
    write_markdown(data, HERE / "results.md")
    print(f"wrote {HERE / 'results.json'} and results.md")


if __name__ == "__main__":
    main()
