"""A model of the user's own, end to end through the real CLI (issue 16): a keyword model trained here on generated
audio in a Speech Commands layout with a declared front end, labelled arrays, the target's default recipe, and the
bad inputs a new user meets (no front end, a front end that does not fit the model, labels that do not fit)."""

import json

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from compressor.audio import frontends
from compressor.cli import main

keras = tf.keras
WORDS = ("yes", "no", "up")
RATE = 16000
FRONTEND = {"name": "dcase_mel", "n_mels": 20}      # (20, 51) log-mel of 1 s; the model adds a channel axis


def word(k, rng):
    """1 s of a 'word': a tone sweep whose pitch says which word, at a random level, with noise and a random
    start; a few clips are shorter than 1 s (the note on padding must count them)."""
    seconds = rng.choice([1.0, 1.0, 0.8])
    t = np.arange(int(RATE * seconds)) / RATE
    f0 = 700 * (k + 1) * (1 + 0.3 * t)          # a few mel bands apart at 20 bands
    clip = rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 6))
    clip *= np.clip(np.sin(np.pi * t / seconds) * 3, 0, 1)
    return (clip + 0.05 * rng.normal(size=clip.size)).astype(np.float32)


@pytest.fixture(scope="module")
def speech_commands(tmp_path_factory):
    """A Speech Commands layout (a folder per word, validation_list.txt / testing_list.txt) and a Conv2D keyword
    model trained on the library's front end of its training clips."""
    root = tmp_path_factory.mktemp("kws")
    data, rng = root / "speech_commands", np.random.default_rng(0)
    lists = {"validation": [], "testing": []}
    clips = {"train": [], "labels": []}
    for k, w in enumerate(WORDS):
        for i in range(30):
            name = f"{w}/speaker{i:02d}_nohash_0.wav"
            audio = word(k, rng)
            (data / w).mkdir(parents=True, exist_ok=True)
            sf.write(data / name, audio, RATE)
            split = "testing" if i % 5 == 0 else "validation" if i % 5 == 1 else "train"
            if split == "train":
                clips["train"].append(audio)
                clips["labels"].append(sorted(WORDS).index(w))     # classes are the folders, sorted
            else:
                lists[split].append(name)
    for split, names in lists.items():
        (data / f"{split}_list.txt").write_text("\n".join(names) + "\n")
    (root / "frontend.yaml").write_text("name: dcase_mel\nn_mels: 20\n")

    params = frontends.describe(**FRONTEND)
    length = params["sample_rate"] * params["seconds"]
    fixed = np.stack([np.pad(c, (0, max(0, RATE - c.size)))[:RATE] for c in clips["train"]])
    tf.keras.utils.set_random_seed(0)             # the initial weights too, not only the fit
    inputs = keras.Input((20, 51, 1))
    h = keras.layers.Rescaling(1 / 40.0, offset=1.0)(inputs)      # dB (-100..0) to about -1.5..1
    h = keras.layers.Conv2D(8, 3, activation="relu")(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3, activation="relu")(h)
    h = keras.layers.Flatten()(h)                  # keeps where in frequency the word is (a global pool would not)
    model = keras.Model(inputs, keras.layers.Dense(len(WORDS), activation="softmax")(h), name="kws")
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    x = frontends.apply(params, fixed, RATE)[..., None]        # log-mel in dB
    model.fit(x, np.array(clips["labels"]), epochs=30, verbose=0, batch_size=16)
    model.save(root / "kws.keras")
    assert length == 44100
    return root


