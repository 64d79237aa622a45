"""Knowledge distillation as Keras models with their own train_step (keras-io "Knowledge Distillation" style).

- Distiller: Hinton response KD for classifiers (SPEC 2) on logits.
    loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))
  A model that ends in a softmax emits probabilities p: its logits are read as log p (softmax(log p / T) is the
  same softened distribution), so a user's usual classifier is distilled as it is.
- TORDistiller: teacher outlier rejection for regression (SPEC 3, seeds/002 eq. 3.4): element by element, where
  |target - teacher| <= epsilon the student's output counts in its normal loss against the target, elsewhere the
  term is 0 (the source's f(x) = 0 choice). The rejected elements are replaced by the target before the loss, so
  their error is exactly 0 for any loss (ESR + DC included, whose denominators keep the whole target).
- EmbeddingDistiller: a student encoder learns to output the teacher's embeddings (MSE or cosine), SPEC 4; a linear
  projection is trained alongside when their widths differ (dropped afterwards).
- DataFreeDistiller: generator G and student S trained adversarially on inputs assumed N(0,1) (SPEC 3, Kang &
  Kang 2021): G maximizes (T(G(z)) - S(G(z)))^2, S minimizes it on G's samples and on N(0,1) samples.

`distill(distiller, data_train, data_val, ...)` fits any of them and returns (trained student, history dict). The
teacher is frozen and sees the inputs unchanged, so for all but the data-free method its outputs are computed once
before fitting (one teacher pass per clip instead of one per clip per epoch) and ride in the batches as ((x, t), y).
When the training inputs are memory-mapped (a folder's features larger than memory, compressor.audio.cache), the
teacher runs over them in chunks and its outputs go to a memory-mapped file beside the feature cache for the length
of the fit; both are streamed through tf.data (methods.fit.as_dataset), never loaded whole.
"""

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path


import numpy as np
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.losses import get_loss
from compressor.methods.fit import (as_dataset, batches_per_epoch, learning_rate, make_optimizer, on_disk, set_seed,
                                    updates_per_batch)


def _unpack(data):
    x, y, _ = tf.keras.utils.unpack_x_y_sample_weight(data)
    return x, y


class _Base(tf.keras.Model):
    """Shared parts: the student is what gets trained and returned; the teacher is frozen."""

    caches_teacher = True  # its teacher sees the training inputs as they are: its outputs can be computed once

    def __init__(self, student, teacher, **kwargs):
        super().__init__(**kwargs)
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.teacher_cached = False  # set by distill() when the batches carry the teacher's outputs
        self._trackers = {}

    def _split(self, data):
        """(x, y, teacher output) of a batch: the output from the batch if distill() computed it beforehand."""
        x, y = _unpack(data)
        if self.teacher_cached:
            x, teacher_out = x
            return x, y, teacher_out
        return x, y, self.teacher(x, training=False)

    def _track(self, **values):
        for name, value in values.items():
            if name not in self._trackers:
                self._trackers[name] = tf.keras.metrics.Mean(name=name)
            self._trackers[name].update_state(value)
        # only what this step measured: a tracker the other step owns was reset by Keras and would log as 0
        return {name: self._trackers[name].result() for name in values}

    @property
    def metrics(self):
        return list(self._trackers.values())

    def call(self, x, training=False):
        return self.student(x, training=training)


