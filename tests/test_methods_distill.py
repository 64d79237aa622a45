"""Distillation: Hinton KD beats the same student without KD; TOR masks teacher outliers; the others train."""

import numpy as np
import pytest
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.distill import (DataFreeDistiller, Distiller, EmbeddingDistiller, TORDistiller, distill,
                                      tor_keep, tor_loss, with_teacher_outputs)
from compressor.methods.fit import as_dataset, fit, set_seed

DIM, CLASSES = 20, 5
KD_MARGIN = 0.05  # KD must beat plain training by at least 5 accuracy points on held-out data


def linear(dim_in, dim_out, seed, name):
    tf.keras.utils.set_random_seed(seed)
    return tf.keras.Sequential([tf.keras.Input((dim_in,)), tf.keras.layers.Dense(dim_out)], name=name)


def teacher_task():
    """A teacher that knows the task (a fixed linear map to logits); labels are its argmax. The student sees only
    48 labelled examples: hard labels tell it little, the teacher's soft outputs tell it the whole map."""
    teacher = linear(DIM, CLASSES, 1, "teacher")
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(48, DIM)).astype("float32")
    x_test = rng.normal(size=(2000, DIM)).astype("float32")
    label = lambda x: np.argmax(teacher.predict(x, verbose=0), axis=1)
    return teacher, (x_train, label(x_train)), (x_test, label(x_test))


def accuracy(model, data):
    x, y = data
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def test_hinton_kd_beats_the_student_without_kd():
    teacher, train, test = teacher_task()
    settings = dict(lr=1e-2, epochs=30, batch_size=16, seed=0)
    plain = linear(DIM, CLASSES, 7, "student")
    fit(plain, train, loss="crossentropy", **settings)
    student, history = distill(Distiller(linear(DIM, CLASSES, 7, "student"), teacher, temperature=2.0, alpha=0.1),
                               train, test, **settings)
    acc_plain, acc_kd = accuracy(plain, test), accuracy(student, test)
    print(f"held-out accuracy: plain {acc_plain:.3f}, Hinton KD {acc_kd:.3f}")
    assert acc_kd >= acc_plain + KD_MARGIN
    assert {"loss", "student_loss", "distillation_loss", "accuracy", "val_accuracy"} <= set(history)
    assert history["val_accuracy"][-1] == pytest.approx(acc_kd, abs=1e-6)
    # validation reports the same loss as training, teacher term included (not a reset tracker's 0)
    assert history["val_distillation_loss"][-1] > 0
    assert history["val_loss"][-1] == pytest.approx(0.1 * history["val_student_loss"][-1]
                                                    + 0.9 * history["val_distillation_loss"][-1], rel=1e-4)


def test_teacher_outputs_computed_once_train_the_same_student_as_a_teacher_run_every_batch():
    teacher, train, test = teacher_task()
    settings = dict(lr=1e-2, epochs=3, batch_size=16, seed=0)
    cached = Distiller(linear(DIM, CLASSES, 7, "student"), teacher)
    distill(cached, train, test, **settings)
    assert cached.teacher_cached
    # a tf.data pipeline is left as it is: the teacher runs inside every step (same batches, same order)
    set_seed(0)
    batches = as_dataset(train, 16, shuffle_seed=0), as_dataset(test, 16)
    per_batch = Distiller(linear(DIM, CLASSES, 7, "student"), teacher)
    distill(per_batch, *batches, **settings)
    assert not per_batch.teacher_cached
    for a, b in zip(cached.student.get_weights(), per_batch.student.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the cache is the teacher's inference output, paired with its own clip
    (x, outputs), y = with_teacher_outputs(teacher, train)
    np.testing.assert_allclose(outputs, teacher(x, training=False).numpy(), atol=1e-6)
    assert y is train[1]


def test_distiller_rejects_bad_settings():
    with pytest.raises(BadInput, match="temperature"):
        Distiller(linear(2, 2, 0, "s"), linear(2, 2, 0, "t"), temperature=0)


def test_tor_loss_masks_teacher_outliers():
    y = tf.constant([[0.0, 1.0, 2.0, 3.0]])
    teacher = tf.constant([[0.0, 1.5, 2.0, 10.0]])  # last element: teacher is an outlier for epsilon 0.6
    student = tf.Variable([[1.0, 1.0, 1.0, 1.0]])
    mse = tf.keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        keep = tor_keep(y, teacher, 0.6)
        loss = tor_loss(y, student, keep, mse)
    assert keep.numpy().tolist() == [[True, True, True, False]]
    assert float(loss) == pytest.approx((1.0 + 0.0 + 1.0 + 0.0) / 4)   # the outlier's error (4.0) is not counted
    grad = tape.gradient(loss, student).numpy()
    assert grad[0, 3] == 0.0 and grad[0, 0] != 0.0
    everything = tor_loss(y, student, tor_keep(y, teacher, 100.0), mse)
    assert float(everything) == pytest.approx(float(mse(y, student)))  # large epsilon: the plain loss


def test_tor_distiller_trains_a_regression_student():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32, 1)).astype("float32")
    y = np.tanh(2 * x)
    teacher = tf.keras.Sequential([tf.keras.Input((32, 1)), tf.keras.layers.Lambda(lambda v: tf.tanh(2 * v))])
    tf.keras.utils.set_random_seed(0)
    student = tf.keras.Sequential([tf.keras.Input((32, 1)), tf.keras.layers.Dense(8, activation="tanh"),
                                   tf.keras.layers.Dense(1)])
    student, history = distill(TORDistiller(student, teacher, epsilon=0.1, loss="esr_dc"), (x, y), (x, y),
                               lr=1e-2, epochs=8, batch_size=16)
    assert history["kept_fraction"][-1] == 1.0  # a perfect teacher is never an outlier
    assert history["val_student_loss"][-1] < 0.5 * history["val_student_loss"][0]
    assert "val_kept_fraction" not in history and "val_loss" not in history  # validation measures no TOR terms


