"""The feature cache of a WAV folder (compressor/audio/cache.py): a second run reads features only; a touched WAV, a
cut-short cache file, a cache of another front end or an interrupted extraction is never trusted; memory-mapped
features train through tf.data, distillation's teacher outputs included."""

import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from compressor import families
from compressor.audio import cache, load_data, readers
from compressor.errors import BadInput
from compressor.methods import distill as kd
from compressor.methods.fit import as_dataset, fit

SCENES = ["airport", "bus", "park"]
DCASE = families.get("dcase").data_spec


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPRESSOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COMPRESSOR_JOBS", raising=False)


def tone(freq, sr=22050, seconds=1.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_tau(root, n_per_scene=4, unused=0):
    """A tiny TAU 2022 layout (mono 22.05 kHz clips, resampled to 44.1 kHz by the reader); `unused` extra clips
    are in meta.csv but in neither fold."""
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    train, evaluate = ["filename\tscene_label"], ["filename\tscene_label"]
    for k, scene in enumerate(SCENES):
        for i in range(n_per_scene + unused):
            name = f"audio/{scene}-lisbon-{k}{i}-0-a.wav"
            (root / "audio").mkdir(parents=True, exist_ok=True)
            sf.write(root / name, tone(300 * (k + 1) + 20 * i), 22050)
            meta.append(f"{name}\t{scene}\tlisbon-{k}{i}\ta")
            if i < n_per_scene:
                (evaluate if i == 0 else train).append(f"{name}\t{scene}")
    (root / "meta.csv").write_text("\n".join(meta) + "\n")
    (root / "evaluation_setup").mkdir(exist_ok=True)
    (root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(train) + "\n")
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("\n".join(evaluate) + "\n")
    return root


def load(root, **frontend):
    return load_data(str(root), DCASE, frontend={"n_mels": 20, **frontend})


def slots():
    root = cache.cache_root()
    return sorted(p for p in root.iterdir()) if root.is_dir() else []


def said(data, words):
    return [line for line in data.preparation if words in line]


def same_arrays(a, b, exact=True):
    """Equal features; `exact=False` when the chunk size differs (librosa's batched FFTs round differently)."""
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        if exact:
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
        else:
            np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-6, atol=1e-4)


def test_second_run_reads_features_only(tmp_path, monkeypatch):
    root = make_tau(tmp_path / "tau", unused=1)
    first = load(root)
    assert said(first, "feature cache miss (no cache yet)") and said(first, "read 12 clips (8 train, 1 val, 3 test)")
    assert said(first, "skipped 3 clips of meta.csv that neither fold1_train.csv nor fold1_evaluate.csv lists")
    assert first.changes == ["resampled 12 of 12 WAVs from 22,050 Hz to 44,100 Hz"]
    assert len(slots()) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit decoded a WAV")
    monkeypatch.setattr(readers, "load_wav", no_decoding)
    second = load(root)
    assert said(second, "feature cache hit: 12 clips' dcase_mel features read from")
    assert not said(second, "cache miss")
    assert second.changes == first.changes      # what reading did to the audio is still said
    same_arrays(first, second)
    assert second.x_train.shape[1:] == (20, 51, 1) and second.classes == SCENES
    assert list(second.extra["devices_test"]) == ["a"] * 3


def test_touching_or_rewriting_one_wav_rebuilds(tmp_path):
    root = make_tau(tmp_path / "tau")
    first = load(root)
    wav = root / "audio" / "bus-lisbon-10-0-a.wav"      # bus, clip 0: the test split
    st = wav.stat()
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    touched = load(root)
    assert said(touched, "feature cache miss (the folder changed since it was written: a file was rewritten or "
                         "touched")
    same_arrays(first, touched)
    assert said(load(root), "feature cache hit")
    sf.write(wav, tone(3000), 22050)                  # new content: new features, not the cached ones
    rewritten = load(root)
    assert said(rewritten, "feature cache miss")
    assert not np.array_equal(rewritten.x_test, first.x_test)
    np.testing.assert_array_equal(rewritten.x_train, first.x_train)
    (root / "audio" / "extra.wav").write_bytes(wav.read_bytes())   # a file added to the folder
    assert said(load(root), "the folder changed since it was written: 16 files now, 15 then")
    assert len(slots()) == 1                          # rebuilt in place, not beside the stale one