class Distiller(_Base):
    """Hinton KD. Labels are integer class ids (sparse) or one-hot, detected from their shape."""

    def __init__(self, student, teacher, temperature=2.0, alpha=0.5, *, student_probs=False, teacher_probs=False,
                 **kwargs):
        super().__init__(student, teacher, **kwargs)
        if temperature <= 0 or not 0.0 <= alpha <= 1.0:
            raise BadInput(f"distill: temperature {temperature} must be > 0 and alpha {alpha} in [0, 1]")
        self.temperature, self.alpha = float(temperature), float(alpha)
        self.student_probs, self.teacher_probs = student_probs, teacher_probs   # outputs are softmax probabilities

    @staticmethod
    def _logits(output, probs):
        return tf.math.log(tf.clip_by_value(output, 1e-7, 1.0)) if probs else output

    def _ce(self, y, logits):
        if y.shape.rank == logits.shape.rank and y.shape[-1] == logits.shape[-1]:
            return tf.reduce_mean(tf.keras.losses.categorical_crossentropy(y, logits, from_logits=True))
        return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

    def _accuracy(self, y, logits):
        labels = tf.argmax(y, -1) if y.shape.rank == logits.shape.rank and y.shape[-1] == logits.shape[-1] \
            else tf.reshape(tf.cast(y, tf.int64), [-1])
        return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), labels), tf.float32))

    def kd_loss(self, teacher_logits, student_logits):
        t = self.temperature
        return t * t * tf.reduce_mean(tf.keras.losses.kl_divergence(tf.nn.softmax(teacher_logits / t),
                                                                    tf.nn.softmax(student_logits / t)))

    def _terms(self, x, y, teacher_logits, training):
        """The loss and its parts for one batch (student forward inside any active tape)."""
        student_logits = self._logits(self.student(x, training=training), self.student_probs)
        teacher_logits = self._logits(teacher_logits, self.teacher_probs)
        student_loss = self._ce(y, student_logits)
        distillation_loss = self.kd_loss(teacher_logits, student_logits)
        return {"loss": self.alpha * student_loss + (1 - self.alpha) * distillation_loss,
                "student_loss": student_loss, "distillation_loss": distillation_loss,
                "accuracy": self._accuracy(y, student_logits)}

    def train_step(self, data):
        x, y, teacher_logits = self._split(data)
        with tf.GradientTape() as tape:
            terms = self._terms(x, y, teacher_logits, training=True)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(terms["loss"], variables), variables))
        return self._track(**terms)

    def test_step(self, data):
        return self._track(**self._terms(*self._split(data), training=False))


def tor_keep(y_true, y_teacher, epsilon):
    """TOR's mask (seeds/002 eq. 3.4): the elements where the teacher is within epsilon of the target."""
    return tf.abs(tf.cast(y_true, tf.float32) - tf.cast(y_teacher, tf.float32)) <= epsilon


def tor_loss(y_true, y_student, keep, base_loss):
    """base_loss(target, student) counting only the elements `keep` (tor_keep) marks; elsewhere the student's output
    is replaced by the target (no error, no gradient)."""
    y_true = tf.cast(y_true, y_student.dtype)
    return base_loss(y_true, tf.where(keep, y_student, tf.stop_gradient(y_true)))


class TORDistiller(_Base):
    """Teacher outlier rejection for regression; `loss` is the student's normal loss (default ESR + DC). With a
    `truncation` (methods.tbptt) the student is trained on clips with truncated backprop through time, the teacher's
    outputs over each whole clip (its state carried through it) deciding which elements count."""

    def __init__(self, student, teacher, epsilon, loss="esr_dc", truncation=None, **kwargs):
        super().__init__(student, teacher, **kwargs)
        if epsilon < 0:
            raise BadInput(f"distill: TOR epsilon {epsilon} must be >= 0")
        self.epsilon, self.base_loss, self.truncation = float(epsilon), get_loss(loss), truncation

    def train_step(self, data):
        x, y, teacher_out = self._split(data)
        keep = tor_keep(y, teacher_out, self.epsilon)
        variables = self.student.trainable_variables
        if self.truncation is None:
            with tf.GradientTape() as tape:
                loss = tor_loss(y, self.student(x, training=True), keep, self.base_loss)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        else:
            loss = self.truncation.train_on_clips(
                self.optimizer, variables, x, y,
                lambda y_, yhat, start, stop: tor_loss(y_, yhat, keep[:, start:stop], self.base_loss))
        return self._track(loss=loss, kept_fraction=tf.reduce_mean(tf.cast(keep, tf.float32)))

    def test_step(self, data):
        x, y, _ = self._split(data)
        yhat = self.student(x, training=False)
        if self.truncation is not None:
            return self._track(student_loss=self.truncation.warm_loss(y, yhat, self.base_loss))
        return self._track(student_loss=self.base_loss(y, yhat))


