"""Fit a Keras model with a loss and optimizer named in a recipe; one seed makes it reproducible.

Data reaches Keras through tf.data, shuffled, batched and prefetched. Arrays in memory are sliced into a Dataset;
memory-mapped arrays (a folder's features larger than memory, compressor.audio.cache) are never loaded whole: a
Dataset of row indices is shuffled and batched, and each batch's rows are read from the map as it is needed.
Nothing here chooses a device: Keras trains on a GPU when TensorFlow sees one, else on the CPU."""

import random

import numpy as np
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.losses import get_loss


def set_seed(seed: int):
    """Seed python, numpy and TF, and make TF ops deterministic (same machine, same result)."""
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


LR_SCHEDULES = ("constant", "cosine")


def learning_rate(lr, schedule="constant", total_steps=None):
    """`lr` held constant, or cosine-decayed to 0 over `total_steps` (a short training then ends on a settled
    model instead of wherever the last large step left it)."""
    if schedule not in LR_SCHEDULES:
        raise BadInput(f"unknown lr_schedule {schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")
    if schedule == "constant":
        return lr
    return tf.keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, int(total_steps)))


def batches_per_epoch(data, batch_size) -> int:
    """Batches in one epoch of (x, y) arrays, x alone, or an already batched Dataset."""
    if isinstance(data, tf.data.Dataset):
        return int(data.cardinality())
    return -(-len(tf.nest.flatten(data)[0]) // batch_size)


def updates_per_batch(model, data) -> int:
    """Optimizer steps `model` takes a batch of `data`: 1, or a TBPTT trainer's updates for a batch of clips
    (methods.tbptt) - a learning-rate schedule counts those."""
    truncation = getattr(model, "truncation", None)
    if truncation is None or data is None or isinstance(data, tf.data.Dataset):
        return 1
    return truncation.updates(tf.nest.flatten(data)[0].shape[1])


def make_optimizer(name, lr):
    """A Keras optimizer by name, any case ("adam", "AdamW", "sgd" ...), with learning rate `lr` (a number or a
    schedule)."""
    if isinstance(name, tf.keras.optimizers.Optimizer):
        return name
    classes = {n.lower(): n for n in dir(tf.keras.optimizers) if isinstance(getattr(tf.keras.optimizers, n), type)
               and issubclass(getattr(tf.keras.optimizers, n), tf.keras.optimizers.Optimizer)}
    if str(name).lower() not in classes or str(name).lower() == "optimizer":
        raise BadInput(f"unknown optimizer {name!r}: expected one of "
                       f"{', '.join(sorted(k for k in classes if k != 'optimizer'))}")
    return getattr(tf.keras.optimizers, classes[str(name).lower()])(learning_rate=lr)


def on_disk(data) -> bool:
    """True when any array of `data` ((x, y), x, or nested tuples) is memory-mapped: it is streamed, not loaded."""
    if data is None or isinstance(data, tf.data.Dataset):
        return False
    return any(isinstance(a, np.memmap) for a in tf.nest.flatten(data))


def as_dataset(data, batch_size, shuffle_seed=None):
    """(x, y) arrays, x alone, or a tf.data.Dataset (already batched) -> a batched, prefetched Dataset."""
    if data is None or isinstance(data, tf.data.Dataset):
        return data
    structure = tuple(data) if isinstance(data, (tuple, list)) else data
    if on_disk(structure):
        return _streamed(structure, batch_size, shuffle_seed)
    ds = tf.data.Dataset.from_tensor_slices(structure)
    if shuffle_seed is not None:
        ds = ds.shuffle(len(tf.nest.flatten(data)[0]), seed=shuffle_seed,
                        reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _streamed(structure, batch_size, shuffle_seed):
    """Batches read from (memory-mapped) arrays by row index: only the shuffled indices (8 bytes a row) and the
    prefetched batches are in memory. Rows of a batch are read in ascending order (sequential reads of the map);
    every array of the batch uses the same rows, so examples and labels stay paired."""
    leaves = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in tf.nest.flatten(structure)]
    n = len(leaves[0])
    if any(len(a) != n for a in leaves):
        raise BadInput(f"training data: arrays of {sorted({len(a) for a in leaves})} rows; they must pair up")
    dtypes = [tf.as_dtype(a.dtype) for a in leaves]

    def rows(index):
        index = np.sort(index)
        return [np.asarray(a[index]) for a in leaves]

    def load(index):
        out = tf.numpy_function(rows, [index], dtypes, stateful=False)
        for t, a in zip(out, leaves):
            t.set_shape((None, *a.shape[1:]))
        return tf.nest.pack_sequence_as(structure, out)

    ds = tf.data.Dataset.range(n)
    if shuffle_seed is not None:
        ds = ds.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True) \
        .prefetch(tf.data.AUTOTUNE)


class EpochBackup(tf.keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore - the model's weights, its optimizer's state and the epoch count after each finished
    epoch; a fit started again on the same folder continues after the last one - except that a fit stopped inside an
    epoch (a stop request or a NaN loss set model.stop_training at a batch end) neither backs up that partial epoch
    as finished nor deletes the last backup: a resumed run continues from it."""

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training:
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.model.stop_training:
            self.delete_checkpoint = False
        super().on_train_end(logs)


def fit(model, data_train, data_val=None, *, loss, optimizer="adam", lr=1e-3, epochs=1, batch_size=32, seed=0,
        callbacks=(), verbose=0, metrics=None, loss_params=None, lr_schedule="constant") -> dict:
    """Compile `model` with `loss` (a name for get_loss, or a callable) and `optimizer`, fit it, return the history
    (metric name -> list of per-epoch values)."""
    set_seed(seed)
    rate = learning_rate(lr, lr_schedule, epochs * batches_per_epoch(data_train, batch_size)
                         * updates_per_batch(model, data_train))
    model.compile(optimizer=make_optimizer(optimizer, rate), loss=get_loss(loss, **(loss_params or {})),
                  metrics=list(metrics or []))
    history = model.fit(as_dataset(data_train, batch_size, shuffle_seed=seed), epochs=epochs,
                        validation_data=as_dataset(data_val, batch_size), callbacks=list(callbacks),
                        verbose=verbose)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}
