"""Dataset readers for real folder layouts. Each returns raw audio (mono, resampled to the rate asked for) and
labels; the family's front end is applied later (compressor.audio.dataset).

Layouts, detected by `detect_layout`:
  tau        TAU Urban Acoustic Scenes 2022 Mobile: meta.csv + evaluation_setup/fold1_train.csv and
             fold1_evaluate.csv (tab separated, header `filename<TAB>scene_label`), paths relative to the folder
  paired     dry/wet pairs for effects: `<name>-input.wav` + `<name>-target.wav` (optionally in train/ val/ test/),
             or input/ and target/ folders holding files of the same names
  classes    one folder per class holding WAVs (Speech Commands style; validation_list.txt / testing_list.txt
             honoured when present, folders starting with "_" such as _background_noise_ skipped)
  unlabeled  WAVs directly in the folder (CAE, MAE)
"""

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from ..errors import BadInput

LAYOUTS = ("tau", "paired", "classes", "unlabeled")
EXPECTED = ("a TAU Urban Acoustic Scenes folder (meta.csv + evaluation_setup/fold1_train.csv), "
            "effects pairs (*-input.wav + *-target.wav, or input/ + target/), "
            "a folder of class folders of .wav files, or a folder of .wav files")
SPLITS = ("train", "val", "test")


@dataclass
class Clips:
    """Raw audio by split. `audio[split]` is a list of 1-D float32 arrays at `sample_rate`; `labels[split]` class
    indices into `classes` (None when unlabeled)."""
    sample_rate: int
    audio: dict
    labels: dict | None = None
    classes: list | None = None
    info: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)     # what reading changed in the audio, one line each (counts)


@dataclass
class Listing:
    """What a layout's reader would decode, without decoding it: `files[split]` paths, `labels[split]` class
    indices into `classes` (None when unlabeled). `changes`: what the listing changed (the quick profile's cap);
    `skipped`: files or folders left out, each line with the reason. `decode` turns it into Clips; the feature
    cache (compressor.audio.cache) streams it in chunks instead."""
    files: dict
    labels: dict | None = None
    classes: list | None = None
    info: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def count(self) -> int:
        return sum(len(self.files[s]) for s in SPLITS)


def decode(listing: Listing, sample_rate) -> Clips:
    """Every listed file decoded into memory (small folders and tests; the cache streams large ones)."""
    seen = []
    audio = {s: [load_wav(p, sample_rate, seen) for p in listing.files[s]] for s in SPLITS}
    return Clips(sample_rate, audio, listing.labels, listing.classes, dict(listing.info),
                 listing.changes + reading_changes(seen, sample_rate))


@dataclass
class Pairs:
    """Dry/wet audio by split for effects: `dry[split]`, `wet[split]` 1-D float32 arrays of equal length."""
    sample_rate: int
    dry: dict
    wet: dict
    info: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)


# Float WAV full scale is 1.0; a peak this far above it (40 dB) is a corrupt or mis-scaled file, not audio.
MAX_PEAK = 100.0
# Native rates outside this range are corrupt headers; resampling from them would be absurd (or divide by zero).
RATE_RANGE = (1000, 768000)
# Data-chunk sizes that streaming recorders write when the length is unknown: not a truncation.
UNKNOWN_LENGTH = (0, 0xFFFFFFFF, 0x7FFFFFFF)