def test_embedding_distiller_matches_teacher_embeddings_through_a_projection():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12)).astype("float32")
    teacher = linear(12, 8, 3, "teacher_encoder")
    student = linear(12, 4, 4, "student_encoder")  # narrower: a projection 4 -> 8 is trained alongside
    distiller = EmbeddingDistiller(student, teacher, loss="mse")
    trained, history = distill(distiller, x, x, lr=1e-2, epochs=6, batch_size=32)
    assert trained is student and trained.output_shape[-1] == 4
    assert history["val_loss"][-1] < 0.6 * history["val_loss"][0]


def test_data_free_distiller_moves_the_student_towards_the_teacher():
    teacher = linear(6, 1, 5, "teacher")
    student = linear(6, 1, 6, "student")
    x_check = np.random.default_rng(1).normal(size=(512, 6)).astype("float32")
    gap = lambda: float(np.mean((teacher.predict(x_check, verbose=0) - student.predict(x_check, verbose=0)) ** 2))
    before = gap()
    trained, history = distill(DataFreeDistiller(student, teacher, latent_dim=4, batch_size=32), None,
                               lr=1e-2, epochs=2, steps_per_epoch=40)
    assert {"student_loss", "generator_loss"} <= set(history)
    assert gap() < 0.5 * before


def test_hinton_kd_on_softmax_outputs_is_kd_on_their_logits():
    """A user's classifier usually ends in a softmax: its outputs are read as log-probabilities, which give the same
    softened distributions and cross-entropy as the logits (softmax is shift-invariant), so the loss must agree."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = tf.constant(rng.integers(0, 4, size=16))

    def pair(seed):
        logits = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(4)])
        logits.set_weights([w * 2.0 for w in tf.keras.Sequential(
            [tf.keras.Input((6,)), tf.keras.layers.Dense(4, kernel_initializer=tf.keras.initializers.GlorotNormal(
                seed))]).get_weights()])
        probs = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(4, activation="softmax")])
        probs.set_weights(logits.get_weights())
        return logits, probs

    (s_logits, s_probs), (t_logits, t_probs) = pair(1), pair(2)
    on_logits = Distiller(s_logits, t_logits, temperature=3.0, alpha=0.3)._terms(x, y, t_logits(x), training=False)
    on_probs = Distiller(s_probs, t_probs, temperature=3.0, alpha=0.3, student_probs=True,
                         teacher_probs=True)._terms(x, y, t_probs(x), training=False)
    for name in ("loss", "student_loss", "distillation_loss", "accuracy"):
        assert float(on_probs[name]) == pytest.approx(float(on_logits[name]), rel=1e-4), name
    # read as logits, the same probabilities would give another (wrong) distillation term
    wrong = Distiller(s_probs, t_probs, temperature=3.0, alpha=0.3)._terms(x, y, t_probs(x), training=False)
    assert float(wrong["distillation_loss"]) != pytest.approx(float(on_logits["distillation_loss"]), rel=1e-2)
