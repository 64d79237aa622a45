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
from . import cache, frontends, readers

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
    preparation: list = field(default_factory=list)  # how a folder's features were made: clips read and skipped
    #                            (why), extraction time, feature cache hit or miss (why), one line each


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
    key = {"params": params, "sizes": list(spec.sizes.get(quick, ()))}   # a resized family regenerates its data
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
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


LISTERS = {"tau": readers.list_tau, "classes": readers.list_class_folders, "unlabeled": readers.list_unlabeled}


def _from_folder(folder, spec, params, quick, seed):
    """A folder's Dataset. Paired effects audio (minutes of it) is read whole; every other layout is listed, and
    its clips are decoded and put through the front end in chunks, in parallel, into the feature cache
    (compressor.audio.cache), which a later run reads instead of the audio."""
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
    listing = LISTERS[layout](folder, max_per_split=limit, seed=seed)
    for s in SPLITS:
        if not listing.files[s]:
            raise BadInput(f"{folder}: the {s} split is empty; add more audio")
    window = _window_samples(params)
    probe = spec.windowed and spec.probe_from_classes and listing.labels is not None

    def change_lines(stats):
        """What reading did to the audio, from the extraction's per-clip figures (native rate, channels, length)."""
        lines = listing.changes + readers.reading_changes(stats["seen"], rate)
        sizes = [n for s in SPLITS for n in stats["sizes"][s]]
        if not spec.windowed:
            return lines + _fit_changes(sizes, window, rate)
        lines += _window_changes(sizes, window, rate)
        if probe:
            lines += [f"probe set: {line}" for line in
                      _fit_changes(stats["sizes"]["train"] + stats["sizes"]["test"], window, rate)]
        return lines

    feats = cache.prepare(folder, spec, params, listing, layout=layout, quick=quick, seed=seed, window=window,
                          change_lines=change_lines)
    x = {s: feats.arrays[f"x_{s}"] for s in SPLITS}
    extra = {"layout": layout}
    if spec.windowed:   # long recordings became consecutive front-end windows; labels (if any) dropped
        if probe:       # class folders give the probe task its labels
            for part in ("train", "test"):
                extra[f"probe_x_{part}"] = feats.arrays[f"probe_x_{part}"]
                extra[f"probe_y_{part}"] = listing.labels[part].astype(np.float32)
            extra["probe_classes"] = listing.classes
        labels, classes = None, None
    else:
        labels, classes = listing.labels, listing.classes
        if "devices" in listing.info:
            extra.update({f"devices_{s}": np.array(listing.info["devices"][s]) for s in SPLITS})
    data = from_features(str(folder), spec, params, x, labels, classes, extra)
    data.changes = list(feats.changes)
    data.preparation = list(feats.preparation)
    return data


def from_features(name, spec, params, x, labels=None, classes=None, extra=None) -> Dataset:
    """A Dataset from front-end features per split (arrays or memory maps, checked finite when they were made)
    and labels per split, or None: the model reconstructs its input (y is x; a copy when x is in memory)."""
    arrays = {}
    for s in SPLITS:
        arrays[f"x_{s}"] = x[s]
        if labels is not None:
            arrays[f"y_{s}"] = labels[s].astype(np.float32)
        else:
            arrays[f"y_{s}"] = x[s] if isinstance(x[s], np.memmap) else x[s].copy()
        if len(x[s]) == 0:
            raise BadInput(f"{name}: the {s} split is empty; add more audio")
    return Dataset(name, spec.family, spec.task, **arrays, classes=classes, sample_rate=params["sample_rate"],
                   frontend=params, extra=dict(extra or {}))


def _window_samples(params):
    name = params["name"]
    if name == "dcase_mel":
        return params["sample_rate"] * params["seconds"]
    if name == "cae_log_spectrogram":
        return params["hop_length"] * (params["frames"] - 1)
    if name == "mae_mel_frames":
        return int(round(params["seconds"] * params["sample_rate"]))
    return params["length"]


_fixed = cache.fixed        # each clip padded or trimmed to the front end's input length
_windows = cache.windows    # consecutive windows of each clip


def _size(c) -> int:
    """A clip's length in samples: the clip itself, or its length already counted."""
    return int(c) if isinstance(c, (int, np.integer)) else c.size


def _seconds(samples, rate) -> str:
    return f"{samples / rate:.3g} s"


def _fit_changes(clips, length, rate) -> list:
    """The line saying what _fixed does to `clips`: how many were padded with zeros and how many trimmed."""
    sizes = [_size(c) for c in clips]
    short = sum(n < length for n in sizes)
    long = sum(n > length for n in sizes)
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
        size = _size(c)
        full, tail = divmod(size, length)
        keep_tail = size < length or tail >= length // 2      # _windows' rule
        windows += full + (1 if keep_tail and tail else 0) or 1
        padded += bool(keep_tail and tail) or size == 0
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
            rate = params["sample_rate"]
            raise BadInput(f"{name}: the {s} audio ({len(dry[s]) / rate:.2f} s) is shorter than one {segment:,}-sample "
                           f"segment ({segment / rate:g} s), the length the model trains on: give more audio")
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