@pytest.mark.slow
def test_a_keyword_model_on_a_speech_commands_folder_reports_float_and_int8_accuracy(speech_commands, capsys):
    out = speech_commands / "out"
    code = main(["--target", "cortex-m4", "--model", str(speech_commands / "kws.keras"),
                 "--data", str(speech_commands / "speech_commands"),
                 "--frontend", str(speech_commands / "frontend.yaml"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    record = json.loads((out / "report.json").read_text())
    assert record["data"]["classes"] == sorted(WORDS) and record["data"]["labelled"]
    assert record["data"]["shapes"]["x_test"] == [18, 20, 51, 1]           # testing_list.txt: 6 clips a word
    changes = " ".join(record["data"]["changes"])
    assert "padded" in changes and "channel axis" in changes and "resampled" in changes
    figures = record["figures"]
    assert figures["accuracy"]["provenance"] == "measured" and figures["accuracy"]["value"] >= 0.8
    assert figures["int8_accuracy"]["value"] >= 0.8 and "the same 18 test examples" in figures["int8_accuracy"]["by"]
    assert figures["metric_drop"]["value"] == pytest.approx(
        figures["accuracy"]["value"] - figures["int8_accuracy"]["value"], abs=1e-6)
    assert "log_loss" in figures and "int8_log_loss" in figures
    assert (out / "model_data.cc").is_file() and all(c["verdict"] == "pass" for c in record["checks"])
    assert record["recipe"]["name"] == "default_mcu"
    assert "int8_accuracy" in printed


@pytest.mark.slow
def test_a_front_end_that_does_not_fit_the_model_names_both_shapes(speech_commands, capsys):
    argv = ["--target", "cortex-m4", "--model", str(speech_commands / "kws.keras"),
            "--data", str(speech_commands / "speech_commands"), "--out", str(speech_commands / "bad")]
    assert main(argv + ["--frontend", "dcase_mel"]) == 2                   # 80 mel bands, the model takes 20
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "(80, 51)" in err and "(20, 51, 1)" in err
    assert main(argv) == 2                                                 # a folder without a front end
    err = capsys.readouterr().err.strip()
    assert "needs a front end" in err and "dcase_mel" in err
    assert not (speech_commands / "bad").exists()


def mlp(n_in, n_out, activation, name):
    inputs = keras.Input((n_in,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_out, activation=activation)(hidden), name=name)


def test_labelled_arrays_give_regression_figures_on_float_and_int8(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(400, 6)).astype(np.float32)  # bounded: calibration covers the test inputs' range
    y = np.stack([x[:, 0] - x[:, 1], np.tanh(x[:, 2])], 1).astype(np.float32)
    model = mlp(6, 2, None, "reg")
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=40, verbose=0)
    model.save(tmp_path / "reg.keras")
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    assert main(["--target", "cortex-m4", "--model", str(tmp_path / "reg.keras"), "--data", str(tmp_path / "xy.npz"),
                 "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "report.json").read_text())
    figures = record["figures"]
    keras_mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert figures["mse"]["value"] == pytest.approx(keras_mse, rel=0.5)    # the test split's, not all 400
    assert figures["int8_mse"]["value"] < 2 * figures["mse"]["value"] + 0.01
    assert "60 test examples" in figures["mse"]["by"]                       # 15 % of 400
    qat = {s["name"]: s for s in record["steps"]}["qat"]
    assert "regression model has no accuracy" in qat["notes"][0]


@pytest.mark.parametrize("case, message", [
    ("labels", "expected class indices 0..2 (the model has 3 outputs)"),
    ("pairs", "x has 100 examples, y has 99"),
    ("frontend", "--frontend: goes with a folder of WAVs"),
])
def test_labels_that_do_not_fit_get_one_line(tmp_path, capsys, case, message):
    rng = np.random.default_rng(2)
    mlp(4, 3, "softmax", "clf").save(tmp_path / "clf.keras")
    x = rng.normal(size=(100, 4)).astype(np.float32)
    y = {"labels": rng.integers(0, 5, 100), "pairs": rng.integers(0, 3, 99)}.get(case, rng.integers(0, 3, 100))
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    argv = ["--target", "cortex-m4", "--model", str(tmp_path / "clf.keras"), "--data", str(tmp_path / "xy.npz"),
            "--out", str(tmp_path / "out")] + (["--frontend", "dcase_mel"] if case == "frontend" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_an_npz_with_its_own_splits_keeps_them(tmp_path):
    rng = np.random.default_rng(3)
    model = mlp(4, 3, "softmax", "clf")
    model.save(tmp_path / "clf.keras")
    arrays = {f"x_{s}": rng.normal(size=(n, 4)).astype(np.float32) for s, n in (("train", 50), ("test", 20))}
    arrays.update({f"y_{s}": rng.integers(0, 3, len(arrays[f"x_{s}"])) for s in ("train", "test")})
    np.savez(tmp_path / "splits.npz", **arrays)
    assert main(["--target", "cortex-m4", "--model", str(tmp_path / "clf.keras"),
                 "--data", str(tmp_path / "splits.npz"), "--out", str(tmp_path / "out")]) in (0, 3)
    record = json.loads((tmp_path / "out" / "report.json").read_text())
    assert record["data"]["shapes"]["x_test"] == [20, 4] and record["data"]["shapes"]["x_train"] == [50, 4]
    expected = float(np.mean(np.argmax(model.predict(arrays["x_test"], verbose=0), -1) == arrays["y_test"]))
    assert record["figures"]["accuracy"]["value"] == pytest.approx(expected)


def fpga_user_model(kind):
    """A small classifier of the user's, trained here on a separable generated task (the class is the position
    of a bump in the signal): Dense, Conv1D or Conv2D."""
    rng = np.random.default_rng(4)
    n, classes = 600, 3
    y = rng.integers(0, classes, n)
    shape = {"dense": (24,), "conv1d": (24, 2), "conv2d": (12, 12, 1)}[kind]
    x = rng.normal(0, 0.3, (n, int(np.prod(shape)))).astype(np.float32)
    width = x.shape[1] // classes
    for k in range(classes):
        x[y == k, k * width:(k + 1) * width] += 1.0
    x = x.reshape(n, *shape)
    tf.keras.utils.set_random_seed(4)
    inputs = keras.Input(shape)
    if kind == "dense":
        h = keras.layers.Dense(16, activation="relu")(inputs)
    elif kind == "conv1d":
        h = keras.layers.Conv1D(6, 3, activation="relu")(inputs)
        h = keras.layers.MaxPooling1D(2)(h)
        h = keras.layers.Flatten()(h)                       # the bump's position is the class: keep it
    else:
        h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        h = keras.layers.MaxPooling2D(2)(h)
        h = keras.layers.Flatten()(h)
    model = keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(h), name=f"user_{kind}")
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=10, verbose=0, batch_size=32)
    return model, x, y


def on_pynq(tmp_path, model, x, y):
    """`compress --target pynq-z2 --model m.keras --data xy.npz --quick`: (exit code, report.json, output folder)."""
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    out = tmp_path / "out"
    code = main(["--target", "pynq-z2", "--model", str(tmp_path / "m.keras"), "--data", str(tmp_path / "xy.npz"),
                 "--out", str(out), "--quick"])
    return code, json.loads((out / "report.json").read_text()), out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dense", "conv1d", "conv2d"])
def test_a_users_model_on_an_fpga_is_quantized_exported_and_c_simulated(tmp_path, kind):
    code, record, out = on_pynq(tmp_path, *fpga_user_model(kind))
    assert code in (0, 3) and record["verdict"] in ("pass", "fail")        # 3: a budget, never a failed check
    assert record["recipe"]["name"] == "default_fpga"
    csim = next(c for c in record["checks"] if c["name"] == "csim_vs_qkeras")
    assert csim["verdict"] == "pass" and csim["value"] >= 0.98
    figures = record["figures"]
    assert figures["csim_accuracy"]["value"] >= 0.8 and figures["accuracy"]["value"] >= 0.8
    assert (out / "hls" / "firmware").is_dir() and {"LUT", "BRAM_18K"} <= set(figures)
    quantize = {s["name"]: s for s in record["steps"]}["quantize"]
    assert quantize["quantizers"] and all("softmax" not in str(q) for q in quantize["quantizers"].values())


@pytest.mark.slow
def test_a_users_lstm_on_an_fpga_is_c_simulated_and_priced_step_by_step(tmp_path):
    """hls4ml's LSTM: its input, state and accumulator share one type (else the C simulation does not compile),
    and the estimate counts sequence length x one step (both kernels' products each step)."""
    steps, features, units = 12, 3, 8
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, steps, features)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(int)
    tf.keras.utils.set_random_seed(5)
    inputs = keras.Input((steps, features))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.LSTM(units)(inputs)))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=12, verbose=0, batch_size=16)   # confident: hls4ml's sigmoid / tanh tables move a float
    code, record, _ = on_pynq(tmp_path, model, x, y)        # LSTM's outputs by ~0.01, which flips near-ties
    assert code in (0, 3)
    csim = next(c for c in record["checks"] if c["name"] == "csim_vs_qkeras")
    assert csim["verdict"] == "pass"
    lstm = next(row for row in record["layers"] if row.get("type") in ("LSTM", "QLSTM"))["fpga"]
    assert lstm["ii_cycles"] == steps * lstm["reuse_factor"]      # the whole sequence, one step after another
    per_step = 4 * units * (features + units)                    # kernel and recurrent kernel, four gates
    assert lstm["DSP"] + lstm["LUT"] > 0 and lstm["DSP"] <= per_step
    clock = record["target"]["clock_mhz"] * 1e6
    assert record["figures"]["latency_s"]["value"] >= steps * lstm["reuse_factor"] / clock
