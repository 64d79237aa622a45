"""`load_data`: the one entry point to data. Built-in generators or a folder in a real layout, through the
family's front end, into model-ready float32 arrays.

What differs by family is a `DataSpec` that each family module (compressor/families/) holds; the family modules
also say what their model inputs and targets are. This module names no family: families import audio, never the
other way round.
"""

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import atomic
from ..errors import BadInput
from . import frontends, readers

MAX_READ_PER_SPLIT = {True: 200, False: None}  # files read per split from a folder in quick mode
BUILTIN_VERSION = 4  # bump when a generator changes, so stale caches are not reused
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataSpec:
    """How one family's data is made and read: everything load_data needs that differs by family."""
    family: str                 # names the built-in cache files and Dataset.family
    task: str                   # classification | regression | autoencoder | representation
    frontend: str               # the front end's name (frontends.describe)
    frontend_defaults: dict = field(default_factory=dict)   # the family's defaults; a recipe may override them
    sizes: dict = field(default_factory=dict)   # built-in {quick: (train, val, test)}: clips, or seconds of audio
    generate: Callable | None = None    # (params, quick, seed) -> Dataset: the built-in data (cached here)
    layouts: tuple = ()         # folder layouts it reads (readers.detect_layout's names)
    windowed: bool = False      # long recordings become consecutive front-end windows; labels dropped
    channel_axis: bool = False  # front-end output gets a trailing channel axis (Conv2D models)
    probe_from_classes: bool = False    # class folders give the probe task (extra probe_*) its labels


@dataclass
class Dataset:
    name: str
    family: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list | None
    sample_rate: int
    frontend: dict
    extra: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)     # what loading changed in the user's audio, with counts
    labelled: bool = True       # False: y holds no targets (a user's inputs only); no task figure is measured


def load_data(source, spec: DataSpec, *, quick=False, seed=0, frontend=None) -> Dataset:
    """`source` None or "builtin" -> the spec's generator (cached); a folder -> its layout's reader.
    `spec`: the family's DataSpec (compressor.families.get(name).data_spec).
    `frontend` overrides front-end parameters, e.g. {"n_mels": 40} for the DCASE baseline."""
    if not isinstance(spec, DataSpec):  # a family name, as load_data took before DataSpec
        raise TypeError(f"load_data: expected a DataSpec (compressor.families.get(name).data_spec), got {spec!r}")
    overrides = dict(frontend or {})
    if overrides.pop("name", spec.frontend) != spec.frontend:
        raise BadInput(f"frontend.name: family '{spec.family}' uses '{spec.frontend}', got '{frontend['name']}'")
    params = frontends.describe(spec.frontend, **{**spec.frontend_defaults, **overrides})
    if source is None or source == "builtin" or str(source).startswith("builtin:"):
        return _cached_builtin(spec, params, quick, seed)
    return _from_folder(Path(source).expanduser(), spec, params, quick, seed)


# ---- built-in -------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("COMPRESSOR_CACHE") or Path.home() / ".cache" / "compressor")


def _cached_builtin(spec, params, quick, seed):
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{spec.family}-{'quick' if quick else 'full'}-seed{seed}-v{BUILTIN_VERSION}-{digest}.npz"
    path = cache_dir() / "builtin" / name
    if path.is_file():
        try:
            return _read_npz(path)
        except Exception:  # a corrupt cache entry is regenerated, not fatal
            pass
    data = _generate(spec, params, quick, seed)
    _write_npz(path, data)
    return data


def _generate(spec, params, quick, seed):
    if spec.generate is None:
        raise BadInput(f"family '{spec.family}' has no built-in data; give a folder of audio")
    return spec.generate(params, quick, seed)


def split_seeds(seed) -> list:
    """One independent generator stream per split (train, val, test)."""
    return [seed * 1000 + k for k in range(3)]


# ---- folders --------------------------------------------------------------------------------------------------

LAYOUT_NAMES = {"tau": "a TAU Urban Acoustic Scenes folder", "classes": "a folder of class folders of WAVs",
                "unlabeled": "a folder of WAVs", "paired": "effects pairs (*-input.wav + *-target.wav)"}