def test_cut_short_cache_file_is_detected_and_rebuilt(tmp_path):
    root = make_tau(tmp_path / "tau")
    first = load(root)
    (slot,) = slots()
    x = slot / "x_train.f32"
    x.write_bytes(x.read_bytes()[:-100])
    again = load(root)
    assert said(again, "feature cache miss (x_train.f32 is cut short or damaged")
    same_arrays(first, again)
    (slot / "manifest.json").write_text('{"key": ')    # a manifest cut short
    assert said(load(root), "feature cache miss (unreadable manifest")
    (slot / "manifest.json").unlink()                  # a slot without its manifest is unfinished
    assert said(load(root), "feature cache miss (no manifest: an unfinished cache)")
    assert said(load(root), "feature cache hit")


def test_cache_of_another_front_end_is_detected_and_rebuilt(tmp_path):
    root = make_tau(tmp_path / "tau")
    forty = load(root, n_mels=40)
    twenty = load(root, n_mels=20)
    assert forty.x_train.shape[1] == 40 and twenty.x_train.shape[1] == 20 and len(slots()) == 2
    slot40 = next(s for s in slots() if s.name.startswith("dcase-dcase_mel") and
                  '"n_mels": 40' in (s / "manifest.json").read_text())
    slot20 = next(s for s in slots() if s != slot40)
    shutil.rmtree(slot40)
    shutil.copytree(slot20, slot40)                    # the n_mels=20 features where the n_mels=40 ones belong
    again = load(root, n_mels=40)
    assert said(again, "feature cache miss (written for another front end (n_mels 20 then, 40 now))")
    assert again.x_train.shape[1] == 40
    same_arrays(forty, again)


