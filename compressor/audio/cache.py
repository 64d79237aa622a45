"""The feature cache: a folder's clips decoded and put through the front end in bounded chunks, in parallel over the
cores (joblib), the features written to disk once and read back on every later run (memory-mapped when they are
larger than IN_MEMORY_MAX_BYTES). Memory holds features, never the whole raw audio: a worker holds one chunk of
CHUNK clips at a time and the main process appends each chunk's features to its file as it arrives.

A cache is one folder, a *slot*, under cache_dir()/features/, named by the data folder's path, the family's data
spec, the front end's parameters, the quick profile and the seed. Its manifest.json holds the full key - those plus
the folder's listing (every file's relative name, size and mtime) and CODE_VERSION - and each array's shape and byte
size. A slot is trusted only when its manifest's key equals the key computed now and every array file has exactly its
recorded size; anything else (a touched or added WAV, another front end, a cut-short file, an older code version, a
manifest that does not parse) is a miss: the slot is deleted and rebuilt, and the report says why. A slot is built in
a hidden folder beside it and renamed into place only when every file is written (compressor/atomic.py), so an
interrupted extraction (Ctrl-C, a crash, a killed process) leaves no slot a later run would trust.
"""

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import BadInput
from . import frontends, readers

CODE_VERSION = 1        # bump when decoding, the front ends or this file's format change: older slots are rebuilt
CHUNK = 32              # clips a worker decodes and transforms at once (1 s at 44.1 kHz: 5.6 MB of float32 audio)
PARALLEL_FROM = 128     # fewer clips than this are extracted in this process (a worker pool costs seconds to start)
PROGRESS_FROM = 1000    # a progress bar when stderr is a terminal, or when at least this many clips are extracted
SPLITS = readers.SPLITS
MANIFEST = "manifest.json"


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