def load_wav(path, sample_rate, seen=None):
    """Mono mixdown and resampling by librosa after soundfile decodes the file. Every way a file can be unusable -
    empty, not audio, truncated, a corrupt header, NaN/inf or absurdly large samples - is a BadInput naming it.
    `seen`, a list, gets (native rate, channels) of the file, for `reading_changes`."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except (OSError, ValueError) as e:
        raise BadInput(f"{path}: cannot open ({_reason(e)})") from None
    if size == 0:
        raise BadInput(f"{path}: empty file (0 bytes)")
    try:
        with sf.SoundFile(path) as f:
            _check_header(path, f)
            audio = f.read(dtype="float32", always_2d=True).T  # (channels, samples), librosa's layout
            native = f.samplerate
    except BadInput:
        raise
    except Exception as e:  # libsndfile raises several types; the user needs the file name and the reason
        raise BadInput(f"{path}: cannot read audio ({_reason(e)})") from None
    if audio.size == 0:
        raise BadInput(f"{path}: no audio samples (empty or header-only WAV)")
    bad = int(np.count_nonzero(~np.isfinite(audio)))
    if bad:
        raise BadInput(f"{path}: {bad} NaN or infinite sample(s); expected finite audio")
    peak = float(np.abs(audio).max())
    if peak > MAX_PEAK:
        raise BadInput(f"{path}: sample peak {peak:.3g}; expected audio within [-1, 1] (at most {MAX_PEAK:g})")
    if seen is not None:
        seen.append((native, audio.shape[0]))
    mono = librosa.to_mono(audio)
    if native != sample_rate:
        mono = librosa.resample(mono, orig_sr=native, target_sr=sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def reading_changes(seen, sample_rate) -> list:
    """What load_wav changed in the files `seen` ((native rate, channels) each), one line per kind of change with
    counts: the user is told, never left to find out (a 48 kHz recording silently trained at 16 kHz)."""
    lines, n = [], len(seen)
    rates = Counter(rate for rate, _ in seen if rate != sample_rate)
    if rates:
        origin = " and ".join(f"{rate:,} Hz" + (f" ({k})" if len(rates) > 1 else "")
                              for rate, k in sorted(rates.items()))
        lines.append(f"resampled {sum(rates.values())} of {n} WAVs from {origin} to {sample_rate:,} Hz")
    channels = Counter(c for _, c in seen if c > 1)
    if channels:
        origin = " and ".join(("stereo" if c == 2 else f"{c} channels") + (f" ({k})" if len(channels) > 1 else "")
                              for c, k in sorted(channels.items()))
        lines.append(f"mixed {sum(channels.values())} of {n} WAVs from {origin} to mono (mean of the channels)")
    return lines


def _limit_line(available, chosen):
    """The quick profile reads at most MAX_READ_PER_SPLIT files per split: say so when that left files out."""
    if all(len(chosen[s]) == len(available[s]) for s in SPLITS):
        return []
    parts = ", ".join(f"{len(chosen[s])} of {len(available[s])} {s}" for s in SPLITS)
    return [f"read only the first {parts} files (quick profile)"]


def _cap_skipped(available, chosen) -> list:
    """The files the quick profile's cap left out, as a `skipped` line."""
    left = sum(len(available[s]) - len(chosen[s]) for s in SPLITS)
    return [f"skipped {left:,} files beyond the quick profile's first {max(len(chosen[s]) for s in SPLITS)} a split"] \
        if left else []


def _hidden_skipped(folder) -> list:
    """Class-folder layouts leave out folders starting with "_" or "." (Speech Commands' _background_noise_)."""
    lines = []
    for d in sorted(p for p in Path(folder).iterdir() if p.is_dir() and p.name.startswith(("_", "."))):
        n = len(_wavs(d))
        if n:
            lines.append(f"skipped {n} WAVs in {d.name}/ (folders starting with '_' or '.' are not classes)")
    return lines


def _check_header(path, f):
    """Sample rate in range, and no truncation. libsndfile reads a truncated WAV silently, but its log says
    `data : <declared> (should be <present>)`: we turn that into an error rather than train on half a file."""
    if not RATE_RANGE[0] <= f.samplerate <= RATE_RANGE[1]:
        raise BadInput(f"{path}: sample rate {f.samplerate} Hz in the header; expected {RATE_RANGE[0]} to "
                       f"{RATE_RANGE[1]} Hz")
    found = re.search(r"^data\s*:\s*(\d+) \(should be (\d+)\)", f.extra_info, re.MULTILINE)
    if found:
        declared, present = int(found.group(1)), int(found.group(2))
        if present < declared and declared not in UNKNOWN_LENGTH:
            raise BadInput(f"{path}: truncated: the header declares {declared} bytes of samples, the file holds "
                           f"{present}")


def _reason(e):
    text = str(e).splitlines()[0].strip() if str(e).strip() else ""
    text = re.sub(r"^Error opening '.*?': ", "", text)  # soundfile repeats the path the message already names
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _wavs(folder):
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() == ".wav")


def _class_dirs(folder):
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and _wavs(p))


