"""The side-by-side rows of one recipe: float, TFLite default int8 PTQ, tfmot int8 QAT, compressor's recipe - each
measured on the recipe's own test split with the toolkit's counting and estimating functions."""

import time

import numpy as np

from compressor import zoo
from compressor.analysis import counts, mcu
from compressor.export import streaming, tflite
from compressor.steps import kinds

HOST_RUNS = 50           # interpreter invokes whose median is the host latency
METRIC_SAMPLES = 200     # test examples run through each int8 model


def _na(reason):
    return f"not applicable: {reason}"


def _first_line(e) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


# ---------------------------------------------------------------- task metric

def metric_name(ctx) -> str:
    return {"classification": "accuracy", "regression": "ESR (lower is better)",
            "autoencoder": "MSE (lower is better)"}.get(ctx.data.task, "linear-probe accuracy")


def keras_metric(ctx, model):
    if ctx.recipe.family == "mae":
        return _probe(ctx, lambda x: _embed_keras(model, x))
    m = kinds.evaluate(ctx, model)
    return next(iter(m.values()))["value"] if m else None


def int8_metric(ctx, tflite_bytes, device):
    """The task metric of an int8 model in the TFLite interpreter, fed as the device would be."""
    d = ctx.data
    if ctx.recipe.family == "effects":
        seconds = 0.25 if ctx.quick else 1.0
        n = int(seconds * d.sample_rate)
        y8 = streaming.run_int8_streaming(tflite_bytes, d.extra["test_dry"][:n])
        return kinds._esr(d.extra["test_wet"][:n], y8)
    if ctx.recipe.family == "mae":
        return _probe(ctx, lambda x: _embed_tflite(tflite_bytes, x))
    x, y = d.x_test[:METRIC_SAMPLES], d.y_test[:METRIC_SAMPLES]
    _, yq = tflite.run_tflite(tflite_bytes, x)
    out = tflite.dequantize(yq, tflite.output_detail(tflite_bytes))
    if d.task == "classification":
        return float(np.mean(np.argmax(out.reshape(len(x), -1), -1) == y.astype(int)))
    return float(np.mean((out.reshape(y.shape) - y) ** 2))


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


