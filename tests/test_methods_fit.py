"""The train step's learning-rate schedules: cosine decays to zero exactly at the last batch of the last epoch."""

import numpy as np
import pytest
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.fit import fit, learning_rate


def test_cosine_schedule_starts_at_lr_and_ends_at_zero():
    schedule = learning_rate(0.01, "cosine", total_steps=100)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.005, rel=1e-5)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    assert learning_rate(0.01, "constant") == 0.01


def test_fit_spans_the_cosine_over_all_its_batches():
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    x, y = np.ones((70, 3), np.float32), np.ones((70, 1), np.float32)
    fit(model, (x, y), loss="mse", lr=0.01, epochs=3, batch_size=32, lr_schedule="cosine")
    steps = int(model.optimizer.iterations)
    assert steps == 3 * 3                            # 70 examples in batches of 32: 3 batches per epoch
    last = 0.01 * 0.5 * (1 + np.cos(np.pi * 8 / 9))  # the rate of the 9th and last batch: one step before zero
    assert float(model.optimizer.learning_rate) == pytest.approx(last, rel=1e-5)


def test_unknown_schedule_is_named():
    with pytest.raises(BadInput, match="unknown lr_schedule 'linear': expected one of constant, cosine"):
        learning_rate(0.01, "linear", 10)
