"""Generic families for a user's own model, chosen by its task (families.for_task): the task's figures on the
user's labelled data (none without labels), float and int8 on the same test examples, the weight histograms, no
data spec (the user's arrays or audio are the data: compressor/user_data.py) and no pictures a run must have.
A model with recurrent layers runs on the device one time step at a time (export/recurrent.py)."""

import numpy as np

from .. import figures
from .base import Autoencoder, Classifier, Family, Regressor, confusion, softmax_if_logits


def _mse(y, yhat) -> float:
    return float(np.mean((np.asarray(yhat, np.float64) - np.asarray(y, np.float64)) ** 2))


class _Generic:
    """What every generic family shares: nothing is measured without labels; float and int8 on the same test
    examples (accuracy and log loss, or MSE); a recurrent model as a one-step streaming model with its state in and
    out, verified over whole sequences of the user's data."""
    name = "generic"

    def evaluate(self, model, data, split="test") -> dict:
        return super().evaluate(model, data, split) if data.labelled else {}

    def device_form(self, model, data, rebuild) -> tuple:
        from ..export import recurrent
        if not recurrent.has_recurrent(model):     # BadInput for a Bidirectional layer, naming it
            return super().device_form(model, data, rebuild)
        return recurrent.one_step_form(model, data.x_train)

    def device_checks(self, tflite_bytes, model, device, x_verify, data, metrics) -> list:
        from ..export import recurrent
        if device is model:
            return []
        return recurrent.recurrent_checks(model, device, data.x_train, tflite_bytes, x_verify)

    def device_metrics(self, tflite_bytes, model, data, n, quick) -> tuple:
        if not data.labelled:
            return {}, {}
        x, y = data.x_test[:n], data.y_test[:n]
        y8, how = _int8_outputs(tflite_bytes, model, x)
        by = f"{{}}, the same {n} test examples of {data.name}"
        metrics = self.evaluate(model, data)
        if self.task != "classification":
            yf = model.predict(x, verbose=0, batch_size=64)
            metrics.update({
                "int8_mse": figures.measured(_mse(y, y8.reshape(y.shape)), "squared units", by.format(how)),
                "float_mse": figures.measured(_mse(y, yf), "squared units", by.format("keras"))})
            return metrics, {}
        labels = y.astype(int)
        probs = softmax_if_logits(y8.reshape(len(x), -1))
        int8_pred = np.argmax(probs, -1)
        float_pred = np.argmax(model.predict(x, verbose=0, batch_size=64), -1)
        int8_loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1))))
        metrics.update({
            "int8_accuracy": figures.measured(float(np.mean(int8_pred == labels)), "fraction", by.format(how)),
            "float_accuracy": figures.measured(float(np.mean(float_pred == labels)), "fraction", by.format("keras")),
            "int8_log_loss": figures.measured(int8_loss, "nats", by.format(how))})
        classes = len(data.classes)
        return metrics, {"confusion": {"int8": confusion(labels, int8_pred, classes),
                                       "float": confusion(labels, float_pred, classes)}}


def _int8_outputs(tflite_bytes, model, x) -> tuple:
    """(the int8 model's dequantized outputs on inputs `x`, what ran them): the TFLite interpreter, or for a
    recurrent model TFLite Micro streaming each sequence step by step (the last step's output when the model
    returns one output per sequence)."""
    from ..export import recurrent, tflite

    if not recurrent.has_recurrent(model):
        _, yq = tflite.run_tflite(tflite_bytes, x)
        return tflite.dequantize(yq, tflite.output_detail(tflite_bytes)), tflite.interpreter_label(tflite_bytes)
    step, _ = recurrent.tflm_step_function(tflite_bytes)
    outputs, _ = recurrent.stream_sequences(step, recurrent.packed_step_model(model), x)
    per_step = len(model.output_shape) == 3                 # return_sequences: an output at every step
    return (outputs if per_step else outputs[:, -1]), "int8 one-step model streamed in TFLite Micro"


class GenericClassifier(_Generic, Classifier):
    pass


class GenericRegressor(_Generic, Regressor):
    def evaluate(self, model, data, split="test") -> dict:
        if not data.labelled:
            return {}
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        by = f"keras, {len(x)} {split} examples of {data.name}"
        return {"mse": figures.measured(_mse(y, model.predict(x, verbose=0, batch_size=64)), "squared units", by)}


class GenericAutoencoder(_Generic, Autoencoder):
    pass


class GenericMultiOutput(Family):
    """A model with several outputs (heads): no task figure is measured - each output is checked against Keras by
    the int8 export (export/int8.py), one row per output."""
    name = "generic"
    task = "multi-output"


BY_TASK = {f.task: f for f in (GenericClassifier(), GenericRegressor(), GenericAutoencoder(), GenericMultiOutput())}
