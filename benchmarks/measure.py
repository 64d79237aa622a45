"""The side-by-side rows of one recipe: float, TFLite default int8 PTQ, tfmot int8 QAT, compressor's recipe - each
measured on the recipe's own test split with the toolkit's counting and estimating functions.

Everything that differs by model family comes from the family object (compressor.families.get(recipe.family)):
its task figures (evaluate), the model as the device runs it (device_form) and the int8 model's figures
(device_metrics). Nothing here tests a family's name.
"""

import dataclasses
import time
from pathlib import Path

import numpy as np

from compressor import families
from compressor.analysis import counts, mcu, mcu_features
from compressor.audio.dataset import load_data
from compressor.families import effects
from compressor.export import streaming, tflite
from compressor.graph import leaf_layers
from compressor.recipe import Recipe
from compressor.steps import step_params
from compressor.steps.slots import build_slot
from compressor.targets import load_target

HOST_RUNS = 50           # interpreter invokes whose median is the host latency
METRIC_SAMPLES = 200     # test examples run through each int8 model
LOWER_IS_BETTER = ("esr", "mse")    # task figures where smaller is better (the others: accuracy)


def _na(reason):
    return f"not applicable: {reason}"


def _first_line(e) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


# ---------------------------------------------------------------- what one finished recipe run hands the benchmark

@dataclasses.dataclass
class RecipeBench:
    """A finished recipe run (compressor.run_recipe's Run) with what the rows need beside it: the recipe as it ran
    (quick profile applied), its family object, its target and its data (loaded again: the Run does not carry it)."""
    recipe: Recipe
    family: families.Family
    target: object
    data: object             # compressor.audio.dataset.Dataset, the same split the run used
    quick: bool
    seed: int
    models: dict             # slot -> keras.Model, as the run ended
    record: dict             # the run's record (report.json's dict)
    out: Path

    @classmethod
    def of(cls, run, recipe: Recipe, quick: bool) -> "RecipeBench":
        recipe = recipe.profile(quick)
        family = families.get(recipe.family)
        seed = run.record.get("seed", recipe.seed)
        source = None if recipe.data in (None, "builtin") else recipe.data
        data = load_data(source, family.data_spec, quick=quick, seed=seed, frontend=recipe.frontend or None)
        ran_on = run.record.get("data", {}).get("source")
        if ran_on is not None and ran_on != data.name:
            raise RuntimeError(f"benchmark data {data.name} is not the data the run used ({ran_on})")
        return cls(recipe, family, load_target(recipe.target), data, quick, seed, run.models, run.record,
                   Path(run.out))

    @property
    def delivered(self):
        return self.models[self.recipe.deliver]

    def rebuild(self, slot):
        """For family.device_form: a fresh model of `slot` with some zoo arguments overridden (batch_size=1)."""
        return lambda **overrides: build_slot(self.recipe.models[slot], self.data, **overrides)

    def device_form(self, model, slot):
        """(the model as the device runs it, calibration inputs, verification inputs, note) - the family's."""
        return self.family.device_form(model, self.data, self.rebuild(slot))

    def artifact(self, role) -> Path | None:
        path = self.record.get("artifacts", {}).get(role)
        return self.out / path if path and (self.out / path).is_file() else None


def _head(data, n):
    """The data with its test split cut to the first n examples."""
    return dataclasses.replace(data, x_test=data.x_test[:n], y_test=data.y_test[:n])


# ---------------------------------------------------------------- task metric

def metric_key(b, model) -> str | None:
    """The figure the family measures first for a model (accuracy, esr, mse ...); None when it has none of its own
    (a representation model: the linear probe measures it)."""
    figures = b.family.evaluate(model, _head(b.data, 4))
    return next(iter(figures), None)


def metric_name(key) -> str:
    if key is None:
        return "linear-probe accuracy"
    return f"{key.upper()} (lower is better)" if key in LOWER_IS_BETTER else key


def keras_metric(b, model, key):
    if key is None:
        return _probe(b, lambda x: _embed_keras(model, x))
    return b.family.evaluate(model, b.data)[key]["value"]


