"""Truncated backprop through time (methods/tbptt.py): the state-passing model is the sequence model cut into
stretches, a batch of clips takes an update every 2048 samples after a 200-sample warm-up with the state carried
between stretches, and TOR distillation trains the same way."""

import numpy as np
import pytest
import tensorflow as tf

from compressor import families
from compressor.errors import BadInput
from compressor.methods.distill import TORDistiller, distill
from compressor.methods.fit import fit, updates_per_batch
from compressor.methods.losses import get_loss
from compressor.methods.tbptt import Trainer
from compressor.zoo import effects

CLIP = 200 + 2 * 2048 + 100      # warm-up, two whole stretches and a short last one: 3 updates


def _random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _clips(n, length, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = np.stack([0.5 * np.sin(t * rng.uniform(0.01, 0.1)) + 0.05 * rng.standard_normal(length) for _ in range(n)])
    return x[..., None].astype(np.float32), np.tanh(3 * x)[..., None].astype(np.float32)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_passing_model_is_the_sequence_model_in_stretches(cell):
    seq = _random_weights(effects.build(cell, 8))
    passing = effects.state_passing_model(seq)
    x, _ = _clips(2, 300)
    states = [np.zeros((2, n), np.float32) for n in effects.state_sizes(seq)]
    pieces = []
    for start, stop in ((0, 120), (120, 250), (250, 300)):
        out = passing([x[:, start:stop], *states])
        pieces.append(out[0].numpy())
        states = [s.numpy() for s in out[1:]]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), seq(x).numpy(), atol=1e-5)


def test_a_batch_of_clips_takes_an_update_every_2048_samples_with_the_state_carried():
    model = _random_weights(effects.build("gru", 4))
    trainer = Trainer(model, families.get("effects").truncation(model))
    x, y = _clips(3, CLIP)
    assert updates_per_batch(trainer, (x, y)) == 3
    # learning rate 0: the weights stay, so the mean stretch loss the trainer reports must be that of the whole
    # clip's output cut at 200 / 2248 / 4296 - which holds only if each stretch starts from the state the one
    # before it left (a reset state gives other outputs) and the warm-up counts in no loss
    history = fit(trainer, (x, y), loss="esr_dc", optimizer="sgd", lr=0.0, epochs=1, batch_size=3)
    assert int(trainer.optimizer.iterations) == 3
    whole, loss = model(x).numpy(), get_loss("esr_dc")
    stretches = [(200, 2248), (2248, 4296), (4296, CLIP)]
    expected = np.mean([float(loss(y[:, a:b], whole[:, a:b])) for a, b in stretches])
    assert history["loss"][0] == pytest.approx(expected, rel=1e-4)


def test_the_trainer_learns_and_trains_the_models_own_weights():
    tf.keras.utils.set_random_seed(0)
    model = effects.build("gru", 4)
    before = [w.copy() for w in model.get_weights()]
    x, y = _clips(4, CLIP)
    untrained = float(get_loss("esr_dc")(y[:, 200:], model(x).numpy()[:, 200:]))
    history = fit(Trainer(model, families.get("effects").truncation(model)), (x, y), (x, y), loss="esr_dc",
                  lr=0.1, epochs=8, batch_size=4)
    assert history["val_loss"][-1] < 0.5 * untrained          # measured 0.066 vs 0.246
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_tor_distillation_with_truncation_trains_the_student():
    teacher = _random_weights(effects.build("gru", 4), seed=1)
    x, _ = _clips(4, CLIP)
    y = teacher.predict(x, verbose=0)                     # a perfect teacher: never an outlier
    student = effects.build("gru", 4)
    distiller = TORDistiller(student, teacher, epsilon=0.1, truncation=families.get("effects").truncation(student))
    _, history = distill(distiller, (x, y), (x, y), lr=1e-2, epochs=6, batch_size=4)
    assert int(distiller.optimizer.iterations) == 6 * 3
    assert history["kept_fraction"][-1] == 1.0
    assert history["val_student_loss"][-1] < 0.7 * history["val_student_loss"][0]


def test_only_the_zoo_form_trains_with_truncation():
    family = families.get("effects")
    x = tf.keras.Input((None, 1))
    dense_only = tf.keras.Model(x, tf.keras.layers.Dense(1, name="rnn")(x))   # named 'rnn', not a recurrent layer
    assert family.truncation(dense_only) is None
    assert families.get("speech").truncation(effects.build("gru", 4)) is None


def test_clips_no_longer_than_the_warm_up_are_refused():
    model = effects.build("gru", 4)
    x, y = _clips(2, 150)
    with pytest.raises(BadInput, match="clips of 150 samples; they must be of a fixed length longer than the 200"):
        fit(Trainer(model, families.get("effects").truncation(model)), (x, y), loss="esr_dc", epochs=1, batch_size=2)