def detect_layout(folder) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"--data {folder}: {'not a folder (a file)' if folder.exists() else 'no such folder'}")
    if (folder / "meta.csv").is_file() or (folder / "evaluation_setup").is_dir():
        return "tau"
    if (folder / "input").is_dir() and (folder / "target").is_dir():
        return "paired"
    if any(p.name.endswith("-input.wav") for d in (folder, *(folder / s for s in SPLITS)) if d.is_dir()
           for p in _wavs(d)):
        return "paired"
    if _class_dirs(folder):
        return "classes"
    if _wavs(folder):
        return "unlabeled"
    entries = list(folder.iterdir())
    dirs = sum(p.is_dir() for p in entries)
    raise BadInput(f"--data {folder}: unrecognised layout (found {len(entries) - dirs} files, none .wav, and {dirs} "
                   f"folders without .wav files); expected {EXPECTED}")


# ---- TAU Urban Acoustic Scenes 2022 Mobile -------------------------------------------------------------------

def _read_tau_csv(path, required):
    if not path.is_file():
        raise BadInput(f"{path}: missing (TAU layout needs meta.csv and evaluation_setup/fold1_train.csv, "
                       "fold1_evaluate.csv)")
    rows = list(csv.reader(_read_text(path).splitlines(), delimiter="\t"))
    if not rows or not set(required) <= set(rows[0]):
        found = rows[0] if rows else []
        raise BadInput(f"{path}: expected a tab-separated header with columns {', '.join(required)}; "
                       f"found {found[:4] if len(found) > 1 else found}")
    header = rows[0]
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise BadInput(f"{path}: line {n}: expected {len(header)} tab-separated fields, found {len(row)}")
        out.append(dict(zip(header, row)))
    return out


def _read_text(path):
    """UTF-8 text (a leading BOM, as spreadsheet programs write, is dropped); anything else is a BadInput."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({_reason(e)})") from None
    if "\0" in text:
        raise BadInput(f"{path}: contains NUL bytes; expected a text file")
    return text


def _tau_audio(folder, name, listed_in):
    """The audio file a TAU CSV names, which must be a relative path inside the dataset folder."""
    rel = Path(name)
    if not name or rel.is_absolute() or ".." in rel.parts:
        raise BadInput(f"{listed_in}: filename '{name}': expected a path relative to {folder}")
    path = folder / rel
    try:
        present = path.is_file()
    except OSError as e:  # e.g. a name too long for the file system
        raise BadInput(f"{listed_in}: filename '{name[:80]}': {_reason(e)}") from None
    if not present:
        raise BadInput(f"{path}: listed in the TAU metadata but missing")
    return path


def read_tau(folder, sample_rate=44100, *, max_per_split=None, val_fraction=0.1, seed=0) -> Clips:
    """fold1_train -> train and a held-out `val_fraction` of it (by seed), fold1_evaluate -> test; labels and
    devices (`source_label`) from meta.csv."""
    return decode(list_tau(folder, max_per_split=max_per_split, val_fraction=val_fraction, seed=seed), sample_rate)


def list_tau(folder, *, max_per_split=None, val_fraction=0.1, seed=0) -> Listing:
    """read_tau's files, labels and devices, nothing decoded."""
    folder = Path(folder)
    meta = _read_tau_csv(folder / "meta.csv", ("filename", "scene_label", "identifier", "source_label"))
    scene = {r["filename"]: r["scene_label"] for r in meta}
    device = {r["filename"]: r["source_label"] for r in meta}
    classes = sorted(set(scene.values()))
    index = {c: i for i, c in enumerate(classes)}
    folds = {}
    for split, name in (("train", "fold1_train.csv"), ("test", "fold1_evaluate.csv")):
        path = folder / "evaluation_setup" / name
        rows = _read_tau_csv(path, ("filename",))
        for r in rows:
            if r["filename"] not in scene:
                raise BadInput(f"{path}: '{r['filename']}' is not listed in meta.csv")
        folds[split] = [r["filename"] for r in rows]
    rng = np.random.default_rng(seed)
    train = list(rng.permutation(folds["train"]))
    n_val = max(1, int(round(len(train) * val_fraction))) if len(train) > 1 else 0
    names = {"train": train[n_val:], "val": train[:n_val], "test": folds["test"]}
    chosen = {s: names[s] if max_per_split is None else names[s][:max_per_split] for s in SPLITS}
    files = {s: [_tau_audio(folder, f, folder / "meta.csv") for f in chosen[s]] for s in SPLITS}
    labels = {s: np.array([index[scene[f]] for f in chosen[s]], dtype=np.int64) for s in SPLITS}
    devices = {s: [device[f] for f in chosen[s]] for s in SPLITS}
    unused = len(set(scene) - set(folds["train"]) - set(folds["test"]))
    skipped = [f"skipped {unused:,} clips of meta.csv that neither fold1_train.csv nor fold1_evaluate.csv lists"] \
        if unused else []
    return Listing(files, labels, classes, {"layout": "tau", "devices": devices}, _limit_line(names, chosen),
                   skipped + _cap_skipped(names, chosen))


