"""compressor's search against random search and AutoQKeras (issue 18, item 7), on one small model and data, one
space - each Dense layer's kernel quantizer, quantized_bits(b,0,1) with b in BITS, biases and activations 8-bit in
every arm - and the same trial count:

    compressor   compress search (Ray Tune, Optuna's multi-objective TPE sampler told the energy budget as a
                 constraint, no plan run twice), accuracy against QTools energy
    random       the same search with Optuna's RandomSampler in its place (random search without repeats, on Ray
                 Tune; RandomSampler ignores constraints)
    AutoQKeras   qkeras.autoqkeras.AutoQKeras, keras-tuner Bayesian optimization, goal "energy" (QTools)

Each trial fine-tunes the float model's weights with its quantizers for EPOCHS epochs. Every trial's accuracy is on
the same held-out split (AutoQKeras's validation data is that split, as the search's metric is); every trial's
energy is compressor.analysis.energy.qtools_energy of its quantized model (AutoQKeras's are rebuilt from its trial
hyperparameters), so all arms are priced by one function. QTools energy, not bits, is the cost: it is AutoQKeras's
own goal and compressor's FPGA energy figure, and it weighs a layer's bits by how often they are used.

    python -m benchmarks.bench_search [section.md]    the markdown section for benchmarks/results.md, printed and
                                                      written to section.md (Ray prints its own lines too)
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BITS = [2, 4, 8]
# AutoQKeras quantizes a Dense layer's ReLU as quantized_relu(activation_bits) - range [0, 1) - whatever its config
# says for activations: every arm uses that one
ACTIVATION = "quantized_relu(8,0)"
TRIALS = 12
EPOCHS = 5
LAYERS = ("d0", "d1", "out")
CLASSES = 4
BUDGET_FRACTION = 0.6      # the energy budget: this fraction of the all-8-bit plan's energy
SEED = 0                   # the data and the float model
SEARCH_SEEDS = (0, 1, 2)   # each arm runs once a seed: one search's front is luck as much as method
REPEATS = {}               # (arm, seed) -> proposals of a plan already tried (told, not run), from the search's log
FAILED = {}                # (arm, seed) -> trials whose run failed (no figures: not in the arm's rows)


def make_model_and_data(folder):
    """A float MLP trained here, and its labelled data: 4 classes of 16 features, each class a shifted mean in a few
    features under noise - learnable, and hurt by 2-bit kernels."""
    import tensorflow as tf

    from compressor.user_data import user_dataset

    rng = np.random.default_rng(SEED)
    y = rng.integers(0, CLASSES, 1200)
    x = rng.normal(0, 1, (len(y), 16)).astype("float32")
    for c in range(CLASSES):
        x[y == c, 4 * c:4 * c + 4] += 0.9
    tf.keras.utils.set_random_seed(SEED)
    model = tf.keras.Sequential([tf.keras.Input((16,)), tf.keras.layers.Dense(32, activation="relu", name="d0"),
                                 tf.keras.layers.Dense(32, activation="relu", name="d1"),
                                 tf.keras.layers.Dense(CLASSES, name="out")], name="bench_mlp")
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    np.savez(folder / "data.npz", x=x, y=y)
    return model, user_dataset(folder / "data.npz", model, "classification", seed=SEED)


def recipe_file(folder) -> Path:
    """recipes/default_fpga.yaml with one rule a layer and the kernel-bits space in its search block."""
    import yaml

    from compressor.recipe import RECIPES_DIR

    data = yaml.safe_load((RECIPES_DIR / "default_fpga.yaml").read_text())
    data["name"] = "bench_search"
    quantize = data["steps"][0]["params"]
    quantize["rules"] = {name: {"kernel": "quantized_bits(8,0,1)", "bias": "quantized_bits(8,3,1)"}
                         for name in LAYERS}
    quantize["default"] = {"activation": ACTIVATION}
    quantize["fine_tune"] = {"loss": "auto", "lr": 0.001, "epochs": EPOCHS, "batch_size": 32}
    data["steps"][1]["params"]["test_samples"] = 16
    data["search"] = {"objectives": {"metric": "accuracy", "cost": "energy_pj"}, "trials": TRIALS,
                      "space": {"kernel": {name: BITS for name in LAYERS}}}
    path = folder / "bench_search.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def energy_of(model) -> float:
    from compressor.analysis.energy import qtools_energy
    return float(qtools_energy(model)["total_pj"])


def eight_bit_energy(model) -> float:
    from compressor.methods.quantize import quantize_model
    rules = {name: {"kernel": "quantized_bits(8,0,1)", "bias": "quantized_bits(8,3,1)"} for name in LAYERS}
    return energy_of(quantize_model(model, rules, {"activation": ACTIVATION})[0])


def compressor_arm(model, data, recipe, folder, budget, seed, random_sampler=False) -> list[dict]:
    """(accuracy, energy, bits) of every trial of compress search; random_sampler: Optuna's RandomSampler instead
    of TPE (the tuner builds its sampler by this name when the search starts)."""
    import optuna

    from compressor.search import search
    from compressor.search.runner import NoPlanFits

    tpe = optuna.samplers.TPESampler
    if random_sampler:
        optuna.samplers.TPESampler = lambda seed=None, **_: optuna.samplers.RandomSampler(seed=seed)
    arm = "random" if random_sampler else "compressor"
    out = folder / f"{arm}_{seed}"
    lines = []
    try:
        search(recipe, model=model, target="pynq-z2", data=data, out=out, seed=seed, trials=TRIALS,
               budgets={"energy_pj": budget}, log=lines.append)
    except NoPlanFits:
        pass
    finally:
        optuna.samplers.TPESampler = tpe
    said = [line for line in lines if "already tried" in line]      # tuner.py's line on the repeats
    REPEATS[(arm, seed)] = int(said[0].split("proposed ")[1].split()[0]) if said else 0
    trials = json.loads((out / "search.json").read_text())["trials"]
    FAILED[(arm, seed)] = sum(t["status"] == "failed" for t in trials)
    return [{"accuracy": t["figures"]["accuracy"], "energy_pj": t["figures"]["energy_pj"],
             "bits": [t["plan"][f"kernel:{name}"] for name in LAYERS]} for t in trials if t["status"] == "ok"]


def named_q_layers():
    """qkeras.utils.model_quantize - what AutoQKeras builds every trial with - fails on Keras 2.15 (SPEC 0): its JSON
    says `registered_name: null`, and Keras then looks QDense up only among its own layers. Name each QKeras class
    in the JSON before Keras reads it."""
    import qkeras.utils

    read = qkeras.utils.model_from_json
    if getattr(read, "names_q_layers", False):
        return

    def model_from_json(text, custom_objects=None):
        def name(node):
            if isinstance(node, dict):
                if node.get("class_name") in (custom_objects or {}) and node.get("registered_name") is None:
                    node["registered_name"] = node["class_name"]
                node = list(node.values())
            for child in node if isinstance(node, list) else ():
                name(child)
        config = json.loads(text)
        name(config)
        return read(json.dumps(config), custom_objects=custom_objects)

    model_from_json.names_q_layers = True
    qkeras.utils.model_from_json = model_from_json


def autoqkeras_arm(model, data, folder, seed) -> list[dict]:
    import tensorflow as tf
    from qkeras.autoqkeras import AutoQKeras

    named_q_layers()

    # AutoQKeras compiles every trial's model with the given model's optimizer object: Keras 2.15's optimizers
    # refuse variables they were not built with, the legacy Adam takes them (same Adam, same default rate)
    float_model = tf.keras.models.clone_model(model)
    float_model.set_weights(model.get_weights())
    float_model.compile(tf.keras.optimizers.legacy.Adam(), model.loss, metrics=["acc"])

    config = {"kernel": {f"quantized_bits({b},0,1)": b for b in BITS}, "bias": {"quantized_bits(8,3,1)": 8},
              "activation": {ACTIVATION: 8}, "linear": {"quantized_bits(8,3)": 8}}
    goal = {"type": "energy", "params": {
        "delta_p": 8.0, "delta_n": 8.0, "rate": 2.0, "stress": 1.0, "process": "horowitz",
        "parameters_on_memory": ["sram", "sram"], "activations_on_memory": ["sram", "sram"],
        "rd_wr_on_io": [False, False], "min_sram_size": [0, 0], "source_quantizers": ["int8"],
        "reference_internal": "int8", "reference_accumulator": "int32"}}
    auto = AutoQKeras(float_model, metrics=["acc"], activation_bits=8, goal=goal,
                      output_dir=str(folder / f"autoqkeras_{seed}"),
                      quantization_config=config, limit={"Dense": [8, 8, 8]},     # a layer type left out is not tuned
                      mode="bayesian", max_trials=TRIALS, transfer_weights=True,
                      tune_filters="none", tune_filters_exceptions="", seed=seed)
    auto.fit(data.x_train, data.y_train, validation_data=(data.x_test, data.y_test), batch_size=32, epochs=EPOCHS,
             verbose=0)
    rows = []
    for trial in auto.tuner.oracle.trials.values():
        if trial.score is None:
            continue
        qmodel = auto.tuner.hypermodel.build(trial.hyperparameters)
        bits = [int(qmodel.get_layer(name).kernel_quantizer_internal.bits) for name in LAYERS]
        rows.append({"accuracy": float(trial.metrics.get_last_value("val_acc")), "energy_pj": energy_of(qmodel),
                     "bits": bits})
    return rows


def hypervolume(rows, reference_energy) -> float:
    """Of the front in (1 - accuracy, energy / the all-8-bit plan's), both minimized, reference point (1, 1.1)."""
    from optuna._hypervolume import compute_hypervolume

    if not rows:
        return 0.0
    points = np.array([[1 - r["accuracy"], r["energy_pj"] / reference_energy] for r in rows])
    points = points[(points[:, 0] < 1) & (points[:, 1] < 1.1)]
    return float(compute_hypervolume(points, np.array([1.0, 1.1]))) if len(points) else 0.0


def main():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import keras_tuner
    import optuna
    import qkeras
    import ray
    import tensorflow as tf

    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        folder = Path(tmp)
        model, data = make_model_and_data(folder)
        e8 = eight_bit_energy(model)
        budget = BUDGET_FRACTION * e8
        recipe = recipe_file(folder)
        arms = {"compressor (Optuna TPE, multi-objective, budget as constraint, Ray Tune)":
                lambda seed: compressor_arm(model, data, recipe, folder, budget, seed),
                "random search (Optuna RandomSampler, Ray Tune)":
                lambda seed: compressor_arm(model, data, recipe, folder, budget, seed, random_sampler=True),
                "AutoQKeras (keras-tuner Bayesian, goal energy)":
                lambda seed: autoqkeras_arm(model, data, folder, seed)}
        results, seconds = {}, {}
        for name, run in arms.items():
            t0 = time.perf_counter()
            results[name] = [run(seed) for seed in SEARCH_SEEDS]
            seconds[name] = (time.perf_counter() - t0) / len(SEARCH_SEEDS)
    lines = ["## 8. Search against AutoQKeras and random search", "",
             f"`python -m benchmarks.bench_search` on this machine (2 CPUs, shared), {time.strftime('%Y-%m-%d')}, "
             f"total {(time.perf_counter() - t_all) / 60:.1f} min; tensorflow {tf.__version__}, qkeras "
             f"{qkeras.__version__}, keras-tuner {keras_tuner.__version__}, ray {ray.__version__}, optuna "
             f"{optuna.__version__}. A float MLP (16 -> 32 -> 32 -> {CLASSES}, trained here on 1,200 synthetic "
             f"examples of {CLASSES} classes); the space: each Dense layer's kernel quantized_bits(b,0,1), b in {BITS} "
             f"({len(BITS) ** len(LAYERS)} plans), biases quantized_bits(8,3,1), activations {ACTIVATION}; {TRIALS} "
             f"trials an arm, each a {EPOCHS}-epoch quantization-aware fine-tune from the float weights (AutoQKeras "
             f"adds its own early stopping); data and float model from seed {SEED}, each arm run with search "
             f"seeds {', '.join(map(str, SEARCH_SEEDS))}. Accuracy: measured on the held-out split "
             f"({len(data.x_test)} examples; AutoQKeras's validation data, the search's metric split). Energy: QTools "
             f"(horowitz, SRAM), estimated by compressor.analysis.energy for every arm; the all-8-bit plan's is "
             f"{e8:,.0f} pJ. Budget: energy <= {BUDGET_FRACTION:g} x that ({budget:,.0f} pJ), given to both Ray Tune "
             f"arms; AutoQKeras takes no budget (its goal rewards lower energy). Hypervolume: of each arm's trials in "
             f"(1 - accuracy, energy / the all-8-bit plan's), reference point (1, 1.1), by optuna._hypervolume "
             f"(larger is better).", "",
             "| arm | hypervolume, seed " + " / ".join(map(str, SEARCH_SEEDS)) + " | mean | best accuracy under "
             "the budget, a seed (its bits) | distinct plans a seed (repeats proposed, not run) | wall time a search |",
             "|---|---|---|---|---|---|"]
    for name, runs in results.items():
        arm = "random" if name.startswith("random") else "compressor" if name.startswith("compressor") else None
        volumes = [hypervolume(rows, e8) for rows in runs]
        bests = []
        for rows in runs:
            top = max((r for r in rows if r["energy_pj"] <= budget), key=lambda r: r["accuracy"], default=None)
            bests.append(f"{top['accuracy']:.4f} ({'/'.join(map(str, top['bits']))})" if top else "none fits")
        plans = [_distinct(rows, REPEATS.get((arm, s)), FAILED.get((arm, s))) for rows, s in zip(runs, SEARCH_SEEDS)]
        lines.append(f"| {name} | {' / '.join(f'{v:.4f}' for v in volumes)} | {np.mean(volumes):.4f} | "
                     f"{'; '.join(bests)} | {' / '.join(plans)} | {seconds[name] / 60:.1f} min |")
    text = "\n".join(lines) + "\n"
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    print(json.dumps(results), file=sys.stderr)       # every trial, for the record


def _distinct(rows, repeats, failed) -> str:
    distinct = str(len({tuple(r["bits"]) for r in rows}))
    return distinct if repeats is None else f"{distinct} ({repeats}{f'; {failed} failed' if failed else ''})"


if __name__ == "__main__":
    main()