class EmbeddingDistiller(_Base):
    """The student encoder matches the teacher encoder's embeddings; labels, if any, are ignored."""

    def __init__(self, student, teacher, loss="mse", **kwargs):
        super().__init__(student, teacher, **kwargs)
        if loss not in ("mse", "cosine"):
            raise BadInput(f"distill: embedding loss {loss!r}: expected 'mse' or 'cosine'")
        self.loss_name = loss
        s_dim, t_dim = student.output_shape[-1], teacher.output_shape[-1]
        self.projection = tf.keras.layers.Dense(t_dim, use_bias=False, name="kd_projection") \
            if s_dim != t_dim else None

    def _loss(self, target, emb):
        if self.projection is not None:
            emb = self.projection(emb)
        if self.loss_name == "mse":
            return tf.reduce_mean(tf.square(target - emb))
        return tf.reduce_mean(1.0 + tf.keras.losses.cosine_similarity(target, emb))  # 0 when aligned

    def train_step(self, data):
        x, _, target = self._split(data)
        with tf.GradientTape() as tape:
            loss = self._loss(target, self.student(x, training=True))
        variables = self.student.trainable_variables + (self.projection.trainable_variables
                                                        if self.projection is not None else [])
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._track(loss=loss)

    def test_step(self, data):
        x, _, target = self._split(data)
        return self._track(loss=self._loss(target, self.student(x, training=False)))


def make_generator(latent_dim, input_shape, width=64):
    """A small MLP generator z -> one input example of `input_shape` (fully known shape)."""
    size = int(np.prod(input_shape))
    return tf.keras.Sequential([tf.keras.Input((latent_dim,)),
                                tf.keras.layers.Dense(width, activation="relu"),
                                tf.keras.layers.Dense(size),
                                tf.keras.layers.Reshape(tuple(input_shape))], name="generator")


class DataFreeDistiller(_Base):
    """Adversarial data-free KD; fit it on any dataset of the wanted length (its content is not used)."""

    caches_teacher = False  # the teacher sees the generator's samples, new every step

    def __init__(self, student, teacher, generator=None, latent_dim=16, input_shape=None, batch_size=32,
                 generator_lr=1e-3, **kwargs):
        super().__init__(student, teacher, **kwargs)
        shape = tuple(input_shape or student.input_shape[1:])
        if None in shape:
            raise BadInput(f"distill: data-free KD needs a fixed input_shape; the student's is {shape}")
        self.input_shape_, self.latent_dim, self.batch = shape, latent_dim, batch_size
        self.generator = generator or make_generator(latent_dim, shape)
        self.generator_optimizer = tf.keras.optimizers.Adam(generator_lr)

    def _gap(self, x, training_student):
        return tf.reduce_mean(tf.square(self.teacher(x, training=False) - self.student(x, training=training_student)))

    def train_step(self, data):
        z = tf.random.normal((self.batch, self.latent_dim))
        with tf.GradientTape() as tape:  # G: make the student disagree with the teacher (eq. 2.20)
            generator_loss = -self._gap(self.generator(z, training=True), False)
        g_vars = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(generator_loss, g_vars), g_vars))
        x_gen = tf.stop_gradient(self.generator(z, training=False))
        x_normal = tf.random.normal((self.batch,) + self.input_shape_)
        with tf.GradientTape() as tape:  # S: agree with the teacher on G's and N(0,1) inputs (eq. 2.21)
            student_loss = self._gap(x_gen, True) + self._gap(x_normal, True)
        s_vars = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(student_loss, s_vars), s_vars))
        return self._track(student_loss=student_loss, generator_loss=generator_loss)

    def test_step(self, data):
        x, y = _unpack(data)
        if y is None:
            return self._track(teacher_gap=self._gap(x, False))
        return self._track(student_mse=tf.reduce_mean(tf.square(tf.cast(y, tf.float32) - self.student(x))))


