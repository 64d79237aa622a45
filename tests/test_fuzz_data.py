"""The data readers under random and corrupted input (hypothesis, derandomized, fixed example budgets): WAVs cut at
any byte, random bytes, every sample width, NaN/inf/huge samples, empty folders, broken TAU CSVs, and .npy/.npz
files of the wrong kind. Never a traceback: each failure is one BadInput line naming the file."""

import functools
import io
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compressor import data_arrays, families
from compressor.audio import load_data, readers
from compressor.errors import BadInput

FUZZ = settings(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def fuzz(examples):
    return settings(FUZZ, max_examples=examples)


SUBTYPES = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": None, "DOUBLE": None}
RATE = 8000


def wav_bytes(audio, rate=RATE, subtype="PCM_16"):
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def tone(n=800, amp=0.5):
    return (amp * np.sin(np.arange(n) * 0.3)).astype(np.float32)


def expect_clean_error(call, path):
    """`call()` either succeeds or raises one BadInput line naming `path`; anything else fails the test."""
    try:
        return call()
    except BadInput as e:
        message = str(e)
        assert str(path) in message and "\n" not in message, message
        return None


# ---- WAV files ------------------------------------------------------------------------------------------------

@fuzz(60)
@given(subtype=st.sampled_from(sorted(SUBTYPES)), rate=st.sampled_from([8000, 16000, 22050]),
       channels=st.integers(1, 2), n=st.integers(1, 600), seed=st.integers(0, 2**16))
def test_every_sample_width_reads_back(tmp_path, subtype, rate, channels, n, seed):
    audio = np.random.default_rng(seed).uniform(-0.9, 0.9, (n, channels)).astype(np.float32)
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(audio, rate, subtype))
    out = readers.load_wav(path, rate)
    assert out.dtype == np.float32 and out.shape == (n,) and np.isfinite(out).all()
    step = 2.0 ** (1 - SUBTYPES[subtype]) if SUBTYPES[subtype] else 1e-6  # one quantization step of the width
    np.testing.assert_allclose(out, audio.mean(axis=1), atol=2 * step)
    resampled = readers.load_wav(path, 2 * rate)
    assert abs(len(resampled) - 2 * n) <= 1 and np.isfinite(resampled).all()


@fuzz(80)
@given(subtype=st.sampled_from(sorted(SUBTYPES)), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_wavs_are_refused(tmp_path, subtype, cut):
    full = wav_bytes(tone(), subtype=subtype)
    path = tmp_path / "cut.wav"
    path.write_bytes(full[: int(cut * len(full))])
    with pytest.raises(BadInput) as err:
        readers.load_wav(path, RATE)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@fuzz(60)
@given(junk=st.binary(max_size=300), riff=st.booleans())
def test_random_bytes_named_wav_are_refused(tmp_path, junk, riff):
    path = tmp_path / "junk.wav"
    path.write_bytes((b"RIFF\x00\x01\x00\x00WAVEfmt " if riff else b"") + junk)
    with pytest.raises(BadInput) as err:
        readers.load_wav(path, RATE)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@fuzz(120)
@given(subtype=st.sampled_from(sorted(SUBTYPES)), where=st.integers(0, 79), value=st.integers(0, 255))
def test_corrupted_headers_read_finite_audio_or_fail_cleanly(tmp_path, subtype, where, value):
    data = bytearray(wav_bytes(tone(), subtype=subtype))
    data[where] = value
    path = tmp_path / "flip.wav"
    path.write_bytes(bytes(data))
    out = expect_clean_error(lambda: readers.load_wav(path, RATE), path)
    if out is not None:
        assert out.dtype == np.float32 and out.size > 0 and np.isfinite(out).all()
        assert np.abs(out).max() <= readers.MAX_PEAK * 2  # resampling may overshoot a little, never blow up


@fuzz(40)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e6, -3e30, 1e38]), at=st.integers(0, 799),
       subtype=st.sampled_from(["FLOAT", "DOUBLE"]), rate=st.sampled_from([RATE, 16000]))
