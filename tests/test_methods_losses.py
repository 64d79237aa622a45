"""Losses by name: ESR + DC against hand arithmetic, the registry, and its errors."""

import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.losses import esr, get_loss, register_loss


def test_esr_dc_equals_hand_computed_value():
    y = np.array([[1.0, 2.0, 3.0, 4.0]], dtype="float32")
    yhat = np.array([[1.0, 1.0, 3.0, 3.0]], dtype="float32")
    # pre-emphasis y[n] - 0.95 y[n-1]: y -> [1.05, 1.10, 1.15], yhat -> [0.05, 2.05, 0.15], error [1.0, -0.95, 1.0]
    esr_term = (1.0 + 0.9025 + 1.0) / (1.1025 + 1.21 + 1.3225)          # 2.9025 / 3.635
    dc_term = ((1.0 - 0.95 + 1.0) / 3) ** 2 / ((1.1025 + 1.21 + 1.3225) / 3)
    got = float(get_loss("esr_dc")(tf.constant(y), tf.constant(yhat)))
    assert got == pytest.approx(esr_term + dc_term, rel=1e-5)
    assert got == pytest.approx(0.899587, rel=1e-5)


def test_esr_dc_is_over_the_whole_batch_and_zero_when_equal():
    """As the source's training code (CoreAudioML) computes it: one ratio over the batch, so a near-silent example
    weighs by its energy, not as much as a loud one."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2, 50, 1)).astype("float32")
    y[1] *= 1e-4                                            # a note's tail: almost silent
    yhat = y + rng.normal(scale=0.1, size=y.shape).astype("float32")
    loss = get_loss("esr_dc")
    assert float(loss(y, y)) == pytest.approx(0.0, abs=1e-7)
    e, ee = y[:, 1:] - 0.95 * y[:, :-1], (y - yhat)[:, 1:] - 0.95 * (y - yhat)[:, :-1]
    energy = np.mean(e ** 2)
    expected = np.mean(ee ** 2) / energy + np.mean(ee.mean(axis=(1, 2)) ** 2) / energy
    assert float(loss(y, yhat)) == pytest.approx(expected, rel=1e-4)
    assert float(loss(y, yhat)) < 0.1          # a ratio per example would be ~1e6 for the silent one


def test_esr_metric():
    assert esr([1.0, -1.0, 2.0], [1.0, 0.0, 2.0]) == pytest.approx(1.0 / 6.0)


def test_crossentropy_from_logits_and_probabilities_agree():
    logits = tf.constant([[2.0, 0.5, -1.0]])
    a = float(get_loss("crossentropy")(tf.constant([0]), logits))
    b = float(get_loss("crossentropy", from_logits=False)(tf.constant([0]), tf.nn.softmax(logits)))
    assert a == pytest.approx(b, rel=1e-5) and a == pytest.approx(-np.log(np.exp(2) / np.exp([2, .5, -1]).sum()))


def test_unknown_loss_lists_the_names():
    with pytest.raises(BadInput, match="unknown loss 'esr'.*esr_dc.*mae_ce.*mse"):
        get_loss("esr")


def test_bad_parameters_raise():
    with pytest.raises(BadInput, match="'mse'"):
        get_loss("mse", temperature=2)


def test_register_and_lazy_mae_ce(monkeypatch):
    register_loss("half_mse", lambda: lambda y, p: 0.5 * tf.reduce_mean(tf.square(y - p)))
    assert float(get_loss("half_mse")(tf.constant([2.0]), tf.constant([0.0]))) == pytest.approx(2.0)

    fake = types.ModuleType("compressor.zoo.mae")
    fake.packed_loss = lambda y, p, sigma=0.5: sigma * tf.reduce_sum(y - p)
    monkeypatch.setitem(sys.modules, "compressor.zoo.mae", fake)
    assert float(get_loss("mae_ce", sigma=0.9)(tf.constant([1.0]), tf.constant([0.0]))) == pytest.approx(0.9)