class _Int8Predictor:
    """An int8 flatbuffer behind the `predict` a family's evaluate calls (TFLite interpreter, dequantized output)."""

    def __init__(self, tflite_bytes):
        self.tflite_bytes = tflite_bytes

    def predict(self, x, verbose=0, batch_size=None):
        _, yq = tflite.run_tflite(self.tflite_bytes, np.asarray(x, np.float32))
        return tflite.dequantize(yq, tflite.output_detail(self.tflite_bytes))


def int8_metric(b, tflite_bytes, model, key):
    """(the task metric of an int8 model in the TFLite interpreter, the float `model`'s on the same inputs or None),
    fed as the device would be: the family's own int8 figure and its float figure beside it where it has them (int8
    and float accuracy on the same examples, the streaming ESR and the float ESR on the same audio), else its task
    figure of the interpreter's outputs, else the linear probe on the int8 encoder's embeddings."""
    if key is None:
        return _probe(b, lambda x: _embed_tflite(tflite_bytes, x)), None
    n = min(METRIC_SAMPLES, len(b.data.x_test))
    own, _ = b.family.device_metrics(tflite_bytes, model, b.data, n, b.quick)
    int8 = next((k for k in own if k.startswith("int8") and k.endswith(key)), None)
    if int8:
        float_ = next((k for k in own if k.startswith("float") and k.endswith(key)), None)
        return own[int8]["value"], own[float_]["value"] if float_ else None
    return b.family.evaluate(_Int8Predictor(tflite_bytes), _head(b.data, n))[key]["value"], None


def _embed_keras(model, x):
    from compressor.zoo import mae
    return mae.embed(model, x)


class _TFLiteEncoder:
    """The int8 encoder behind the interface mae.embed calls (input_shape, __call__ -> .numpy()), so its chunking
    and pooling are the toolkit's own."""

    def __init__(self, tflite_bytes):
        self.tflite_bytes = tflite_bytes
        shape = counts.interpreter(tflite_bytes).get_input_details()[0]["shape"]
        self.input_shape = (None, *(int(d) for d in shape[1:]))

    def __call__(self, x, training=False):
        import tensorflow as tf
        _, yq = tflite.run_tflite(self.tflite_bytes, np.asarray(x, np.float32))
        return tf.constant(tflite.dequantize(yq, tflite.output_detail(self.tflite_bytes)))


def _embed_tflite(tflite_bytes, x):
    from compressor.zoo import mae
    return mae.embed(_TFLiteEncoder(tflite_bytes), x)


def _probe(b, embed):
    """The recipe's probe step (logistic regression on mean-pooled embeddings) with any embedding function."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    e = b.data.extra
    tr, te = embed(e["probe_x_train"]), embed(e["probe_x_test"])
    scaler = StandardScaler().fit(tr)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(tr), e["probe_y_train"])
    return float(clf.score(scaler.transform(te), e["probe_y_test"]))


# ---------------------------------------------------------------- counts, estimates, host timing

def host_latency_s(tflite_bytes) -> float:
    interp = counts.interpreter(tflite_bytes)
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    interp.invoke()   # first invoke allocates: not timed
    times = []
    for _ in range(HOST_RUNS):
        t0 = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def int8_row(b, tflite_bytes, model, key):
    total = counts.totals(counts.tflite_layer_counts(tflite_bytes))
    metric, float_metric = int8_metric(b, tflite_bytes, model, key)
    row = {"metric": metric, "bytes": len(tflite_bytes), "bytes_by": "int8 .tflite",
           "macs": total["macs"], "sparsity": total["zeros"] / max(total["params"], 1),
           "host_latency_s": host_latency_s(tflite_bytes)}
    if float_metric is not None:
        row["float_metric_same_inputs"] = float_metric
    row.update(_target_estimates(b, tflite_bytes))
    return row


def _target_estimates(b, tflite_bytes):
    """The target's latency and energy of an int8 flatbuffer, by the estimate the toolkit's own export gives
    (per operator, calibrated on MLPerf Tiny), so that every int8 row is priced alike."""
    if b.target.kind != "mcu":
        return {"latency_s": _na("an int8 TFLite model runs on a CPU, not in the FPGA fabric"),
                "energy_j": _na("idem")}
    cost = mcu.estimate(mcu_features.operator_features(tflite_bytes), b.target,
                        activations=tflite.activations_of(tflite_bytes))
    return {"latency_s": cost["latency_s"]["value"], "energy_j": cost["energy_j"]["value"]}


# ---------------------------------------------------------------- the four rows

def float_row(b, model, key, metric=None):
    """The float model's row; its metric `metric` when given (measured on the int8 rows' inputs), else keras on the
    test split."""
    total = counts.totals(counts.keras_layer_counts(model))
    row = {"metric": keras_metric(b, model, key) if metric is None else metric,
           "bytes": total["params"] * 4, "bytes_by": "float32 weights",
           "macs": total["macs"], "sparsity": total["zeros"] / max(total["params"], 1),
           "host_latency_s": _na("float model: the host column times int8 TFLite"),
           "latency_s": _na("the targets run int8"), "energy_j": _na("the targets run int8")}
    if b.target.kind == "fpga":
        row.update(_qtools(model))
    return row


def _qtools(model):
    from compressor.analysis.energy import qtools_energy
    try:
        return {"qtools_energy_pj": qtools_energy(model)["total_pj"]}
    except Exception as e:
        return {"qtools_energy_pj": _na(_first_line(e))}


def ptq_row(b, model, slot, key):
    device, x_cal, _, _ = b.device_form(model, slot)
    tfl = tflite.to_int8_tflite(device, x_cal[:200])   # the converter's default full-integer PTQ
    row = int8_row(b, tfl, model, key)
    if b.target.kind == "fpga":
        row["qtools_energy_pj"] = _na("QTools prices QKeras models; a TFLite flatbuffer has no QKeras quantizers")
    return row


def _qat_unsupported(model) -> str | None:
    """Why tfmot QAT does not apply to the model's layers, or None."""
    import tensorflow as tf

    layers = list(leaf_layers(model))
    if any(isinstance(layer, tf.keras.layers.RNN) for layer in layers):
        return "tfmot QAT does not support recurrent layers (GRU/LSTM)"
    names = {type(layer).__name__ for layer in layers}
    attention = [n for n in ("MultiHeadAttention", "LayerNormalization") if n in names]
    if attention:
        return f"tfmot QAT does not support the transformer's {'/'.join(attention)}"
    return None


