"""prune reaches its target sparsity on float and QKeras layers; keep_zeros keeps the zeros through a fine-tune."""

import numpy as np
import pytest
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.prune import choose_steps, keep_zeros, measure_sparsity, prune
from compressor.methods.quantize import quantize_model
from compressor.methods.fit import fit

N, BATCH, EPOCHS = 256, 32, 3  # 8 steps an epoch, 24 steps in all


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int64")
    return x, y


def tiny_model():
    tf.keras.utils.set_random_seed(0)
    i = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(8, 3, activation="relu", name="conv")(i)
    x = tf.keras.layers.Flatten()(x)
    o = tf.keras.layers.Dense(2, name="dense")(x)
    return tf.keras.Model(i, o)


def fit_fn(data):
    return lambda m, callbacks: fit(m, data, loss="crossentropy", lr=1e-3, epochs=EPOCHS, batch_size=BATCH,
                                    seed=0, callbacks=callbacks)


@pytest.mark.parametrize("quantized", [False, True])
def test_prune_reaches_057_within_002(quantized):
    model = tiny_model()
    if quantized:
        model, _ = quantize_model(model, {"conv": {"kernel": "quantized_bits(8,0,1)"},
                                          "dense": {"kernel": "quantized_bits(4,0,1)"}})
    before = measure_sparsity(model)["overall"]
    pruned, sparsity = prune(model, target_sparsity=0.57, total_steps=N // BATCH * EPOCHS, fit_fn=fit_fn(tiny_data()))
    print(f"measured sparsity (quantized={quantized}): {sparsity}")
    assert before < 0.05
    assert abs(sparsity["overall"] - 0.57) <= 0.02
    assert set(sparsity["layers"]) == {"conv", "dense"}
    assert all(abs(s - 0.57) <= 0.02 for s in sparsity["layers"].values())
    assert not any("prune_low_magnitude" in l.name for l in pruned.layers)  # stripped
    assert measure_sparsity(model)["overall"] == before  # the input model is left untouched


def test_prune_only_the_chosen_layers():
    _, sparsity = prune(tiny_model(), target_sparsity=0.5, schedule="constant", total_steps=24, layers=["dense"],
                        fit_fn=fit_fn(tiny_data()))
    assert list(sparsity["layers"]) == ["dense"]
    assert abs(sparsity["overall"] - 0.5) <= 0.02


def test_default_frequency_lets_pruning_happen_in_few_steps():
    begin, end, freq = choose_steps(24)
    assert freq <= end - begin and (end - begin) % freq == 0 and end <= 23
    with pytest.raises(BadInput, match="beyond"):
        choose_steps(24, end_step=100)


def test_bad_layer_pattern_raises():
    with pytest.raises(BadInput, match="'gru\\*'"):
        prune(tiny_model(), target_sparsity=0.5, total_steps=24, layers=["gru*"], fit_fn=fit_fn(tiny_data()))


def test_keep_zeros_keeps_the_zeros_through_a_fine_tune():
    model = tiny_model()
    pruned, _ = prune(model, target_sparsity=0.57, total_steps=24, fit_fn=fit_fn(tiny_data()))
    zeros = {w.name: w.numpy() == 0 for w in pruned.trainable_weights if "kernel" in w.name}
    fit(pruned, tiny_data(1), loss="crossentropy", lr=1e-2, epochs=2, batch_size=BATCH, seed=1,
        callbacks=[keep_zeros()])
    after = {w.name: w.numpy() for w in pruned.trainable_weights if "kernel" in w.name}
    for name, mask in zeros.items():
        assert np.all(after[name][mask] == 0)

    # without the callback the same fine-tune moves the zeros: the check above can fail
    pruned2, _ = prune(tiny_model(), target_sparsity=0.57, total_steps=24, fit_fn=fit_fn(tiny_data()))
    fit(pruned2, tiny_data(1), loss="crossentropy", lr=1e-2, epochs=2, batch_size=BATCH, seed=1)
    assert measure_sparsity(pruned2)["overall"] < 0.1


def test_prune_then_quantize_then_qat_keeps_the_zeros():
    pruned, sparsity = prune(tiny_model(), target_sparsity=0.57, total_steps=24, fit_fn=fit_fn(tiny_data()))
    qmodel, _ = quantize_model(pruned, {"conv": {"kernel": "quantized_bits(8,0,1)"},
                                        "dense": {"kernel": "stochastic_ternary"}})
    assert measure_sparsity(qmodel)["overall"] == pytest.approx(sparsity["overall"])  # zeros copied over
    history = fit(qmodel, tiny_data(1), loss="crossentropy", lr=1e-3, epochs=2, batch_size=BATCH, seed=1,
                  callbacks=[keep_zeros()])
    assert np.isfinite(history["loss"][-1])
    assert measure_sparsity(qmodel)["overall"] >= sparsity["overall"]