def test_interrupted_extraction_leaves_no_cache_a_later_run_trusts(tmp_path, monkeypatch):
    root = make_tau(tmp_path / "tau")
    reference = load(root)
    st = (root / "meta.csv").stat()                    # the folder changes: the next run extracts again
    os.utime(root / "meta.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    monkeypatch.setattr(cache, "CHUNK", 2)
    real_apply, calls = cache.frontends.apply, []

    def ctrl_c_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_apply(*args, **kwargs)
    monkeypatch.setattr(cache.frontends, "apply", ctrl_c_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        load(root)
    assert len(calls) == 3
    assert slots() == []                               # neither the old slot nor a half-written one is left
    monkeypatch.setattr(cache.frontends, "apply", real_apply)
    again = load(root)
    assert said(again, "feature cache miss (no cache yet)")
    same_arrays(reference, again, exact=False)


def test_bad_audio_mid_extraction_is_one_line_and_leaves_no_cache(tmp_path):
    root = make_tau(tmp_path / "tau")
    (root / "audio" / "park-lisbon-22-0-a.wav").write_bytes(b"RIFF not really")
    with pytest.raises(BadInput, match=r"park-lisbon-22-0-a\.wav: cannot read audio"):
        load(root)
    assert slots() == []


def test_parallel_extraction_gives_the_same_features(tmp_path, monkeypatch):
    root = make_tau(tmp_path / "tau")
    alone = load(root)
    shutil.rmtree(cache.cache_root())
    monkeypatch.setattr(cache, "PARALLEL_FROM", 1)
    monkeypatch.setattr(cache, "CHUNK", 3)
    monkeypatch.setenv("COMPRESSOR_JOBS", "2")
    pooled = load(root)
    assert said(pooled, "on 2 processes")
    same_arrays(alone, pooled, exact=False)
    assert pooled.changes == alone.changes


def test_class_folders_say_what_was_skipped_and_why(tmp_path):
    root = tmp_path / "words"
    for label in ("yes", "no"):
        for i in range(5):
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{i}.wav", tone(440 + 100 * i, 16000, 2.0), 16000)
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "noise.wav", tone(100, 16000, 2.0), 16000)
    data = load_data(str(root), families.get("speech").data_spec)
    assert said(data, "skipped 1 WAVs in _background_noise_/ (folders starting with '_' or '.' are not classes)")
    assert data.x_train.shape[1:] == (32000, 1) and data.changes == []


def test_windowed_probe_features_match_reading_the_audio_whole(tmp_path):
    """The MAE on class folders: windows of every recording, and the probe's first windows, as before."""
    root = tmp_path / "sounds"
    for label, amp in (("loud", 0.9), ("quiet", 0.1)):
        for i in range(4):
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{label}_{i}.wav", tone(300 + 50 * i, 8000, 3.5, amp), 8000)
    spec = families.get("mae").data_spec
    data = load_data(str(root), spec)
    params = data.frontend
    listing = readers.list_class_folders(root)
    clips = readers.decode(listing, params["sample_rate"])
    window = int(round(params["seconds"] * params["sample_rate"]))
    expected = cache.frontends.apply(params, cache.windows(clips.audio["train"], window), params["sample_rate"])
    np.testing.assert_allclose(data.x_train, expected, atol=1e-5)
    probe = cache.frontends.apply(params, cache.fixed(clips.audio["test"], window), params["sample_rate"])
    np.testing.assert_allclose(data.extra["probe_x_test"], probe, atol=1e-5)
    assert data.changes[-2:] == ["cut 8 recordings into 16 windows of 2 s; padded 8 shorter last windows with "
                                 "zeros",
                                 "probe set: trimmed 7 of 7 clips longer than 2 s (48,000 samples, the front end's "
                                 "input)"]


def test_memory_mapped_features_train_and_distill_through_tf_data(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "IN_MEMORY_MAX_BYTES", 0)
    root = make_tau(tmp_path / "tau", n_per_scene=6)
    data = load(root)
    assert isinstance(data.x_train, np.memmap) and said(data, "features memory-mapped from the cache")
    # every example once an epoch, paired with its own label, in an order the seed decides
    ds = as_dataset((data.x_train, data.y_train), 4, shuffle_seed=0)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = [int(np.flatnonzero((data.x_train == row).all(axis=(1, 2, 3)))[0]) for row in x]
    assert sorted(order) == list(range(len(data.x_train)))
    np.testing.assert_array_equal(y, data.y_train[order])

    def model(name):
        tf.keras.utils.set_random_seed(3)
        return tf.keras.Sequential([tf.keras.Input(data.x_train.shape[1:]), tf.keras.layers.GlobalAveragePooling2D(),
                                    tf.keras.layers.Dense(3)], name=name)
    teacher = model("teacher")
    history = fit(teacher, (data.x_train, data.y_train), (data.x_val, data.y_val), loss="crossentropy",
                  epochs=2, batch_size=4)
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
    distiller = kd.Distiller(model("student"), teacher)
    student, history = kd.distill(distiller, (data.x_train, data.y_train), (data.x_val, data.y_val), epochs=2,
                                  batch_size=4)
    assert distiller.teacher_cached and np.isfinite(history["loss"]).all()
    assert list((cache.cache_root().parent / "scratch").iterdir()) == []    # teacher outputs removed after the fit
    # the teacher's outputs on disk are what it gives in memory
    (pair, _) = kd.with_teacher_outputs(teacher, (data.x_train, data.y_train), folder=str(tmp_path), name="t")
    assert isinstance(pair[1], np.memmap)
    np.testing.assert_allclose(pair[1], teacher.predict(np.asarray(data.x_train), verbose=0), rtol=1e-5, atol=1e-5)