def test_float_wavs_with_nan_inf_or_huge_samples_are_refused(tmp_path, bad, at, subtype, rate):
    audio = tone()
    audio[at] = bad
    path = tmp_path / "bad.wav"
    path.write_bytes(wav_bytes(audio.astype(np.float64), rate, subtype))
    expected = "NaN or infinite" if not np.isfinite(bad) else "sample peak"
    with pytest.raises(BadInput, match=expected) as err:
        readers.load_wav(path, RATE)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("subtype", sorted(SUBTYPES))
def test_zero_length_wavs_are_refused(tmp_path, subtype):
    path = tmp_path / "empty.wav"
    path.write_bytes(wav_bytes(np.zeros(0, np.float32), subtype=subtype))
    with pytest.raises(BadInput, match=r"empty\.wav: no audio samples"):
        readers.load_wav(path, RATE)
    path.write_bytes(b"")
    with pytest.raises(BadInput, match=r"empty\.wav: empty file \(0 bytes\)"):
        readers.load_wav(path, RATE)


# ---- folders --------------------------------------------------------------------------------------------------

@fuzz(30)
@given(names=st.lists(st.sampled_from(["notes.txt", "a.mp4", "README", "x.WAV.bak", "meta.json", "img.png"]),
                      max_size=4, unique=True),
       subdirs=st.lists(st.sampled_from(["dog", "cat", "_background_noise_", ".git"]), max_size=3, unique=True),
       family=st.sampled_from(["cae", "dcase", "effects", "mae", "speech"]))
def test_empty_folders_and_folders_without_audio_are_refused(names, subdirs, family):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        for name in names:
            (root / name).write_bytes(b"not audio")
        for sub in subdirs:
            (root / sub).mkdir()
            (root / sub / "readme.txt").write_text("no wavs here")
        with pytest.raises(BadInput, match="unrecognised layout") as err:
            load_data(str(root), families.get(family).data_spec, quick=True)
        assert str(root) in str(err.value) and "\n" not in str(err.value)


def test_class_folder_with_a_nan_wav_names_it(tmp_path):
    root = tmp_path / "speech"
    for word in ("yes", "no"):
        (root / word).mkdir(parents=True)
        for i in range(5):
            (root / word / f"{word}_{i}.wav").write_bytes(wav_bytes(tone(), 16000, "FLOAT"))
    audio = tone()
    audio[10] = np.nan
    (root / "no" / "no_2.wav").write_bytes(wav_bytes(audio, 16000, "FLOAT"))
    with pytest.raises(BadInput, match=r"no_2\.wav: 1 NaN or infinite sample"):
        load_data(str(root), families.get("speech").data_spec)


# ---- TAU CSVs -------------------------------------------------------------------------------------------------

def make_tau(root):
    """Two scenes, two tiny clips each; returns the three CSV texts so tests can break them."""
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    train, evaluate = ["filename\tscene_label"], ["filename\tscene_label"]
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    for k, scene in enumerate(("bus", "park")):
        for i in range(3):
            name = f"audio/{scene}-{i}-a.wav"
            (root / name).write_bytes(wav_bytes(tone(400, 0.2 * (k + 1))))
            meta.append(f"{name}\t{scene}\tcity-{i}\ta")
            (evaluate if i == 0 else train).append(f"{name}\t{scene}")
    return {"meta.csv": "\n".join(meta) + "\n", "evaluation_setup/fold1_train.csv": "\n".join(train) + "\n",
            "evaluation_setup/fold1_evaluate.csv": "\n".join(evaluate) + "\n"}


def csv_mutation():
    """How a CSV goes wrong: a dropped column, another separator, an unknown file, foreign bytes, a cut."""
    return st.one_of(
        st.tuples(st.just("drop_column"), st.integers(0, 3)),
        st.tuples(st.just("separator"), st.sampled_from([",", ";", " ", "|", "  "])),
        st.tuples(st.just("unknown_file"), st.sampled_from(["audio/nope.wav", "../outside.wav", "/etc/hostname",
                                                            "", "audio", "a" * 300, "audio/bus-1-a.wav\tx"])),
        st.tuples(st.just("bytes"), st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("cut"), st.floats(0, 1)),
    )