def _from_folder(folder, spec, params, quick, seed):
    layout = readers.detect_layout(folder)
    if layout not in spec.layouts:
        wanted = " or ".join(LAYOUT_NAMES[k] for k in spec.layouts) or "no folder (built-in data only)"
        raise BadInput(f"--data {folder}: family '{spec.family}' needs {wanted}; found {LAYOUT_NAMES[layout]}")
    rate = params["sample_rate"]
    limit = MAX_READ_PER_SPLIT[quick]
    if layout == "paired":
        pairs = readers.read_paired(folder, rate)
        data = paired_dataset(str(folder), spec, params, pairs.dry, pairs.wet, {"layout": pairs.info})
        data.changes = pairs.changes + _segment_changes(pairs.dry, params["length"])
        return data
    if layout == "tau":
        clips = readers.read_tau(folder, rate, max_per_split=limit, seed=seed)
    elif layout == "classes":
        clips = readers.read_class_folders(folder, rate, max_per_split=limit, seed=seed)
    else:
        clips = readers.read_unlabeled(folder, rate, max_per_split=limit, seed=seed)
    extra = {"layout": layout}
    every = [c for s in SPLITS for c in clips.audio[s]]
    if spec.windowed:  # long recordings become consecutive front-end windows; labels (if any) dropped
        window = _window_samples(params)
        audio = {s: _windows(clips.audio[s], window) for s in SPLITS}
        changes = clips.changes + _window_changes(every, window, rate)
        if spec.probe_from_classes and clips.labels is not None:  # class folders give the probe task its labels
            for part in ("train", "test"):
                extra[f"probe_x_{part}"] = frontends.apply(params, _fixed(clips.audio[part], window), rate)
                extra[f"probe_y_{part}"] = clips.labels[part].astype(np.float32)
            extra["probe_classes"] = clips.classes
            changes += [f"probe set: {line}" for line in
                        _fit_changes(clips.audio["train"] + clips.audio["test"], window, rate)]
        data = assemble(str(folder), spec, params, audio, extra=extra)
        data.changes = changes
        return data
    if "devices" in clips.info:
        extra.update({f"devices_{s}": np.array(clips.info["devices"][s]) for s in SPLITS})
    window = _window_samples(params)
    audio = {s: _fixed(clips.audio[s], window) for s in SPLITS}
    data = assemble(str(folder), spec, params, audio, clips.labels, clips.classes, extra)
    data.changes = clips.changes + _fit_changes(every, window, rate)
    return data


def _window_samples(params):
    name = params["name"]
    if name == "dcase_mel":
        return params["sample_rate"] * params["seconds"]
    if name == "cae_log_spectrogram":
        return params["hop_length"] * (params["frames"] - 1)
    if name == "mae_mel_frames":
        return int(round(params["seconds"] * params["sample_rate"]))
    return params["length"]


def _fixed(clips, length):
    """Each clip padded with zeros or trimmed to `length` samples, stacked."""
    out = np.zeros((len(clips), length), np.float32)
    for i, c in enumerate(clips):
        out[i, : min(length, c.size)] = c[:length]
    return out


def _seconds(samples, rate) -> str:
    return f"{samples / rate:.3g} s"


def _fit_changes(clips, length, rate) -> list:
    """The line saying what _fixed does to `clips`: how many were padded with zeros and how many trimmed."""
    short = sum(c.size < length for c in clips)
    long = sum(c.size > length for c in clips)
    span = f"{_seconds(length, rate)} ({length:,} samples, the front end's input)"
    if short and long:
        return [f"padded {short} of {len(clips)} clips shorter than {span} with zeros, trimmed {long} longer"]
    if short:
        return [f"padded {short} of {len(clips)} clips shorter than {span} with zeros"]
    if long:
        return [f"trimmed {long} of {len(clips)} clips longer than {span}"]
    return []


def _window_changes(clips, length, rate) -> list:
    """The line saying what _windows does to `clips`: windows cut, last windows padded, short tails dropped."""
    windows = padded = dropped = 0
    for c in clips:
        full, tail = divmod(c.size, length)
        keep_tail = c.size < length or tail >= length // 2      # _windows' rule
        windows += full + (1 if keep_tail and tail else 0) or 1
        padded += bool(keep_tail and tail) or c.size == 0
        dropped += bool(tail and not keep_tail)
    if windows == len(clips) and not padded and not dropped:     # every recording exactly one window
        return []
    line = f"cut {len(clips)} recordings into {windows} windows of {_seconds(length, rate)}"
    if padded:
        line += f"; padded {padded} shorter last windows with zeros"
    if dropped:
        line += f"; dropped {dropped} tails shorter than half a window ({_seconds(length // 2, rate)})"
    return [line]


