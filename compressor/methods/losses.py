"""Losses by name, for recipes and for Python users.

    get_loss("mse")
    get_loss("crossentropy", from_logits=True, sparse=True)   # logits by default: the zoo's classifiers emit logits
    get_loss("esr_dc", coeff=0.95)                            # SPEC 3, audio-effect emulators
    get_loss("mae_ce", ...)                                   # SPEC 4, registered lazily from compressor.zoo.mae

A registry entry is a factory `factory(**params) -> loss(y_true, y_pred)`; `register_loss` adds one.
"""

import functools
import importlib

import numpy as np
import tensorflow as tf

from compressor.errors import BadInput

PRE_EMPHASIS = 0.95  # H(z) = 1 - 0.95 z^-1 (SPEC 3, seeds/002 eq. 3.2)
_EPS = 1e-10


def _per_example_mean(x):
    """Mean over every axis but the batch axis."""
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def pre_emphasis(x, coeff=PRE_EMPHASIS):
    """y[n] = x[n] - coeff * x[n-1] along the time axis (axis 1); like the source's Conv1d([-coeff, 1]) the output
    is one sample shorter (no x[-1] is assumed)."""
    return x[:, 1:] - coeff * x[:, :-1]


def esr_dc_loss(coeff=PRE_EMPHASIS):
    """ESR + DC on pre-emphasized output and target (SPEC 3, seeds/002 eq. A.1a), as the source's training code
    (CoreAudioML's ESRLoss / DCLoss) computes them: both over the whole batch, ESR = sum (y - yhat)^2 / sum y^2,
    DC = mean over examples of |mean_t(y - yhat)|^2, over mean y^2. A ratio per example would let a near-silent
    segment (a note's tail) weigh as much as a loud one and blow the loss up (measured: 155 on the built-in fuzz's
    first epoch). Shapes [batch, time] or [batch, time, ch]."""

    def esr_dc(y_true, y_pred):
        y = pre_emphasis(tf.cast(y_true, y_pred.dtype), coeff)
        yhat = pre_emphasis(y_pred, coeff)
        energy = tf.reduce_mean(tf.square(y)) + _EPS
        esr_term = tf.reduce_mean(tf.square(y - yhat)) / energy
        dc_term = tf.reduce_mean(tf.square(_per_example_mean(y - yhat))) / energy
        return esr_term + dc_term

    return esr_dc


def crossentropy_loss(from_logits=True, sparse=True):
    """Cross-entropy; `from_logits=True` (default) takes logits, False takes probabilities; `sparse` = integer labels."""
    cls = tf.keras.losses.SparseCategoricalCrossentropy if sparse else tf.keras.losses.CategoricalCrossentropy
    return cls(from_logits=from_logits)


def mse_loss():
    return tf.keras.losses.MeanSquaredError()


def mae_loss():
    return tf.keras.losses.MeanAbsoluteError()


def _mae_ce(**params):
    """SPEC 4's weighted masked/visible cross-entropy lives with the MAE model (compressor.zoo.mae, another module);
    imported only when asked for so the steps do not depend on the zoo."""
    try:
        module = importlib.import_module("compressor.zoo.mae")
    except ImportError as e:
        raise BadInput(f"loss 'mae_ce' needs compressor.zoo.mae, which cannot be imported: {e}") from e
    loss = module.packed_loss  # y_true packs targets and mask (compressor.zoo.mae.training_arrays)
    return functools.partial(loss, **params) if params else loss


_REGISTRY = {
    "mse": mse_loss,
    "mae": mae_loss,
    "crossentropy": crossentropy_loss,
    "esr_dc": esr_dc_loss,
    "mae_ce": _mae_ce,
}


def register_loss(name: str, factory):
    """Add a loss by name: `factory(**params)` returns `loss(y_true, y_pred)`."""
    _REGISTRY[name] = factory


def loss_names():
    return sorted(_REGISTRY)


def get_loss(name, **params):
    """The loss called `name`, built with `params`; a callable passes through unchanged."""
    if callable(name):
        return name
    if name not in _REGISTRY:
        raise BadInput(f"unknown loss {name!r}; expected one of: {', '.join(loss_names())}")
    try:
        return _REGISTRY[name](**params)
    except TypeError as e:
        raise BadInput(f"loss {name!r}: bad parameters {sorted(params)}: {e}") from e


def esr(y, yhat) -> float:
    """Error-to-signal ratio, plain numpy (the metric of SPEC 3, no pre-emphasis): sum (y - yhat)^2 / sum y^2."""
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    return float(np.sum((y - yhat) ** 2) / np.sum(y ** 2))
