"""Each reader on a tiny fixture in the real layout, written here; malformed layouts give a BadInput naming the file."""

import numpy as np
import pytest
import soundfile as sf

from compressor import families
from compressor.audio import load_data, readers
from compressor.errors import BadInput

SCENES = ["airport", "bus", "park"]


def write_wav(path, audio, sr):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sr)


def tone(freq, sr, seconds, amp=0.5, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    mono = amp * np.sin(2 * np.pi * freq * t)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def make_tau(root, n_per_scene=4):
    """TAU 2022 Mobile layout: audio/, meta.csv, evaluation_setup/fold1_{train,evaluate}.csv, tab separated.
    Clips are stereo at 48 kHz (the reader must mix down and resample to 44.1 kHz); each scene has its own tone."""
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    train, evaluate = ["filename\tscene_label"], ["filename\tscene_label"]
    for k, scene in enumerate(SCENES):
        for i in range(n_per_scene):
            name = f"audio/{scene}-lisbon-{k}{i}-0-a.wav"
            write_wav(root / name, tone(500 * (k + 1), 48000, 1.0, channels=2), 48000)
            meta.append(f"{name}\t{scene}\tlisbon-{k}{i}\ta")
            (evaluate if i == 0 else train).append(f"{name}\t{scene}")
    (root / "meta.csv").write_text("\n".join(meta) + "\n")
    (root / "evaluation_setup").mkdir()
    (root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(train) + "\n")
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("\n".join(evaluate) + "\n")
    return root


def test_tau_layout_reads_folds_labels_and_resamples(tmp_path):
    root = make_tau(tmp_path / "tau")
    assert readers.detect_layout(root) == "tau"
    data = load_data(str(root), families.get("dcase").data_spec, frontend={"n_mels": 40})
    assert data.classes == SCENES and data.task == "classification"
    assert data.x_train.shape[1:] == (40, 51, 1) and data.x_test.shape == (3, 40, 51, 1)
    assert len(data.x_train) + len(data.x_val) == 9
    assert data.frontend["n_mels"] == 40 and data.sample_rate == 44100
    assert sorted(data.y_test) == [0, 1, 2]
    # the label follows the file: each scene's tone is higher than the previous scene's
    peak_band = data.x_test[..., 0].mean(axis=2).argmax(axis=1)
    assert list(peak_band[np.argsort(data.y_test)]) == sorted(peak_band)
    assert set(data.extra["devices_test"]) == {"a"}
    assert data.changes == ["resampled 12 of 12 WAVs from 48,000 Hz to 44,100 Hz",   # 1 s at 48 kHz: no padding
                            "mixed 12 of 12 WAVs from stereo to mono (mean of the channels)"]


def test_tau_comma_separated_csv_names_the_file(tmp_path):
    root = make_tau(tmp_path / "tau")
    (root / "meta.csv").write_text((root / "meta.csv").read_text().replace("\t", ","))
    with pytest.raises(BadInput, match=r"meta\.csv.*tab-separated header"):
        load_data(str(root), families.get("dcase").data_spec)


def test_tau_missing_audio_names_the_file(tmp_path):
    root = make_tau(tmp_path / "tau")
    (root / "audio" / "bus-lisbon-10-0-a.wav").unlink()
    with pytest.raises(BadInput, match=r"bus-lisbon-10-0-a\.wav: listed in the TAU metadata but missing"):
        load_data(str(root), families.get("dcase").data_spec)


def test_tau_fold_entry_not_in_meta_names_both(tmp_path):
    root = make_tau(tmp_path / "tau")
    fold = root / "evaluation_setup" / "fold1_evaluate.csv"
    fold.write_text(fold.read_text() + "audio/ghost.wav\tpark\n")
    with pytest.raises(BadInput, match=r"fold1_evaluate\.csv: 'audio/ghost\.wav' is not listed in meta\.csv"):
        load_data(str(root), families.get("dcase").data_spec)


def test_tau_missing_fold_file(tmp_path):
    root = make_tau(tmp_path / "tau")
    (root / "evaluation_setup" / "fold1_train.csv").unlink()
    with pytest.raises(BadInput, match=r"fold1_train\.csv: missing"):
        load_data(str(root), families.get("dcase").data_spec)


def make_class_folders(root, lists=False):
    for label, amp in (("loud", 0.9), ("quiet", 0.1)):
        for i in range(6):
            write_wav(root / label / f"{label}_{i}.wav", tone(300 + 50 * i, 8000, 1.0, amp), 8000)
    write_wav(root / "_background_noise_" / "noise.wav", np.zeros(8000), 8000)
    if lists:
        (root / "validation_list.txt").write_text("loud/loud_0.wav\nquiet/quiet_0.wav\n")
        (root / "testing_list.txt").write_text("loud/loud_1.wav\nquiet/quiet_1.wav\n")
    return root


def test_class_folders_give_labels_from_folder_names(tmp_path):
    root = make_class_folders(tmp_path / "speech")
    assert readers.detect_layout(root) == "classes"
    data = load_data(str(root), families.get("speech").data_spec)
    assert data.classes == ["loud", "quiet"]  # _background_noise_ skipped
    assert data.x_train.shape[1:] == (32000, 1)
    n = len(data.x_train) + len(data.x_val) + len(data.x_test)
    assert n == 12
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    peaks = np.abs(x).max(axis=(1, 2))
    assert np.all(peaks[y == 0] > 0.8) and np.all(peaks[y == 1] < 0.2)
    assert np.abs(x[:, 16100:]).max() == 0  # 1 s at 8 kHz -> 16,000 samples at 16 kHz, then zero padding


def test_class_folders_honour_speech_commands_lists(tmp_path):
    root = make_class_folders(tmp_path / "speech", lists=True)
    data = load_data(str(root), families.get("speech").data_spec)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (8, 2, 2)
    assert sorted(data.y_val) == [0, 1] and sorted(data.y_test) == [0, 1]


def test_class_folder_with_a_broken_wav_names_it(tmp_path):
    root = make_class_folders(tmp_path / "speech")
    (root / "loud" / "loud_3.wav").write_bytes(b"RIFF not really a wav")
    with pytest.raises(BadInput, match=r"loud_3\.wav: cannot read audio"):
        load_data(str(root), families.get("speech").data_spec)


def test_paired_effects_layout(tmp_path):
    root = tmp_path / "fx"
    rng = np.random.default_rng(0)
    dry = np.clip(0.3 * rng.standard_normal(44100 * 8), -0.99, 0.99).astype(np.float32)  # WAV clips at 1
    write_wav(root / "guitar-input.wav", dry, 44100)
    write_wav(root / "guitar-target.wav", np.tanh(5 * dry), 44100)
    assert readers.detect_layout(root) == "paired"
    data = load_data(str(root), families.get("effects").data_spec)
    assert data.x_train.shape[1:] == (22050, 1) and data.task == "regression"     # 0.5 s clips
    n = len(data.x_train) * 22050
    np.testing.assert_allclose(data.x_train.reshape(-1), dry[:n], atol=1e-4)  # 16-bit WAV rounding
    np.testing.assert_allclose(data.y_train.reshape(-1), np.tanh(5 * dry[:n]), atol=1e-4)
    assert data.extra["test_dry"].size == data.extra["test_wet"].size > 0
    # 352,800 samples split in time 70/15/15 % (int(246,960.0...) rounds down): each split ends in a partial clip
    assert data.changes == ["dropped the last samples that do not fill a 22,050-sample segment: "
                            "4,409 of 246,959 train, 8,820 of 52,920 val, 8,821 of 52,921 test"]


def test_paired_split_folders_and_input_target_folders(tmp_path):
    root = tmp_path / "fx"
    for split in ("train", "val", "test"):
        write_wav(root / split / "ht1-input.wav", tone(110, 44100, 0.5), 44100)
        write_wav(root / split / "ht1-target.wav", tone(110, 44100, 0.5, 0.2), 44100)
    data = load_data(str(root), families.get("effects").data_spec)
    assert len(data.x_train) == len(data.x_val) == len(data.x_test) == 1      # one 0.5 s clip each
    other = tmp_path / "fx2"
    write_wav(other / "input" / "take1.wav", tone(110, 44100, 4.0), 44100)     # 15 % is 0.6 s: one clip
    write_wav(other / "target" / "take1.wav", tone(110, 44100, 4.0, 0.2), 44100)
    assert len(load_data(str(other), families.get("effects").data_spec).x_train) > 0


def test_paired_without_its_target_names_the_input(tmp_path):
    root = tmp_path / "fx"
    write_wav(root / "bass-input.wav", tone(55, 44100, 1.0), 44100)
    with pytest.raises(BadInput, match=r"bass-input\.wav: no matching target file bass-target\.wav"):
        load_data(str(root), families.get("effects").data_spec)


def test_unlabeled_folder_for_cae_cuts_long_recordings_into_windows(tmp_path):
    root = tmp_path / "whales"
    for i in range(3):
        write_wav(root / f"rec{i}.wav", tone(200, 8000, 13.0), 8000)  # 13 s at 8 kHz -> 4 kHz, two 6.24 s windows
    assert readers.detect_layout(root) == "unlabeled"
    data = load_data(str(root), families.get("cae").data_spec)
    assert data.x_train.shape[1:] == (128, 196, 1) and data.task == "autoencoder"
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 6
    np.testing.assert_array_equal(data.y_train, data.x_train)
    assert data.changes == ["resampled 3 of 3 WAVs from 8,000 Hz to 4,000 Hz",
                            "cut 3 recordings into 6 windows of 6.24 s; dropped 3 tails shorter than half a window "
                            "(3.12 s)"]


def test_mae_on_class_folders_uses_the_folders_as_probe_labels(tmp_path):
    root = make_class_folders(tmp_path / "sounds")
    data = load_data(str(root), families.get("mae").data_spec)
    assert data.x_train.shape[1:] == (150, 64)
    assert data.extra["probe_classes"] == ["loud", "quiet"]
    assert len(data.extra["probe_x_train"]) == len(data.extra["probe_y_train"]) > 0


def test_unknown_layout_says_what_was_expected_and_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"unrecognised layout \(found 1 files, none \.wav, and 1 folders.*expected a TAU"):
        load_data(str(tmp_path), families.get("dcase").data_spec)
    with pytest.raises(BadInput, match="no such folder"):
        load_data(str(tmp_path / "nope"), families.get("dcase").data_spec)