def distill(distiller, data_train, data_val=None, *, optimizer="adam", lr=1e-3, epochs=1, batch_size=32, seed=0,
            callbacks=(), verbose=0, steps_per_epoch=None, lr_schedule="constant"):
    """Fit `distiller`; returns (the trained student, history: metric -> per-epoch values)."""
    set_seed(seed)
    if data_train is None and not steps_per_epoch:
        raise BadInput("distill: data-free KD needs steps_per_epoch when no training data is given")
    batches = (steps_per_epoch or batches_per_epoch(data_train, batch_size)) * updates_per_batch(distiller, data_train)
    distiller.compile(optimizer=make_optimizer(optimizer, learning_rate(lr, lr_schedule, epochs * batches)))
    with ExitStack() as stack:
        if distiller.caches_teacher and not any(isinstance(d, tf.data.Dataset) for d in (data_train, data_val)):
            folder = None
            if on_disk(data_train) or on_disk(data_val):    # teacher outputs on disk too, removed after the fit
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="teacher-", dir=_scratch()))
            data_train, data_val = (with_teacher_outputs(distiller.teacher, d, batch_size, folder=folder, name=n)
                                    for d, n in ((data_train, "train"), (data_val, "val")))
            distiller.teacher_cached = True
        if data_train is None:  # data-free: a dummy dataset only counts the steps
            data_train = tf.data.Dataset.from_tensors(tf.zeros((1,))).repeat()
        history = distiller.fit(as_dataset(data_train, batch_size, shuffle_seed=seed), epochs=epochs,
                                steps_per_epoch=steps_per_epoch, validation_data=as_dataset(data_val, batch_size),
                                callbacks=list(callbacks), verbose=verbose)
    return distiller.student, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _scratch() -> Path:
    """Where memory-mapped teacher outputs are written: beside the feature cache (a disk, not a RAM-backed /tmp)."""
    from compressor.audio.cache import cache_root

    folder = cache_root().parent / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


CHUNK_BYTES = 64 << 20  # inputs the teacher sees at once when they are memory-mapped


def with_teacher_outputs(teacher, data, batch_size=64, *, folder=None, name="data"):
    """(x, y) -> ((x, teacher(x)), y) and x -> ((x, teacher(x)),), the teacher run once in inference mode.
    With `folder` and memory-mapped x, the teacher runs over x in chunks of about CHUNK_BYTES and its outputs are
    written to a memory-mapped file in `folder` (the caller removes it)."""
    if data is None:
        return None
    x, y = (data[0], data[1]) if isinstance(data, (tuple, list)) else (data, None)
    if folder is None or not isinstance(x, np.memmap):
        outputs = teacher.predict(x, batch_size=batch_size, verbose=0)
    else:
        rows = max(batch_size, CHUNK_BYTES // max(1, x[:1].nbytes))
        first = teacher.predict(np.asarray(x[:rows]), batch_size=batch_size, verbose=0)
        outputs = np.lib.format.open_memmap(os.path.join(folder, f"teacher_{name}.npy"), mode="w+",
                                            dtype=first.dtype, shape=(len(x), *first.shape[1:]))
        outputs[:len(first)] = first
        for start in range(rows, len(x), rows):
            outputs[start:start + rows] = teacher.predict(np.asarray(x[start:start + rows]), batch_size=batch_size,
                                                          verbose=0)
        outputs.flush()
    return ((x, outputs),) if y is None else ((x, outputs), y)