def qat_row(b, model, slot, key, epochs):
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    from compressor.methods.fit import fit

    unsupported = _qat_unsupported(model)
    if unsupported:
        return {"metric": _na(unsupported)}
    clone = tf.keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    try:
        qat = tfmot.quantization.keras.quantize_model(clone)
    except Exception as e:
        return {"metric": _na(f"tfmot.quantize_model refused the model: {_first_line(e)}")}
    trains = [s for s in b.recipe.steps if s.kind == "train"]
    train = next((s for s in trains if s.model == slot), trains[0])   # the step that trained this slot
    p = step_params(b.recipe, train)
    train_xy, val_xy = b.family.fit_arrays(model, b.data, b.seed)
    t0 = time.perf_counter()
    fit(qat, train_xy, val_xy, loss=p["loss"], optimizer=p["optimizer"], lr=p["lr"] / 10, epochs=epochs,
        batch_size=p["batch_size"], seed=b.seed, loss_params=p["loss_params"])
    seconds = time.perf_counter() - t0
    tfl = tflite.to_int8_tflite(qat, b.data.x_train[:200])
    row = int8_row(b, tfl, qat, key)
    row["note"] = f"{epochs} QAT epochs at lr/10 from the float model, {seconds:.0f} s"
    if b.target.kind == "fpga":
        row["qtools_energy_pj"] = _na("QTools prices QKeras models, not tfmot's quantize wrappers")
    return row