def _probe(ctx, embed):
    """The recipe's probe step (logistic regression on mean-pooled embeddings) with any embedding function."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    e = ctx.data.extra
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


def int8_row(ctx, tflite_bytes, device):
    total = counts.totals(counts.tflite_layer_counts(tflite_bytes))
    row = {"metric": int8_metric(ctx, tflite_bytes, device), "bytes": len(tflite_bytes), "bytes_by": "int8 .tflite",
           "macs": total["macs"], "sparsity": total["zeros"] / max(total["params"], 1),
           "host_latency_s": host_latency_s(tflite_bytes)}
    row.update(_target_estimates(ctx, total["macs"]))
    return row


def _target_estimates(ctx, macs):
    if ctx.target.kind != "mcu":
        return {"latency_s": _na("an int8 TFLite model runs on a CPU, not in the FPGA fabric"),
                "energy_j": _na("idem")}
    return {"latency_s": mcu.latency_s(macs, ctx.target)["value"], "energy_j": mcu.energy_j(macs, ctx.target)["value"]}


def _device(ctx, model):
    ptq = next((s for s in ctx.recipe.steps if s.kind == "ptq"), None)
    return kinds.device_form(ctx, ptq, model)


# ---------------------------------------------------------------- the four rows

def float_row(ctx, model):
    total = counts.totals(counts.keras_layer_counts(model))
    row = {"metric": keras_metric(ctx, model), "bytes": total["params"] * 4, "bytes_by": "float32 weights",
           "macs": total["macs"], "sparsity": total["zeros"] / max(total["params"], 1),
           "host_latency_s": _na("float model: the host column times int8 TFLite"),
           "latency_s": _na("the targets run int8"), "energy_j": _na("the targets run int8")}
    if ctx.target.kind == "fpga":
        row.update(_qtools(model))
    return row


def _qtools(model):
    from compressor.analysis.energy import qtools_energy
    try:
        return {"qtools_energy_pj": qtools_energy(model)["total_pj"]}
    except Exception as e:
        return {"qtools_energy_pj": _na(_first_line(e))}


def ptq_row(ctx, model):
    device, x_cal, _, _ = _device(ctx, model)
    b = tflite.to_int8_tflite(device, x_cal[:200])   # the converter's default full-integer PTQ
    row = int8_row(ctx, b, device)
    if ctx.target.kind == "fpga":
        row["qtools_energy_pj"] = _na("QTools prices QKeras models; a TFLite flatbuffer has no QKeras quantizers")
    return row


def qat_row(ctx, model, epochs):
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    from compressor.methods.fit import fit

    if ctx.recipe.family == "effects":
        return {"metric": _na("tfmot QAT does not support recurrent layers (GRU/LSTM)")}
    if ctx.recipe.family == "mae":
        return {"metric": _na("tfmot QAT does not support the transformer's MultiHeadAttention/LayerNormalization")}
    clone = tf.keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    try:
        qat = tfmot.quantization.keras.quantize_model(clone)
    except Exception as e:
        return {"metric": _na(f"tfmot.quantize_model refused the model: {_first_line(e)}")}
    train = next(s for s in ctx.recipe.steps if s.kind == "train")
    p = kinds.step_params(ctx.recipe, train)
    d = ctx.data
    t0 = time.perf_counter()
    fit(qat, (d.x_train, d.y_train), (d.x_val, d.y_val), loss=p["loss"], optimizer=p["optimizer"], lr=p["lr"] / 10,
        epochs=epochs, batch_size=p["batch_size"], seed=ctx.seed, loss_params=p["loss_params"])
    seconds = time.perf_counter() - t0
    b = tflite.to_int8_tflite(qat, d.x_train[:200])
    row = int8_row(ctx, b, qat)
    row["note"] = f"{epochs} QAT epochs at lr/10 from the float model, {seconds:.0f} s"
    if ctx.target.kind == "fpga":
        row["qtools_energy_pj"] = _na("QTools prices QKeras models, not tfmot's quantize wrappers")
    return row


def compressor_row(ctx, record, out):
    f = record.get("figures", {})
    val = lambda k: f[k]["value"] if k in f else None   # noqa: E731
    last = record["steps"][-1]["metrics"] if record.get("steps") else {}
    row = {"macs": val("macs"), "sparsity": (val("zeros") or 0) / max(val("params") or 1, 1)}
    tfl = out / "model_int8.tflite"
    if tfl.is_file():
        b = tfl.read_bytes()
        row.update(int8_row(ctx, b, None))
        row["macs"] = val("macs") or row["macs"]
        row["sparsity"] = (val("zeros") or 0) / max(val("params") or 1, 1)   # zeros in the Keras model (pruned)
        row["latency_s"], row["energy_j"] = val("latency_s"), val("energy_j")
    else:   # FPGA: the delivered QKeras model; bytes at the quantizers' widths
        model = ctx.delivered
        row["metric"] = keras_metric(ctx, model)
        layers = counts.keras_layer_counts(model)   # the whole model (the report's layers are the exported part)
        row["bytes"] = int(sum(r["params"] * (r["bits"] or 32) / 8 for r in layers))
        row["bytes_by"] = "whole model, weights at their quantized widths"
        row["host_latency_s"] = _na("the FPGA design is an HLS project, not a TFLite model")
        row["latency_s"], row["energy_j"] = val("latency_s"), val("energy_j")
        energy_step = next((s for s in record["steps"] if s["kind"] == "energy"), None)
        if energy_step:
            row["qtools_energy_pj"] = energy_step["metrics"]["energy_pj"]["value"]
        row["resources"] = {k: val(k) for k in ("LUT", "FF", "DSP", "BRAM_18K") if k in f}
        if row["macs"] is None:    # the recipe stopped before its final counts: count the delivered model here
            total = counts.totals(layers)
            row["macs"], row["sparsity"] = total["macs"], total["zeros"] / max(total["params"], 1)
    del last
    return row


def comparison_rows(ctx, record, float_model, out, qat_epochs):
    """float / ptq / qat / compressor, each a dict of columns or 'not applicable: why'."""
    plain = ctx.models.get("student_no_kd") or float_model
    plain_label = "student_no_kd (same architecture, plain training)" if "student_no_kd" in ctx.models else \
        "the delivered model before the recipe's first quantize/prune/int8 step"
    rows = {"float_source": plain_label}
    for key, fn in (("float", lambda: float_row(ctx, plain)), ("tflite_ptq", lambda: ptq_row(ctx, plain)),
                    ("tfmot_qat", lambda: qat_row(ctx, plain, qat_epochs)),
                    ("compressor", lambda: compressor_row(ctx, record, out))):
        try:
            rows[key] = fn()
        except Exception as e:
            rows[key] = {"metric": f"failed: {_first_line(e)}"}
    rows["metric_name"] = metric_name(ctx)
    return rows


# ---------------------------------------------------------------- real time (effects) and arena fidelity

def realtime(ctx, out, seconds=1.0):
    """1 s of 44.1 kHz audio through teacher and student: float Keras over the sequence, int8 TFLite streaming one
    sample per invoke as the firmware would; the real-time factor and the MAC rate each needs."""
    from compressor.targets import load_target

    rate = 44100
    signal = np.resize(ctx.data.extra["test_dry"], int(seconds * rate)).astype(np.float32)
    targets = {name: load_target(name) for name in ("cortex-m4", "cortex-m7", "cortex-m33")}
    result = {}
    for slot in ("teacher", ctx.recipe.deliver):
        model = ctx.models[slot]
        model.predict(signal[None, :, None], verbose=0)    # trace the predict function for this length first
        t0 = time.perf_counter()
        model.predict(signal[None, :, None], verbose=0)
        keras_s = time.perf_counter() - t0
        packed = streaming.packed_streaming_model(model)
        if slot == ctx.recipe.deliver and (out / "model_int8.tflite").is_file():
            b = (out / "model_int8.tflite").read_bytes()
        else:
            b = tflite.to_int8_tflite(packed, streaming.collect_packed_inputs(packed, ctx.data.x_test[:4], 256))
        t0 = time.perf_counter()
        streaming.run_int8_streaming(b, signal)
        int8_s = time.perf_counter() - t0
        macs = counts.totals(counts.tflite_layer_counts(b))["macs"]
        result[slot] = {"model": model.name, "keras_float_s": keras_s, "int8_streaming_s": int8_s,
                        "rtf_keras": keras_s / seconds, "rtf_int8": int8_s / seconds, "macs_per_sample": macs,
                        "mac_rate": macs * rate,
                        "targets": {n: {"macs_per_second": mcu.macs_per_second(t),
                                        "utilisation": macs * rate / mcu.macs_per_second(t)} for n, t in targets.items()}}
    return result


def arena_fidelity(record):
    f = record.get("figures", {})
    if "arena_bytes" not in f:
        return None
    return {"arena_measured": f["arena_bytes"]["value"],
            "peak_activation_estimate": f.get("peak_activation_bytes", {}).get("value")}


def zoo_names():
    return [name for name, _ in zoo.list_models()]