def mutate(text, mutation, position):
    kind, arg = mutation
    data = text.encode()
    if kind == "drop_column":
        return "\n".join("\t".join(c for j, c in enumerate(line.split("\t")) if j != arg)
                         for line in text.splitlines()).encode()
    if kind == "separator":
        return text.replace("\t", arg).encode()
    if kind == "unknown_file":
        lines = text.splitlines()
        fields = lines[-1].split("\t")
        lines[-1] = "\t".join([arg] + fields[1:])
        return ("\n".join(lines) + "\n").encode()
    if kind == "bytes":
        at = int(position * len(data))
        return data[:at] + arg + data[at:]
    return data[: int(arg * len(data))]


@fuzz(120)
@given(which=st.sampled_from(["meta.csv", "evaluation_setup/fold1_train.csv", "evaluation_setup/fold1_evaluate.csv"]),
       mutation=csv_mutation(), position=st.floats(0, 1))
def test_broken_tau_csvs_fail_cleanly(which, mutation, position):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tau"
        texts = make_tau(root)
        for name, text in texts.items():
            (root / name).write_text(text)
        (root / which).write_bytes(mutate(texts[which], mutation, position))
        clips = expect_clean_error(lambda: readers.read_tau(root, RATE), root)
        if clips is not None:  # whatever was accepted is real, labelled, finite audio
            for split in readers.SPLITS:
                assert len(clips.audio[split]) == len(clips.labels[split])
                assert all(np.isfinite(a).all() and a.size for a in clips.audio[split])


@pytest.mark.parametrize("which, mutation, expected", [
    ("meta.csv", ("drop_column", 1), r"meta\.csv: expected a tab-separated header with columns"),
    ("meta.csv", ("separator", ","), r"meta\.csv: expected a tab-separated header"),
    ("evaluation_setup/fold1_train.csv", ("unknown_file", "audio/nope.wav"), r"fold1_train\.csv: 'audio/nope\.wav' "
                                                                             "is not listed in meta.csv"),
    ("meta.csv", ("bytes", b"\xff\xfe"), r"meta\.csv: not UTF-8 text \(byte 0xff"),
    ("meta.csv", ("bytes", b"\x00"), r"meta\.csv: contains NUL bytes"),
])
def test_each_tau_mistake_is_named(tmp_path, which, mutation, expected):
    root = tmp_path / "tau"
    texts = make_tau(root)
    for name, text in texts.items():
        (root / name).write_text(text)
    (root / which).write_bytes(mutate(texts[which], mutation, 0.5))
    with pytest.raises(BadInput, match=expected):
        readers.read_tau(root, RATE)


def test_tau_paths_outside_the_folder_are_refused(tmp_path):
    root = tmp_path / "tau"
    texts = make_tau(root)
    for name, text in texts.items():
        (root / name).write_text(text.replace("audio/park-2-a.wav", "../park-2-a.wav"))
    (tmp_path / "park-2-a.wav").write_bytes(wav_bytes(tone()))
    with pytest.raises(BadInput, match=r"meta\.csv: filename '\.\./park-2-a\.wav': expected a path relative to"):
        readers.read_tau(root, RATE)


# ---- .npy / .npz model inputs ---------------------------------------------------------------------------------

SHAPE = (None, 4, 3)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@fuzz(60)
@given(dtype=st.sampled_from(["bool", "complex64", "U3", "S2", "datetime64[s]", "timedelta64[s]", "V4"]),
       npz=st.booleans())
def test_wrong_dtypes_are_refused(tmp_path, dtype, npz):
    array = np.zeros((2, 4, 3), dtype=dtype)
    path = tmp_path / ("d.npz" if npz else "d.npy")
    path.write_bytes(npz_bytes(x=array) if npz else npy_bytes(array))
    with pytest.raises(BadInput, match="expected integer or float numbers") as err:
        data_arrays.load_inputs(path, SHAPE)
    assert str(path) in str(err.value)


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "o.npy"
    path.write_bytes(npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True))
    with pytest.raises(BadInput, match=r"o\.npy: holds Python objects, which are never loaded"):
        data_arrays.load_inputs(path, SHAPE)
    path = tmp_path / "o.npz"
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([[1, 2], "x"], dtype=object))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(BadInput, match=r"o\.npz: holds Python objects"):
        data_arrays.load_inputs(path, SHAPE)