def test_layout_that_does_not_fit_the_family(tmp_path):
    root = make_class_folders(tmp_path / "speech")
    with pytest.raises(BadInput, match="family 'effects' needs effects pairs.*found a folder of class folders"):
        load_data(str(root), families.get("effects").data_spec)


def test_every_change_to_the_audio_is_counted_once(tmp_path):
    """Rates, channels and lengths other than the front end's (speech: 16 kHz, 2 s = 32,000 samples) are changed,
    and each kind of change is one line with its counts."""
    root = tmp_path / "words"
    files = {"yes/0.wav": (8000, 1.0, 1), "yes/1.wav": (8000, 3.0, 2), "yes/2.wav": (16000, 2.0, 1),
             "no/0.wav": (8000, 2.0, 1), "no/1.wav": (8000, 0.5, 2), "no/2.wav": (22050, 2.5, 2),
             "yes/3.wav": (16000, 2.0, 1), "no/3.wav": (16000, 2.0, 1)}       # 8 files: 6 train, 1 val, 1 test
    for name, (sr, seconds, channels) in files.items():
        write_wav(root / name, tone(440, sr, seconds, channels=channels), sr)
    data = load_data(str(root), families.get("speech").data_spec)
    assert data.changes == [
        "resampled 5 of 8 WAVs from 8,000 Hz (4) and 22,050 Hz (1) to 16,000 Hz",
        "mixed 3 of 8 WAVs from stereo to mono (mean of the channels)",
        "padded 2 of 8 clips shorter than 2 s (32,000 samples, the front end's input) with zeros, trimmed 2 longer"]
    # the quick profile's cap on files per split is a change too
    clips = readers.read_class_folders(root, 16000, max_per_split=1)
    assert clips.changes[0] == "read only the first 1 of 6 train, 1 of 1 val, 1 of 1 test files (quick profile)"
    # nothing changed, nothing said
    same = tmp_path / "same"
    for i in range(10):
        write_wav(same / "ab"[i % 2] / f"{i}.wav", tone(440, 16000, 2.0), 16000)
    assert load_data(str(same), families.get("speech").data_spec).changes == []


def test_paired_audio_too_short_for_one_clip_is_named(tmp_path):
    root = tmp_path / "fx"
    write_wav(root / "input" / "take1.wav", tone(110, 44100, 1.0), 44100)      # 15 % of 1 s: no 0.5 s clip
    write_wav(root / "target" / "take1.wav", tone(110, 44100, 1.0, 0.2), 44100)
    with pytest.raises(BadInput, match=r"the val audio \(0\.15 s\) is shorter than one 22,050-sample segment "
                                       r"\(0\.5 s\)"):
        load_data(str(root), families.get("effects").data_spec)
