"""The `Family` base class, one base per task (its figures), and the helpers the family modules share.

A family is an object: the step kinds call its methods instead of testing its name. The task bases carry what
follows from the task alone (the figures, int8 vs float accuracy for a classifier), so a generic family for a
user's model is a task base with a name.
"""

import numpy as np

from .. import figures
from ..errors import BadInput


class Family:
    """Everything that differs by model family. The defaults suit a model that is used as it is."""
    name: str = ""
    task: str = ""
    data_spec = None            # compressor.audio.dataset.DataSpec; None: the user brings arrays, no data to load
    expected_views: tuple = ()  # the report views a recipe run should record (report/html.missing_views)
    checks_input_shape = True   # False: the model checks its inputs itself (the MAE's masking pipeline)

    def __repr__(self):
        return f"<family {self.name} ({self.task})>"

    def evaluate(self, model, data, split="test") -> dict:
        """The task's figures of `model` on `split` of `data`, measured in this run."""
        return {}

    def fit_arrays(self, model, data, seed) -> tuple:
        """(train, val) for keras fit: (x, y) pairs."""
        return (data.x_train, data.y_train), (data.x_val, data.y_val)

    def truncation(self, model):
        """None, or how `model` is trained with truncated backprop through time (a methods.tbptt.Truncation)."""
        return None

    def device_form(self, model, data, rebuild) -> tuple:
        """(the model as the device runs it, calibration inputs, verification inputs, a note or None).
        `rebuild(**overrides)` builds a fresh model of the same zoo slot with some arguments overridden."""
        return model, data.x_train, data.x_test, None

    def device_metrics(self, tflite_bytes, model, data, n, quick) -> tuple:
        """(figures, state to keep) of the int8 model on the first `n` test examples, beside the float `model`."""
        return {}, {}

    def device_checks(self, tflite_bytes, model, device, x_verify, data, metrics) -> list:
        """Check rows beyond the int8 export's own (analysis.budgets.check_row); `device` and `x_verify` are
        device_form's, `metrics` device_metrics' figures."""
        return []

    def submodel(self, model, data, name) -> tuple:
        """(the part of `model` to export, its test inputs): None or "model" is the whole model."""
        if name in (None, "model"):
            return model, data.x_test
        raise BadInput(f"a {self.name} model has no part {name!r} (only 'model')")

    def before_quantize(self, model, data) -> dict:
        """State to keep from the float model before a quantize step (for the report's pictures)."""
        return {}

    def views(self, models, deliver, data, state) -> dict:
        """The report's pictures of the delivered model `models[deliver]`. Subclasses put theirs first."""
        views = {}
        if "confusion" in state:
            views["confusion"] = {"classes": list(data.classes), **state["confusion"]}
        histograms = weight_histograms(models[deliver])
        if histograms:
            views["weight_histograms"] = histograms
        return views


class Classifier(Family):
    task = "classification"

    def evaluate(self, model, data, split="test") -> dict:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        by = f"keras, {len(x)} {split} examples of {data.name}"
        logits = model.predict(x, verbose=0, batch_size=64)
        probs = softmax_if_logits(logits)
        accuracy = float(np.mean(np.argmax(probs, -1) == y))
        logloss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y.astype(int)], 1e-7, 1))))
        return {"accuracy": figures.measured(accuracy, "fraction", by),
                "log_loss": figures.measured(logloss, "nats", by)}

    def device_metrics(self, tflite_bytes, model, data, n, quick) -> tuple:
        """int8 and float accuracy on the same test examples, and both confusion matrices for the report."""
        from ..export import tflite

        by = f"{{}}, the same {n} test examples of {data.name}"
        y = data.y_test[:n].astype(int)
        _, yq = tflite.run_tflite(tflite_bytes, data.x_test[:n])
        int8_pred = np.argmax(tflite.dequantize(yq, tflite.output_detail(tflite_bytes)), -1)
        float_pred = np.argmax(model.predict(data.x_test[:n], verbose=0, batch_size=64), -1)
        metrics = {"int8_accuracy": figures.measured(float(np.mean(int8_pred == y)), "fraction",
                                                     by.format(tflite.interpreter_label(tflite_bytes))),
                   "float_accuracy": figures.measured(float(np.mean(float_pred == y)), "fraction",
                                                      by.format("keras"))}
        state = {"confusion": {"int8": confusion(y, int8_pred, len(data.classes)),
                               "float": confusion(y, float_pred, len(data.classes))}}
        return metrics, state


class Regressor(Family):
    task = "regression"

    def evaluate(self, model, data, split="test") -> dict:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        by = f"keras, {len(x)} {split} examples of {data.name}"
        yhat = model.predict(x, verbose=0, batch_size=64)
        return {"esr": figures.measured(esr(y, yhat), "ratio", by)}


class Autoencoder(Family):
    task = "autoencoder"

    def evaluate(self, model, data, split="test") -> dict:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        by = f"keras, {len(x)} {split} examples of {data.name}"
        yhat = model.predict(x, verbose=0, batch_size=16)
        return {"mse": figures.measured(float(np.mean((yhat - y) ** 2)), "squared [0,1] units", by)}


class Representation(Family):
    """An embedding model: no figure of its own on the data (a probe step measures it)."""
    task = "representation"


# ---------------------------------------------------------------- shared helpers

def esr(y, yhat) -> float:
    """Error-to-signal ratio (plain numpy), from the losses library."""
    from ..methods.losses import esr as _esr
    return _esr(y, yhat)


def softmax_if_logits(out):
    out = np.asarray(out, dtype=np.float64)
    if np.all(out >= 0) and np.allclose(out.sum(-1), 1, atol=1e-3):
        return out
    e = np.exp(out - out.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def confusion(y, pred, n):
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def small_picture(spectrogram, max_rows=64, max_cols=98):
    """A spectrogram downsampled for the report (block means), as nested lists."""
    a = np.asarray(spectrogram, dtype=np.float32).squeeze()
    fr, fc = max(1, a.shape[0] // max_rows), max(1, a.shape[1] // max_cols)
    a = a[: a.shape[0] // fr * fr, : a.shape[1] // fc * fc]
    a = a.reshape(a.shape[0] // fr, fr, a.shape[1] // fc, fc).mean(axis=(1, 3))
    return np.round(a, 3).tolist()


def weight_histograms(model, max_layers=8) -> dict:
    """Histograms of the quantized kernels as the hardware holds them (QKeras quantizer applied)."""
    out = {}
    for layer in model.layers:
        quantizer = getattr(layer, "kernel_quantizer_internal", None)
        if quantizer is None or not hasattr(layer, "kernel") or len(out) >= max_layers:
            continue
        w = np.asarray(quantizer(layer.kernel)).ravel()
        counts, edges = np.histogram(w, bins=min(41, max(3, len(np.unique(w)))))
        out[layer.name] = {"edges": np.round(edges, 5).tolist(), "counts": counts.tolist()}
    return out