def _segment_changes(dry, segment) -> list:
    """paired_dataset keeps whole segments: the samples it drops at the end of each split."""
    left = {s: len(dry[s]) % segment for s in SPLITS}
    if not any(left.values()):
        return []
    return [f"dropped the last samples that do not fill a {segment:,}-sample segment: "
            + ", ".join(f"{left[s]:,} of {len(dry[s]):,} {s}" for s in SPLITS)]


def _windows(clips, length):
    """Consecutive non-overlapping windows of each clip; a tail shorter than half a window is dropped."""
    pieces = []
    for c in clips:
        for start in range(0, max(c.size, 1), length):
            if start == 0 or c.size - start >= length // 2:
                pieces.append(c[start:start + length])
    return _fixed(pieces, length)


# ---- assembly -------------------------------------------------------------------------------------------------

def assemble(name, spec, params, audio, labels=None, classes=None, extra=None) -> Dataset:
    """A Dataset from audio per split (and labels per split, or None: the model reconstructs its input)."""
    rate = params["sample_rate"]
    arrays = {}
    for s in SPLITS:
        x = frontends.apply(params, audio[s], rate)
        if spec.channel_axis:
            x = x[..., None]  # a channel axis for Conv2D
        arrays[f"x_{s}"] = x.astype(np.float32)
        arrays[f"y_{s}"] = x.astype(np.float32) if labels is None else labels[s].astype(np.float32)
    for s in SPLITS:
        if len(arrays[f"x_{s}"]) == 0:
            raise BadInput(f"{name}: the {s} split is empty; add more audio")
    _check_finite(name, arrays)
    return Dataset(name, spec.family, spec.task, **arrays, classes=classes, sample_rate=rate,
                   frontend=params, extra=dict(extra or {}))


def paired_dataset(name, spec, params, dry, wet, extra) -> Dataset:
    """A Dataset of dry (x) and wet (y) audio per split, cut into consecutive `params["length"]`-sample segments;
    extra keeps the whole test audio (test_dry, test_wet)."""
    segment = params["length"]
    arrays = {}
    for s in SPLITS:
        n = len(dry[s]) // segment
        if n == 0:
            raise BadInput(f"{name}: the {s} audio is shorter than one {segment}-sample segment")
        arrays[f"x_{s}"] = dry[s][: n * segment].reshape(n, segment, 1).astype(np.float32)
        arrays[f"y_{s}"] = wet[s][: n * segment].reshape(n, segment, 1).astype(np.float32)
    _check_finite(name, arrays)
    extra = dict(extra, test_dry=np.asarray(dry["test"], np.float32), test_wet=np.asarray(wet["test"], np.float32))
    fe = dict(params, segmentation=f"consecutive {segment}-sample segments of the dry (x) and wet (y) audio")
    return Dataset(name, spec.family, spec.task, **arrays, classes=None, sample_rate=params["sample_rate"],
                   frontend=fe, extra=extra)


def _check_finite(name, arrays):
    """The readers refuse non-finite audio; this guards the front-end output too, so nothing NaN is trained on."""
    for key, array in arrays.items():
        if not np.isfinite(array).all():
            raise BadInput(f"{name}: {key} holds NaN or infinite values after the front end; check the audio")


# ---- cache file -----------------------------------------------------------------------------------------------

ARRAY_FIELDS = tuple(f"{xy}_{s}" for s in SPLITS for xy in "xy")


def _write_npz(path, data: Dataset):
    arrays = {k: getattr(data, k) for k in ARRAY_FIELDS}
    arrays.update({f"extra.{k}": v for k, v in data.extra.items() if isinstance(v, np.ndarray)})
    meta = {"name": data.name, "family": data.family, "task": data.task, "classes": data.classes,
            "sample_rate": data.sample_rate, "frontend": data.frontend,
            "extra": {k: v for k, v in data.extra.items() if not isinstance(v, np.ndarray)}}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
    atomic.write_bytes(path, buffer.getvalue())


def _read_npz(path) -> Dataset:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in ARRAY_FIELDS}
        extra = dict(meta.pop("extra"))
        extra.update({k[len("extra."):]: z[k] for k in z.files if k.startswith("extra.")})
    return Dataset(**meta, **arrays, extra=extra)