# Features up to this many bytes are read into memory; larger caches are memory-mapped (copy-on-write: the file is
# never changed) and training streams them through tf.data (compressor.methods.fit.as_dataset).
IN_MEMORY_MAX_BYTES = min(2 << 30, _physical_memory() // 4)


def cache_root() -> Path:
    return Path(os.environ.get("COMPRESSOR_CACHE") or Path.home() / ".cache" / "compressor") / "features"


def jobs() -> int:
    """Worker processes for extraction: COMPRESSOR_JOBS, else the cores this process may run on."""
    if os.environ.get("COMPRESSOR_JOBS"):
        return max(1, int(os.environ["COMPRESSOR_JOBS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# ---- clips to fixed-length pieces (shared with compressor.audio.dataset) -----------------------------------------

def fixed(clips, length):
    """Each clip padded with zeros or trimmed to `length` samples, stacked."""
    out = np.zeros((len(clips), length), np.float32)
    for i, c in enumerate(clips):
        out[i, : min(length, c.size)] = c[:length]
    return out


def windows(clips, length):
    """Consecutive non-overlapping windows of each clip; a tail shorter than half a window is dropped."""
    pieces = []
    for c in clips:
        for start in range(0, max(c.size, 1), length):
            if start == 0 or c.size - start >= length // 2:
                pieces.append(c[start:start + length])
    return fixed(pieces, length)


# ---- the key --------------------------------------------------------------------------------------------------

def folder_listing(folder) -> dict:
    """Every file under `folder` (hidden ones aside): a digest of (relative name, size, mtime in ns), their count and
    bytes. Any file added, removed, rewritten or touched changes the digest."""
    folder = Path(folder)
    h, count, total = hashlib.sha256(), 0, 0
    stack = [folder]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        for e in entries:
            if e.is_dir(follow_symlinks=True):
                stack.append(Path(e.path))
            elif e.is_file(follow_symlinks=True):
                st = e.stat(follow_symlinks=True)
                rel = Path(e.path).relative_to(folder).as_posix()
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
                count += 1
                total += st.st_size
    return {"digest": h.hexdigest(), "files": count, "bytes": total}


def _slot_key(folder, spec, params, layout, quick, seed) -> dict:
    """Everything that decides the features except the folder's contents and the code version."""
    return {"folder": str(Path(folder).resolve()), "layout": layout, "frontend": params,
            "spec": {"family": spec.family, "windowed": spec.windowed, "channel_axis": spec.channel_axis,
                     "probe_from_classes": spec.probe_from_classes},
            "quick": bool(quick), "seed": int(seed)}


def _slot_path(slot_key) -> Path:
    digest = hashlib.sha256(json.dumps(slot_key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root() / f"{slot_key['spec']['family']}-{slot_key['frontend']['name']}-{digest}"


# ---- what prepare() hands back --------------------------------------------------------------------------------

@dataclass
class Features:
    """Front-end features by name (x_train, x_val, x_test; probe_x_train, probe_x_test when asked), the changes the
    reading made to the audio (dataset.Dataset.changes), and how they were prepared (Dataset.preparation)."""
    arrays: dict
    changes: list
    preparation: list
    path: Path
    hit: bool
    stats: dict = field(default_factory=dict)


def prepare(folder, spec, params, listing: readers.Listing, *, layout, quick, seed, window,
            change_lines) -> Features:
    """The features of `listing`'s clips, from the cache when it holds exactly them, else extracted and cached.
    `change_lines(stats)` -> the Dataset.changes lines of an extraction (stored in the manifest, so a cache hit
    reports the same changes)."""
    slot_key = _slot_key(folder, spec, params, layout, quick, seed)
    path = _slot_path(slot_key)
    key = {"code": CODE_VERSION, "chunk": CHUNK, **slot_key, "listing": folder_listing(folder)}
    manifest, reason = _trusted(path, key)
    if manifest is not None:
        arrays, mapped = _open(path, manifest)
        st = manifest["stats"]
        lines = [f"feature cache hit: {_count(st['clips'])} clips' {params['name']} features read from {path} "
                 f"({_mb(manifest['bytes'])}); decoding skipped (the extraction that wrote them took "
                 f"{_s(st['seconds'])}, measured then)"]
        return Features(arrays, list(manifest["changes"]), listing.skipped + lines + mapped, path, True, st)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)      # a stale or partial slot is never read again, and frees its disk
    _prune(path)
    stats = _extract(path, key, spec, params, listing, window, change_lines)
    manifest, problem = _trusted(path, key)
    if manifest is None:    # only if someone changed the folder or the slot while we wrote it
        raise BadInput(f"--data {folder}: the feature cache {path} did not verify after writing it ({problem}); "
                       "was the folder changed during extraction?")
    arrays, mapped = _open(path, manifest)
    per_split = ", ".join(f"{len(listing.files[s]):,} {s}" for s in SPLITS)
    lines = [f"read {_count(stats['clips'])} clips ({per_split}) and extracted {params['name']} features in "
             f"{_s(stats['seconds'])} on {stats['jobs']} process{'es' if stats['jobs'] > 1 else ''} "
             f"(measured, wall clock)",
             f"feature cache miss ({reason}): features written to {path} ({_mb(manifest['bytes'])})"]
    return Features(arrays, list(manifest["changes"]), listing.skipped + lines + mapped, path, False, stats)


def _count(n) -> str:
    return f"{n:,}"


def _mb(n) -> str:
    return f"{n / 1e3:,.1f} kB" if n < 1e6 else f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def _s(seconds) -> str:
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:,.0f} s"


# ---- reading and checking a slot ------------------------------------------------------------------------------

def _trusted(path, key):
    """(manifest, None) when the slot at `path` holds exactly `key`'s features, else (None, why not)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        return None, "no cache yet" if not path.exists() else "no manifest: an unfinished cache"
    except (OSError, ValueError) as e:
        return None, f"unreadable manifest ({type(e).__name__})"
    old = manifest.get("key") if isinstance(manifest, dict) else None
    if not isinstance(old, dict):
        return None, "unreadable manifest (no key)"
    if old.get("code") != key["code"] or old.get("chunk") != key["chunk"]:
        return None, (f"written by cache format {old.get('code')} in chunks of {old.get('chunk')} clips; this code "
                      f"writes format {key['code']} in chunks of {key['chunk']}")
    if old.get("frontend") != key["frontend"]:
        return None, f"written for another front end ({_frontend_diff(old.get('frontend'), key['frontend'])})"
    if old.get("listing") != key["listing"]:
        was, now = old.get("listing") or {}, key["listing"]
        what = (f"{now['files']:,} files now, {was.get('files', 0):,} then" if was.get("files") != now["files"]
                else "a file was rewritten or touched (same names; sizes or modification times differ)")
        return None, f"the folder changed since it was written: {what}"
    if old != key:
        changed = sorted(k for k in set(old) | set(key) if old.get(k) != key.get(k))
        return None, f"written for other settings ({', '.join(changed)})"
    for name, a in manifest.get("arrays", {}).items():
        f = path / f"{name}.f32"
        expected = int(np.prod(a["shape"])) * np.dtype(a["dtype"]).itemsize
        try:
            size = f.stat().st_size
        except OSError:
            return None, f"{f.name} missing"
        if size != expected or a.get("bytes") != expected:
            return None, f"{f.name} is cut short or damaged ({size:,} bytes, {expected:,} expected)"
    return manifest, None


def _frontend_diff(old, new) -> str:
    if not isinstance(old, dict):
        return "no front end recorded"
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) and k != "shape"]
    return ", ".join(f"{k} {old.get(k)!r} then, {new.get(k)!r} now" for k in keys) or "shape"


def _open(path, manifest):
    """The slot's arrays: read into memory when small, else memory-mapped copy-on-write (the file never changes)."""
    mapped = manifest["bytes"] > IN_MEMORY_MAX_BYTES
    arrays = {}
    for name, a in manifest["arrays"].items():
        f, shape, dtype = path / f"{name}.f32", tuple(a["shape"]), np.dtype(a["dtype"])
        if mapped and np.prod(shape):
            arrays[name] = np.memmap(f, dtype=dtype, mode="c", shape=shape)
        else:
            arrays[name] = np.fromfile(f, dtype=dtype).reshape(shape)
    lines = [f"features memory-mapped from the cache, not read into memory ({_mb(manifest['bytes'])} > "
             f"{_mb(IN_MEMORY_MAX_BYTES)}); training streams them through tf.data"] if mapped else []
    return arrays, lines


def _prune(keep):
    """Remove slots whose data folder no longer exists, and unfinished builds (hidden *.part folders) older than a
    day: a cache never grows with folders that are gone."""
    root = cache_root()
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        if entry == keep:
            continue
        try:
            if entry.name.startswith(".") and entry.name.endswith(".part"):
                if now - entry.stat().st_mtime > 86400:
                    shutil.rmtree(entry, ignore_errors=True)
                continue
            manifest = json.loads((entry / MANIFEST).read_text())
            if not Path(manifest["key"]["folder"]).exists():
                shutil.rmtree(entry, ignore_errors=True)
        except (OSError, ValueError, KeyError, TypeError):
            continue


# ---- extraction -----------------------------------------------------------------------------------------------

def _chunk(paths, rate, params, window, windowed, probe, channel_axis):
    """One chunk of clips, decoded and through the front end (runs in a worker process). Returns (features by
    name, [(native rate, channels)] per clip, clip lengths in samples at `rate`)."""
    seen = []
    clips = [readers.load_wav(p, rate, seen) for p in paths]
    sizes = [int(c.size) for c in clips]
    out = {"x": frontends.apply(params, windows(clips, window) if windowed else fixed(clips, window), rate)}
    if probe:
        out["probe_x"] = frontends.apply(params, fixed(clips, window), rate)
    out = {k: np.asarray(v, np.float32) for k, v in out.items()}
    if channel_axis:    # a channel axis for Conv2D models; the probe's features stay as the front end gives them
        out["x"] = out["x"][..., None]
    return out, seen, sizes


def _extract(path, key, spec, params, listing, window, change_lines) -> dict:
    """Extract every listed clip into a staged copy of the slot, then move it into place (atomic.staged_dir)."""
    rate = params["sample_rate"]
    probe_splits = ("train", "test") if spec.windowed and spec.probe_from_classes and listing.labels is not None \
        else ()
    tasks = [(s, listing.files[s][i:i + CHUNK]) for s in SPLITS for i in range(0, len(listing.files[s]), CHUNK)]
    total = listing.count()
    n_jobs = jobs() if total >= PARALLEL_FROM else 1
    args = [(paths, rate, params, window, spec.windowed, s in probe_splits, spec.channel_axis) for s, paths in tasks]
    start = time.perf_counter()
    stats = {"seen": [], "sizes": {s: [] for s in SPLITS}}
    with atomic.staged_dir(path) as stage:
        files, shapes = {}, {}
        try:
            for s in SPLITS:
                files[f"x_{s}"] = open(stage / f"x_{s}.f32", "wb")
            for s in probe_splits:
                files[f"probe_x_{s}"] = open(stage / f"probe_x_{s}.f32", "wb")
            bar = _progress(total, f"{params['name']} features")
            try:
                for (split, paths), (out, seen, sizes) in zip(tasks, _run(args, n_jobs)):
                    for name, x in out.items():
                        full = f"{name}_{split}"
                        if not np.isfinite(x).all():
                            raise BadInput(f"{_where(paths)}: {full} holds NaN or infinite values after the front "
                                           "end; check the audio")
                        files[full].write(np.ascontiguousarray(x, np.float32).tobytes())
                        rows, inner = shapes.get(full, (0, x.shape[1:]))
                        shapes[full] = (rows + len(x), x.shape[1:])
                    if "first" not in stats:    # pool start + one chunk: the rest is the steady rate
                        stats["first"] = time.perf_counter() - start
                    stats["seen"] += seen
                    stats["sizes"][split] += sizes
                    if bar is not None:
                        bar.update(len(paths))
            finally:
                if bar is not None:
                    bar.close()
            for f in files.values():
                f.flush()
                os.fsync(f.fileno())
        finally:
            for f in files.values():
                f.close()
        seconds = time.perf_counter() - start
        feature_shape = _feature_shape(params, spec)
        arrays = {}
        for name in files:
            rows, inner = shapes.get(name, (0, feature_shape if name.startswith("x_") else params["shape"]))
            shape = [rows, *inner]
            arrays[name] = {"shape": shape, "dtype": "float32", "bytes": int(np.prod(shape)) * 4}
        summary = {"clips": total, "seconds": round(seconds, 3), "jobs": n_jobs,
                   "first_chunk_seconds": round(stats.get("first", seconds), 3),
                   "per_split": {s: len(listing.files[s]) for s in SPLITS},
                   "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        manifest = {"key": key, "arrays": arrays, "bytes": sum(a["bytes"] for a in arrays.values()),
                    "changes": change_lines(stats), "stats": summary}
        atomic.write_text(stage / MANIFEST, json.dumps(manifest, indent=1))   # last: a slot without it is unfinished
    return summary


def _feature_shape(params, spec):
    shape = list(params["shape"])
    if params["name"] == "raw_waveform" or not spec.channel_axis:
        return shape
    return shape + [1]


def _where(paths) -> str:
    return f"{Path(paths[0]).parent}" if len(paths) == 1 else f"one of {paths[0]} ... {Path(paths[-1]).name}"


def _run(args, n_jobs):
    """The chunks' results in order: in this process, or from a joblib (loky) pool that keeps at most 2 chunks
    per worker in flight, so memory stays bounded whatever the number of clips."""
    if n_jobs <= 1:
        for a in args:
            yield _chunk(*a)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)
    yield from parallel(delayed(_chunk)(*a) for a in args)


def _progress(total, what):
    """A tqdm bar (counts, rate, ETA) on a terminal, or in a log when the extraction is long; None otherwise."""
    tty = sys.stderr.isatty()
    if not (tty or total >= PROGRESS_FROM):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="clip", desc=f"decoding + {what}", file=sys.stderr, dynamic_ncols=tty,
                mininterval=0.5 if tty else 15.0, leave=tty)