# ---- class folders (Speech Commands style) -------------------------------------------------------------------

def _list_file(folder, name):
    path = folder / name
    return set(_read_text(path).split()) if path.is_file() else None


def read_class_folders(folder, sample_rate=16000, *, max_per_split=None, seed=0, fractions=(0.8, 0.1, 0.1)) -> Clips:
    """Labels from folder names. Splits from validation_list.txt / testing_list.txt when present (Speech Commands),
    otherwise a seeded random split by `fractions`."""
    return decode(list_class_folders(folder, max_per_split=max_per_split, seed=seed, fractions=fractions),
                  sample_rate)


def list_class_folders(folder, *, max_per_split=None, seed=0, fractions=(0.8, 0.1, 0.1)) -> Listing:
    """read_class_folders' files and labels, nothing decoded."""
    folder = Path(folder)
    class_dirs = _class_dirs(folder)
    if len(class_dirs) < 2:
        raise BadInput(f"{folder}: a class-folder layout needs at least 2 folders of .wav files, "
                       f"found {len(class_dirs)}")
    classes = [d.name for d in class_dirs]
    files = [(p, i) for i, d in enumerate(class_dirs) for p in _wavs(d)]
    val_list, test_list = _list_file(folder, "validation_list.txt"), _list_file(folder, "testing_list.txt")
    rng = np.random.default_rng(seed)
    if val_list is not None or test_list is not None:
        def split_of(p):
            rel = p.relative_to(folder).as_posix()
            return "val" if rel in (val_list or ()) else "test" if rel in (test_list or ()) else "train"
        chosen = {s: [(p, c) for p, c in files if split_of(p) == s] for s in SPLITS}
        chosen = {s: [chosen[s][i] for i in rng.permutation(len(chosen[s]))] for s in SPLITS}
    else:
        order = [files[i] for i in rng.permutation(len(files))]
        n_train = int(round(len(order) * fractions[0]))
        n_val = int(round(len(order) * fractions[1]))
        chosen = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    items = {s: chosen[s] if max_per_split is None else chosen[s][:max_per_split] for s in SPLITS}
    files = {s: [p for p, _ in items[s]] for s in SPLITS}
    labels = {s: np.array([c for _, c in items[s]], dtype=np.int64) for s in SPLITS}
    return Listing(files, labels, classes, {"layout": "classes"}, _limit_line(chosen, items),
                   _hidden_skipped(folder) + _cap_skipped(chosen, items))


# ---- unlabeled folder ----------------------------------------------------------------------------------------

def read_unlabeled(folder, sample_rate, *, max_per_split=None, seed=0, fractions=(0.8, 0.1, 0.1)) -> Clips:
    """All WAVs directly in `folder`, split at random by seed."""
    return decode(list_unlabeled(folder, max_per_split=max_per_split, seed=seed, fractions=fractions), sample_rate)


