"""Generic families for a user's own model, chosen by its task (families.for_task): the task's figures on the
user's labelled data (none without labels), float and int8 on the same test examples, the weight histograms, no
data spec (the user's arrays or audio are the data: compressor/user_data.py) and no pictures a run must have.
A model with recurrent layers runs on the device one time step at a time (export/recurrent.py)."""

import numpy as np

from .. import figures
from .base import Autoencoder, Classifier, Family, Regressor, softmax_if_logits


def _mse(y, yhat) -> float:
    return float(np.mean((np.asarray(yhat, np.float64) - np.asarray(y, np.float64)) ** 2))


class _Generic:
    """What every generic family shares: nothing is measured without labels; float and int8 MSE for the tasks
    without classes."""
    name = "generic"

    def evaluate(self, model, data, split="test") -> dict:
        return super().evaluate(model, data, split) if data.labelled else {}

    def device_metrics(self, tflite_bytes, model, data, n, quick) -> tuple:
        if not data.labelled:
            return {}, {}
        from ..export import tflite

        by = f"{{}}, the same {n} test examples of {data.name}"
        _, yq = tflite.run_tflite(tflite_bytes, data.x_test[:n])
        y8 = tflite.dequantize(yq, tflite.output_detail(tflite_bytes))
        if self.task == "classification":     # int8 and float accuracy, and both log losses, on the same examples
            metrics, state = super().device_metrics(tflite_bytes, model, data, n, quick)
            probs, y = softmax_if_logits(y8), data.y_test[:n].astype(int)
            int8_loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1))))
            metrics["int8_log_loss"] = figures.measured(int8_loss, "nats", by.format("int8 TFLite interpreter"))
            return {**self.evaluate(model, data), **metrics}, state
        y8 = y8.reshape(data.y_test[:n].shape)
        yf = model.predict(data.x_test[:n], verbose=0, batch_size=64)
        return {**self.evaluate(model, data),
                "int8_mse": figures.measured(_mse(data.y_test[:n], y8), "squared units", by.format("int8 TFLite")),
                "float_mse": figures.measured(_mse(data.y_test[:n], yf), "squared units", by.format("keras"))}, {}


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
