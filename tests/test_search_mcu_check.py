"""The MCU cheap check, without Ray: the int8 figures of the model a plan would export (flash, tensor arena, the
calibrated latency and energy estimates) depend on its graph alone, so an untrained plan's are the trained and
pruned model's, and a plan over one of those budgets is rejected before training."""

import numpy as np
import pytest

from compressor.engine import load_checked_recipe
from compressor.search.feasible import cheap_check, int8_estimate


@pytest.fixture(scope="module")
def conv_and_data(tmp_path_factory):
    import tensorflow as tf

    from compressor.user_data import user_dataset

    folder = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (64, 12, 12, 1)).astype("float32")
    np.savez(folder / "d.npz", x=x, y=(x[:, :6].mean(axis=(1, 2, 3)) > 0).astype("int64"))
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((12, 12, 1)), tf.keras.layers.Conv2D(16, 3, activation="relu"),
                                 tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(2)], name="conv")
    return model, user_dataset(folder / "d.npz", model, "classification", quick=True)


def test_the_untrained_plans_int8_figures_are_the_trained_and_pruned_models(conv_and_data):
    import tensorflow as tf

    model, data = conv_and_data
    recipe = load_checked_recipe("default_mcu")
    untrained = int8_estimate(model, recipe, data)
    trained = tf.keras.models.clone_model(model)
    trained.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trained.fit(data.x_train, data.y_train, epochs=2, verbose=0)
    for layer in trained.layers:        # half the weights zero, as a pruned model's
        layer.set_weights([np.where(np.abs(w) < np.median(np.abs(w)), 0, w) for w in layer.get_weights()])
    after = int8_estimate(trained, recipe, data)
    assert set(untrained) == {"flash_bytes", "arena_bytes", "latency_s", "energy_j"}
    for name in untrained:
        assert after[name]["value"] == pytest.approx(untrained[name]["value"], rel=0.01), name
    assert untrained["latency_s"]["provenance"] == "estimated"


def test_a_plan_over_the_flash_budget_is_rejected_before_training(conv_and_data):
    model, data = conv_and_data
    recipe = load_checked_recipe("default_mcu")
    flash = int8_estimate(model, recipe, data)["flash_bytes"]["value"]
    figures, failed = cheap_check(model, {"cli": {"flash_bytes": flash - 1}}, recipe, data)
    assert figures["flash_bytes"] == flash and [(r["name"], r["source"]) for r in failed] == [("flash_bytes", "cli")]
    assert cheap_check(model, {"cli": {"flash_bytes": flash}}, recipe, data)[1] == []
    # the model as given is measured whatever its int8 figures (int8=False): only counts are judged then
    assert cheap_check(model, {"cli": {"flash_bytes": flash - 1}}, recipe, data, int8=False)[1] == []