def list_unlabeled(folder, *, max_per_split=None, seed=0, fractions=(0.8, 0.1, 0.1)) -> Listing:
    """read_unlabeled's files, nothing decoded."""
    folder = Path(folder)
    files = _wavs(folder)
    if len(files) < 3:
        raise BadInput(f"{folder}: need at least 3 .wav files (train, val, test), found {len(files)}")
    order = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
    n_train = max(1, int(round(len(order) * fractions[0])))
    n_val = max(1, int(round(len(order) * fractions[1])))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    if not parts["test"]:
        parts["train"], parts["test"] = parts["train"][:-1], parts["train"][-1:]
    items = {s: parts[s] if max_per_split is None else parts[s][:max_per_split] for s in SPLITS}
    return Listing(items, None, None, {"layout": "unlabeled"}, _limit_line(parts, items), _cap_skipped(parts, items))


# ---- paired dry/wet audio (effects) --------------------------------------------------------------------------

def _pair_files(folder):
    """[(input, target)] in `folder`: either input/ + target/ with the same names, or <name>-input/-target.wav."""
    if (folder / "input").is_dir() and (folder / "target").is_dir():
        pairs = []
        for p in _wavs(folder / "input"):
            t = folder / "target" / p.name
            if not t.is_file():
                raise BadInput(f"{p}: no matching target file {t}")
            pairs.append((p, t))
        return pairs
    pairs = []
    for p in _wavs(folder):
        if p.name.endswith("-input.wav"):
            t = p.with_name(p.name[: -len("-input.wav")] + "-target.wav")
            if not t.is_file():
                raise BadInput(f"{p}: no matching target file {t.name}")
            pairs.append((p, t))
    return pairs


def _load_pair(pin, ptarget, sample_rate, seen, cut):
    """(dry, wet) cut to the shorter one's length (within 1%); `cut` gets the samples cut from the longer."""
    dry, wet = load_wav(pin, sample_rate, seen), load_wav(ptarget, sample_rate, seen)
    if abs(len(dry) - len(wet)) > 0.01 * max(len(dry), len(wet)):
        raise BadInput(f"{ptarget}: length {len(wet)} samples does not match its input {pin.name} ({len(dry)})")
    n = min(len(dry), len(wet))
    cut.append(abs(len(dry) - len(wet)))
    return dry[:n], wet[:n]


def _pair_changes(seen, cut, sample_rate):
    lines = reading_changes(seen, sample_rate)
    trimmed = [c for c in cut if c]
    if trimmed:
        lines.append(f"trimmed {len(trimmed)} of {len(cut)} input/target pairs to the shorter file's length "
                     f"(at most {max(trimmed):,} samples cut)")
    return lines


def read_paired(folder, sample_rate=44100, *, fractions=(0.7, 0.15, 0.15)) -> Pairs:
    """Pairs from train/ val/ test/ subfolders when present; otherwise all pairs joined end to end and split in
    time by `fractions` (the source splits 5:42 / 1:24 / 1:04)."""
    folder = Path(folder)
    seen, cut = [], []
    if all((folder / s).is_dir() for s in SPLITS):
        dry, wet = {}, {}
        for s in SPLITS:
            pairs = _pair_files(folder / s)
            if not pairs:
                raise BadInput(f"{folder / s}: no *-input.wav / *-target.wav pairs")
            loaded = [_load_pair(a, b, sample_rate, seen, cut) for a, b in pairs]
            dry[s] = np.concatenate([d for d, _ in loaded])
            wet[s] = np.concatenate([w for _, w in loaded])
        return Pairs(sample_rate, dry, wet, {"layout": "paired", "split": "folders"},
                     _pair_changes(seen, cut, sample_rate))
    pairs = _pair_files(folder)
    if not pairs:
        raise BadInput(f"{folder}: no effects pairs; expected *-input.wav + *-target.wav, input/ + target/, "
                       "or train/ val/ test/ folders of pairs")
    loaded = [_load_pair(a, b, sample_rate, seen, cut) for a, b in pairs]
    dry_all = np.concatenate([d for d, _ in loaded])
    wet_all = np.concatenate([w for _, w in loaded])
    a = int(len(dry_all) * fractions[0])
    b = a + int(len(dry_all) * fractions[1])
    dry = {"train": dry_all[:a], "val": dry_all[a:b], "test": dry_all[b:]}
    wet = {"train": wet_all[:a], "val": wet_all[a:b], "test": wet_all[b:]}
    return Pairs(sample_rate, dry, wet, {"layout": "paired", "split": f"in time {fractions}"},
                 _pair_changes(seen, cut, sample_rate))