@fuzz(60)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e300, 1e7, -2e9]), at=st.integers(0, 23),
       dtype=st.sampled_from(["float32", "float64"]), npz=st.booleans())
def test_nan_inf_and_absurd_values_are_refused(tmp_path, bad, at, dtype, npz):
    array = np.random.default_rng(at).standard_normal((2, 4, 3))
    array.flat[at] = bad
    with np.errstate(over="ignore"):
        array = array.astype(dtype)
        stored = np.float32(bad)
    path = tmp_path / ("v.npz" if npz else "v.npy")
    path.write_bytes(npz_bytes(x=array) if npz else npy_bytes(array))
    expected = "NaN or infinite" if not np.isfinite(stored) else "largest magnitude"
    with pytest.raises(BadInput, match=expected) as err:
        data_arrays.load_inputs(path, SHAPE)
    assert str(path) in str(err.value)


@fuzz(60)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple))
def test_any_shape_matches_or_is_refused(tmp_path, shape):
    path = tmp_path / "s.npy"
    path.write_bytes(npy_bytes(np.ones(shape, np.int16)))
    out = expect_clean_error(lambda: data_arrays.load_inputs(path, SHAPE), path)
    fits = shape[-2:] == (4, 3) and len(shape) in (2, 3) and (len(shape) == 2 or shape[0] > 0)
    assert (out is not None) == fits, shape
    if out is not None:
        assert out.dtype == np.float32 and out.shape[1:] == (4, 3)


@fuzz(100)
@given(npz=st.booleans(), cut=st.floats(0, 1, exclude_max=True), junk=st.binary(max_size=16))
@example(npz=False, cut=0.515625, junk=b"\x00" * 12 + b"{")  # found in CI: header cut, NUL bytes (a TokenError)
def test_truncated_or_corrupted_array_files_are_refused(tmp_path, npz, cut, junk):
    array = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    full = npz_bytes(x=array) if npz else npy_bytes(array)
    path = tmp_path / ("t.npz" if npz else "t.npy")
    path.write_bytes(full[: int(cut * len(full))] + junk)
    out = expect_clean_error(lambda: data_arrays.load_inputs(path, SHAPE), path)
    if not junk:  # cut and nothing appended: the data is incomplete, so it must be refused
        assert out is None
    elif out is not None:  # junk may happen to complete the bytes: then it is a finite batch of the right shape
        assert out.shape == (2, 4, 3) and np.isfinite(out).all()


@fuzz(30)
@given(names=st.lists(st.sampled_from(["a", "inputs", "X", "y", "x_train", "data"]), min_size=2, max_size=4,
                      unique=True))
def test_npz_with_several_arrays_none_named_x_is_refused(tmp_path, names):
    path = tmp_path / "many.npz"
    path.write_bytes(npz_bytes(**{n: np.zeros((2, 4, 3), np.float32) for n in names}))
    with pytest.raises(BadInput, match=r"many\.npz: no array named 'x' among " + ", ".join(names)):
        data_arrays.load_inputs(path, SHAPE)


def test_a_file_given_as_the_data_folder_is_named(tmp_path):
    path = tmp_path / "clip.wav"
    path.write_bytes(wav_bytes(tone()))
    with pytest.raises(BadInput, match=r"clip\.wav: not a folder"):
        load_data(str(path), families.get("speech").data_spec)


@fuzz(20)
@given(cut=st.floats(0, 1, exclude_max=True), side=st.sampled_from(["input", "target"]))
def test_effects_pairs_with_a_truncated_file_name_it(cut, side):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fx"
        root.mkdir()
        for name in ("a", "b"):
            for part in ("input", "target"):
                (root / f"{name}-{part}.wav").write_bytes(wav_bytes(tone(3000), 44100))
        broken = root / f"b-{side}.wav"
        broken.write_bytes(broken.read_bytes()[: int(cut * broken.stat().st_size)])
        with pytest.raises(BadInput) as err:
            readers.read_paired(root, 44100)
        assert str(broken) in str(err.value) and "\n" not in str(err.value)