def compressor_row(b, key):
    f = b.record.get("figures", {})
    val = lambda k: f[k]["value"] if k in f else None   # noqa: E731
    row = {"macs": val("macs"), "sparsity": (val("zeros") or 0) / max(val("params") or 1, 1)}
    model = b.delivered
    tfl = b.artifact("tflite")
    if tfl is not None:
        row.update(int8_row(b, tfl.read_bytes(), model, key))
        row["macs"] = val("macs") or row["macs"]
        row["sparsity"] = (val("zeros") or 0) / max(val("params") or 1, 1)   # zeros in the Keras model (pruned)
        row["latency_s"], row["energy_j"] = val("latency_s"), val("energy_j")
    else:   # FPGA: the delivered QKeras model; bytes at the quantizers' widths
        row["metric"] = keras_metric(b, model, key)
        layers = counts.keras_layer_counts(model)   # the whole model (the report's layers are the exported part)
        row["bytes"] = int(sum(r["params"] * (r["bits"] or 32) / 8 for r in layers))
        row["bytes_by"] = "whole model, weights at their quantized widths"
        row["host_latency_s"] = _na("the FPGA design is an HLS project, not a TFLite model")
        row["latency_s"], row["energy_j"] = val("latency_s"), val("energy_j")
        energy_step = next((s for s in b.record["steps"] if s["kind"] == "energy"), None)
        if energy_step:
            row["qtools_energy_pj"] = energy_step["metrics"]["energy_pj"]["value"]
        row["resources"] = {k: val(k) for k in ("LUT", "FF", "DSP", "BRAM_18K") if k in f}
        if row["macs"] is None:    # the record has no final counts: count the delivered model here
            total = counts.totals(layers)
            row["macs"], row["sparsity"] = total["macs"], total["zeros"] / max(total["params"], 1)
    return row


def comparison_rows(b, plain, plain_slot, plain_label, qat_epochs):
    """float / ptq / qat / compressor, each a dict of columns or 'not applicable: why'. `plain` is the float model
    the baselines start from (model slot `plain_slot`), `plain_label` says which it is. Where the family measures the
    float model beside the int8 one (device_metrics), the float row is that figure: every row on the same inputs."""
    key = metric_key(b, plain)
    rows = {"float_source": plain_label}
    for name, fn in (("tflite_ptq", lambda: ptq_row(b, plain, plain_slot, key)),
                     ("float", lambda: float_row(b, plain, key, rows["tflite_ptq"].get("float_metric_same_inputs"))),
                     ("tfmot_qat", lambda: qat_row(b, plain, plain_slot, key, qat_epochs)),
                     ("compressor", lambda: compressor_row(b, key))):
        try:
            rows[name] = fn()
        except Exception as e:
            rows[name] = {"metric": f"failed: {_first_line(e)}"}
    rows["metric_name"] = metric_name(key)
    return rows


# ---------------------------------------------------------------- real time and arena fidelity

def realtime_rate(b) -> int | None:
    """The sample rate a recipe must keep up with, sample by sample (its `realtime_sample_rate` budget), or None."""
    return b.recipe.budgets.get("realtime_sample_rate")


def realtime(b, seconds=1.0):
    """1 s of audio at the recipe's real-time rate through teacher and delivered model: float Keras over the
    sequence (XLA-compiled, as the recipe's record times it), int8 TFLite streaming one sample per invoke as the
    firmware would (the family's device form); the real-time factor and the MAC rate each needs."""
    rate = realtime_rate(b)
    signal = np.resize(b.data.extra["test_dry"], int(seconds * rate)).astype(np.float32)
    mac_rates = {name: mcu.macs_per_second(load_target(name)) for name in ("cortex-m4", "cortex-m7", "cortex-m33")}
    result = {}
    deliver = b.recipe.deliver
    for slot in [s for s in ("teacher", deliver) if s in b.models]:
        model = b.models[slot]
        keras_s, keras_how = effects.seconds_for(model, signal[None, :, None])   # as the recipe's record times it
        exported = b.artifact("tflite") if slot == deliver else None
        if exported is not None:
            tfl = exported.read_bytes()
        else:
            device, x_cal, _, _ = b.device_form(model, slot)
            tfl = tflite.to_int8_tflite(device, x_cal)
        t0 = time.perf_counter()
        streaming.run_int8_streaming(tfl, signal)
        int8_s = time.perf_counter() - t0
        macs = counts.totals(counts.tflite_layer_counts(tfl))["macs"]
        result[slot] = {"model": model.name, "keras_float_s": keras_s, "keras_float_by": keras_how,
                        "int8_streaming_s": int8_s,
                        "rtf_keras": keras_s / seconds, "rtf_int8": int8_s / seconds, "macs_per_sample": macs,
                        "mac_rate": macs * rate,
                        "targets": {n: {"macs_per_second": mps, "utilisation": macs * rate / mps}
                                    for n, mps in mac_rates.items()}}
    return result


def arena_fidelity(record):
    f = record.get("figures", {})
    if "arena_bytes" not in f:
        return None
    return {"arena_measured": f["arena_bytes"]["value"],
            "peak_activation_estimate": f.get("peak_activation_bytes", {}).get("value")}
