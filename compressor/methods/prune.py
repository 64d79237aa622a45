"""Magnitude pruning with tfmot, then the zeros kept through later fine-tunes.

    pruned, sparsity = prune(model, target_sparsity=0.57, total_steps=200, fit_fn=lambda m, cbs: fit(..., callbacks=cbs))

`fit_fn(model, callbacks)` fine-tunes the wrapped model (it must pass `callbacks` on to Keras' fit: they hold
tfmot's UpdatePruningStep). Pruning works on QKeras layers too (they are tfmot PrunableLayers; SPEC 0).
"""

import fnmatch

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import PruneRegistry

from compressor.errors import BadInput
from compressor.graph import fresh_copy

_sparsity = tfmot.sparsity.keras
_KERNELS = ("kernel", "depthwise_kernel")  # the weights magnitude pruning zeroes (biases are left alone)


def _kernel_weights(layer):
    return [w for w in layer.weights if w.name.split("/")[-1].split(":")[0] in _KERNELS]


def _prunable(layer):
    return bool(_kernel_weights(layer)) and (
        isinstance(layer, tfmot.sparsity.keras.PrunableLayer)
        or PruneRegistry.supports(layer))  # QKeras layers are PrunableLayer


def schedule_for(kind, target_sparsity, begin_step, end_step, frequency):
    if kind == "constant":
        return _sparsity.ConstantSparsity(target_sparsity, begin_step=begin_step, frequency=frequency)
    if kind == "polynomial":
        return _sparsity.PolynomialDecay(initial_sparsity=0.0, final_sparsity=target_sparsity,
                                         begin_step=begin_step, end_step=end_step, frequency=frequency)
    raise BadInput(f"pruning schedule {kind!r}: expected 'polynomial' or 'constant'")


def choose_steps(total_steps, begin_step=0, end_step=None, frequency=None):
    """(begin, end, frequency) so that pruning really happens within `total_steps` training steps: tfmot prunes
    only at steps where (step - begin) % frequency == 0, so a default frequency of 100 on a short fine-tune prunes
    nothing (SPEC 0). Default: reach the target at 70 % of the steps (the rest recovers), in about 10 updates, with
    `end` on an update step so the last update is the final sparsity."""
    if end_step is None:
        if total_steps is None:
            raise BadInput("prune: give end_step or total_steps (the training steps fit_fn will run)")
        end_step = begin_step + max(1, int(0.7 * (total_steps - begin_step)))
    span = end_step - begin_step
    if span < 1:
        raise BadInput(f"prune: end_step ({end_step}) must be after begin_step ({begin_step})")
    if total_steps is not None and end_step > total_steps - 1:
        raise BadInput(f"prune: end_step {end_step} is beyond the {total_steps} training steps; pruning would "
                       "never reach its target")
    if frequency is None:
        frequency = max(1, span // 10)
    end_step = begin_step + frequency * max(1, span // frequency)  # land the last update on end_step
    return begin_step, end_step, frequency


def _select(model, layers):
    """Names of the layers to prune: all prunable ones, or those matching the glob patterns in `layers`."""
    prunable = [l.name for l in model.layers if _prunable(l)]
    if layers is None:
        return set(prunable)
    chosen = set()
    for pattern in layers:
        hits = [n for n in prunable if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise BadInput(f"prune layers pattern {pattern!r} matches no prunable layer; prunable layers are: "
                           f"{', '.join(prunable)}")
        chosen.update(hits)
    return chosen


def prune(model, *, target_sparsity, schedule="polynomial", begin_step=0, end_step=None, frequency=None,
          layers=None, fit_fn, total_steps=None):
    """Wrap the chosen layers with `prune_low_magnitude`, fine-tune through `fit_fn(model, callbacks)`, strip.
    Returns (stripped model, measured sparsity: {"layers": {name: fraction}, "overall": fraction})."""
    if not 0.0 <= target_sparsity < 1.0:
        raise BadInput(f"prune target_sparsity {target_sparsity}: expected a fraction in [0, 1)")
    begin_step, end_step, frequency = choose_steps(total_steps, begin_step, end_step, frequency)
    chosen = _select(model, layers)
    sched = schedule_for(schedule, target_sparsity, begin_step, end_step, frequency)

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        return _sparsity.prune_low_magnitude(clone, pruning_schedule=sched) if layer.name in chosen else clone

    wrapped = tf.keras.models.clone_model(model, clone_function=wrap)
    for layer in model.layers:  # the clone has fresh weights: copy the trained ones in
        target = wrapped.get_layer(layer.name) if layer.name not in chosen else wrapped.get_layer(
            "prune_low_magnitude_" + layer.name).layer
        if layer.get_weights():
            target.set_weights(layer.get_weights())
    fit_fn(wrapped, [_sparsity.UpdatePruningStep()])
    stripped = _sparsity.strip_pruning(wrapped)
    # strip_pruning reuses the layers it did not wrap, which keep the pruned graph's nodes as extra inbound
    # nodes; QTools walks those and fails
    clean = fresh_copy(stripped)
    return clean, measure_sparsity(clean, only=chosen)


def measure_sparsity(model, only=None) -> dict:
    """Fraction of exactly-zero kernel weights, per layer with a kernel and overall (zeros / all kernel weights)."""
    per_layer, zeros, total = {}, 0, 0
    for layer in model.layers:
        if only is not None and layer.name not in only:
            continue
        for w in _kernel_weights(layer):
            v = w.numpy()
            per_layer[layer.name] = float(np.mean(v == 0))
            zeros += int(np.sum(v == 0))
            total += v.size
    return {"layers": per_layer, "overall": zeros / total if total else 0.0}


class KeepZeros(tf.keras.callbacks.Callback):
    """Re-apply the zero mask of every kernel after each training batch, so a fine-tune after pruning (e.g. QKeras
    quantization-aware training) keeps the pruned weights at zero. tfmot's pruning-preserving QAT covers only
    tfmot's own QAT, not QKeras layers, hence this callback."""

    def on_train_begin(self, logs=None):
        self._masks = [(w, tf.constant(w.numpy() != 0, dtype=w.dtype))
                       for layer in self.model.layers for w in _kernel_weights(layer)]

    def on_train_batch_end(self, batch, logs=None):
        for w, mask in self._masks:
            w.assign(w * mask)


def keep_zeros():
    """The callback that keeps the current zeros of the fitted model's kernels through fit (Keras sets the model)."""
    return KeepZeros()