# ---- model files ----------------------------------------------------------------------------------------------
# `compress analyze F` in-process on broken model files: exit 2 with one line naming F (or 0 if the file still holds
# a whole model), never an exception or exit 1.

@functools.lru_cache(maxsize=None)
def model_file_bytes(suffix):
    """A real tiny model saved as .keras or .h5 (fixed layer names, so the HDF5 paths below exist)."""
    from tensorflow import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((8,), name="x")
    y = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.Dense(4, name="hidden")(x))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"m{suffix}"
        with warnings.catch_warnings():   # saving .h5 warns that the format is legacy
            warnings.simplefilter("ignore")
            keras.Model(x, y, name="fuzzed").save(path)
        return path.read_bytes()


def analyze_exit(path, capsys):
    """`compress analyze path` through cli.main: 0, or 2 with one stderr line naming the file."""
    from compressor.cli import main

    code = main(["analyze", str(path), "--target", "cortex-m4"])
    err = capsys.readouterr().err.strip()
    assert code in (0, 2), (code, err)
    if code == 2:
        assert len(err.splitlines()) == 1 and str(path) in err, err
    return code


@fuzz(20)
@given(junk=st.binary(max_size=2000), suffix=st.sampled_from([".keras", ".h5"]),
       head=st.sampled_from([b"", b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"]))
def test_random_bytes_as_a_model_file_are_refused(tmp_path, capsys, junk, suffix, head):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(head + junk)
    assert analyze_exit(path, capsys) == 2


@fuzz(20)
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_keras_zips_are_refused(tmp_path, capsys, cut):
    full = model_file_bytes(".keras")
    path = tmp_path / "cut.keras"
    path.write_bytes(full[: int(cut * len(full))])
    assert analyze_exit(path, capsys) == 2


H5_OBJECTS = ["model_weights", "model_weights/hidden", "model_weights/hidden/hidden", "model_weights/head/head/bias:0",
              "model_weights/hidden/hidden/kernel:0", "model_weights/x", "model_weights/top_level_model_weights"]
H5_ATTRIBUTES = [("/", "model_config"), ("/", "keras_version"), ("/", "backend"), ("model_weights", "layer_names"),
                 ("model_weights/head", "weight_names")]
# deleting these leaves the whole model in the file: analyze may work
H5_HARMLESS = {"model_weights/top_level_model_weights", ("/", "keras_version"), ("/", "backend")}


@fuzz(20)
@given(objects=st.lists(st.sampled_from(H5_OBJECTS), max_size=2, unique=True),
       attributes=st.lists(st.sampled_from(H5_ATTRIBUTES), max_size=2, unique=True),
       kernel=st.sampled_from([None, np.nan, np.inf, -np.inf]))
def test_h5_models_with_groups_or_attributes_missing_are_refused(tmp_path, capsys, objects, attributes, kernel):
    import h5py

    path = tmp_path / "broken.h5"
    path.write_bytes(model_file_bytes(".h5"))
    with h5py.File(path, "a") as f:
        if kernel is not None:
            f["model_weights/hidden/hidden/kernel:0"][0, 0] = kernel
        for name in attributes:
            del f[name[0]].attrs[name[1]]
        for name in sorted(objects, key=len, reverse=True):   # a member before the group that holds it
            if name in f:
                del f[name]
    code = analyze_exit(path, capsys)
    if kernel is not None or not set(objects + attributes) <= H5_HARMLESS:
        assert code == 2, (objects, attributes, kernel)


@fuzz(15)
@given(member=st.sampled_from(["config.json", "metadata.json", "model.weights.h5"]),
       how=st.sampled_from(["drop", "junk", "cut"]), junk=st.binary(min_size=1, max_size=64))
def test_keras_zips_with_a_member_missing_or_broken_fail_cleanly(tmp_path, capsys, member, how, junk):
    path = tmp_path / "members.keras"
    with zipfile.ZipFile(io.BytesIO(model_file_bytes(".keras"))) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == member and how == "drop":
                continue
            dst.writestr(name, junk if name == member and how == "junk" else
                         data[: len(data) // 2] if name == member else data)
    code = analyze_exit(path, capsys)
    if member != "metadata.json":   # Keras does not need the metadata to rebuild the model
        assert code == 2, (member, how)
