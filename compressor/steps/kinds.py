"""The step kinds a recipe can name: each turns a step's parameters into calls of the library modules (train,
quantize, prune, distill, the exporters) and returns what the run record keeps of it.

Every kind has a parameter table checked before any training (unknown or mistyped parameters are errors naming
the recipe file and step), a `run(ctx, step, params)`, and, if it changes a model's structure, a `restructure`
that a resumed run replays before loading the checkpointed weights.
"""

import numpy as np

from .. import figures, zoo
from ..errors import BadInput
from ..recipe import STEP_KINDS
from ..schema import Fields
from .train import set_seed  # noqa: F401  (the engine seeds each step through here)

TRAINS = STEP_KINDS

_FIT = {"loss": (str, None), "optimizer": (str, "adam"), "lr": (float, 1e-3), "epochs": (int, 1),
        "batch_size": (int, 32), "loss_params": (dict, None)}
PARAMS = {
    "train": _FIT,
    "quantize": {"rules": (dict, ...), "default": (dict, None), "fine_tune": (dict, None)},
    "prune": {**_FIT, "target_sparsity": (float, ...), "schedule": (str, "polynomial"), "layers": (list, None),
              "frequency": (int, None)},
    "distill": {**_FIT, "method": (str, ...), "temperature": (float, 2.0), "alpha": (float, 0.1),
                "epsilon": (float, 0.1)},
    "ptq": {"calibration_samples": (int, 200), "test_samples": (int, 200)},
    "export_hls": {"submodel": (str, None), "io_type": (str, None), "backend": (str, None),
                   "strategy": (str, None), "reuse_factor": (int, None), "test_samples": (int, 4),
                   "tolerance_lsb": (float, None)},
    "energy": {"reference": (str, None)},
    "probe": {},
    "generate": {"samples": (int, 4)},
}
DISTILL_METHODS = ("hinton", "tor", "embedding", "data_free")


# ---------------------------------------------------------------- building and checking, before any work

def build_models(recipe, data) -> dict:
    """Every model slot of the recipe; a zoo model is fitted to the data (input shape, class count) unless the
    recipe sets those arguments itself."""
    import tensorflow as tf

    models = {}
    for name, slot in recipe.models.items():
        if slot.zoo is not None:
            models[name] = zoo.build(slot.zoo, **_fit_to_data(slot, data))
        elif slot.path is not None:
            from ..api import load_keras_model
            models[name] = load_keras_model(slot.path)
    for name, slot in recipe.models.items():
        if slot.copy_of is not None:        # same architecture and the same initial weights
            source = models[slot.copy_of]
            models[name] = tf.keras.models.clone_model(source)
            models[name].set_weights(source.get_weights())
    return models


def _fit_to_data(slot, data) -> dict:
    args = dict(slot.args)
    accepted = zoo.spec(slot.zoo).default_kwargs
    if "input_shape" in accepted and "input_shape" not in args:
        args["input_shape"] = tuple(data.x_train.shape[1:])
    if "classes" in accepted and "classes" not in args and data.classes:
        args["classes"] = len(data.classes)
    return args


def step_params(recipe, step) -> dict:
    """The step's parameters, validated against its kind's table, defaults filled in."""
    index = recipe.steps.index(step)
    f = Fields(step.params, f"{recipe.path}: steps[{index}] ({step.name}).params")
    params = {key: f.get(key, kind, default=default) for key, (kind, default) in PARAMS[step.kind].items()}
    f.done()
    if step.kind == "distill" and params["method"] not in DISTILL_METHODS:
        raise BadInput(f"{f.where}: field 'method': expected one of {', '.join(DISTILL_METHODS)}, "
                       f"got {params['method']!r}")
    if step.kind == "prune" and not 0 < params["target_sparsity"] < 1:
        raise BadInput(f"{f.where}: field 'target_sparsity': must be between 0 and 1")
    if step.kind in ("train", "prune") and params["loss"] is None:
        raise BadInput(f"{f.where}: field 'loss': missing")
    return params


def check_all(ctx):
    """Reject what can be rejected before training: parameters, losses, quantizer strings and layer patterns,
    the data's shape against each model's input."""
    from . import losses, quantize

    for slot, model in ctx.models.items():
        _check_data_shape(ctx, slot, model)
    structure = dict(ctx.models)  # quantize rules are checked against the model as it will be at that step
    for step in ctx.recipe.steps:
        params = step_params(ctx.recipe, step)
        where = f"{ctx.recipe.path}: steps ({step.name})"
        for fit in (params, params.get("fine_tune") or {}):
            if fit.get("loss"):
                try:
                    losses.get_loss(fit["loss"], **(fit.get("loss_params") or {}))
                except BadInput as e:
                    raise BadInput(f"{where}: {e}") from None
        if step.kind == "quantize":
            try:
                structure[step.model] = quantize.quantize_model(structure[step.model], params["rules"],
                                                                params["default"])[0]
            except BadInput as e:
                raise BadInput(f"{where}.params.rules: {e}") from None
        if step.kind == "energy" and params["reference"]:
            from ..recipe import recipe_path
            try:
                recipe_path(params["reference"])
            except BadInput as e:
                raise BadInput(f"{where}.params.reference: {e}") from None


def _check_data_shape(ctx, slot, model):
    if ctx.recipe.family in ("mae",):
        return  # the MAE consumes frames through its own masking pipeline; its builder checks them
    want = tuple(model.inputs[0].shape[1:])
    have = tuple(ctx.data.x_train.shape[1:])
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have)):
        raise BadInput(f"data {ctx.data.name}: examples of shape {have} do not fit model '{slot}' "
                       f"(input {want})")


# ---------------------------------------------------------------- running

def run(ctx, step) -> dict:
    params = step_params(ctx.recipe, step)
    return _RUN[step.kind](ctx, step, params)


def restructure(ctx, step):
    """Replay the structural part of a finished step (no training) so checkpointed weights fit."""
    if step.kind == "quantize":
        params = step_params(ctx.recipe, step)
        from .quantize import quantize_model
        ctx.models[step.model] = quantize_model(ctx.models[step.model], params["rules"], params["default"])[0]


def _fit(ctx, model, params, loss=None):
    from .train import fit

    d = ctx.data
    history = fit(model, (d.x_train, d.y_train), (d.x_val, d.y_val), loss=loss or params["loss"],
                  optimizer=params["optimizer"], lr=params["lr"], epochs=params["epochs"],
                  batch_size=params["batch_size"], seed=ctx.seed, loss_params=params["loss_params"],
                  callbacks=[_progress(ctx, params["epochs"])])
    return history


def _progress(ctx, epochs):
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            shown = ", ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items())
            ctx.log(f"epoch {epoch + 1}/{epochs}: {shown}")
    return Progress()


def evaluate(ctx, model, split="test") -> dict:
    """The family's task metric of `model` on the test split, measured in this run."""
    from .losses import esr

    d = ctx.data
    x, y = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
    by = f"keras, {len(x)} {split} examples of {d.name}"
    if d.task == "classification":
        logits = model.predict(x, verbose=0, batch_size=64)
        probs = _softmax_if_logits(logits)
        accuracy = float(np.mean(np.argmax(probs, -1) == y))
        logloss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y.astype(int)], 1e-7, 1))))
        return {"accuracy": figures.measured(accuracy, "fraction", by),
                "log_loss": figures.measured(logloss, "nats", by)}
    if d.task == "regression":
        yhat = model.predict(x, verbose=0, batch_size=64)
        return {"esr": figures.measured(esr(y, yhat), "ratio", by)}
    if d.task == "autoencoder":
        yhat = model.predict(x, verbose=0, batch_size=16)
        return {"mse": figures.measured(float(np.mean((yhat - y) ** 2)), "squared [0,1] units", by)}
    return {}


def _softmax_if_logits(out):
    out = np.asarray(out, dtype=np.float64)
    if np.all(out >= 0) and np.allclose(out.sum(-1), 1, atol=1e-3):
        return out
    e = np.exp(out - out.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _train(ctx, step, params):
    model = ctx.models[step.model]
    history = _fit(ctx, model, params)
    return {"metrics": {**evaluate(ctx, model), **_last(history)}}


def _last(history) -> dict:
    return {f"final_{k}": figures.measured(v[-1], "", "keras fit history") for k, v in history.items() if v}


def _quantize(ctx, step, params):
    from .quantize import quantize_model

    before = evaluate(ctx, ctx.models[step.model])
    qmodel, assigned = quantize_model(ctx.models[step.model], params["rules"], params["default"])
    ctx.models[step.model] = qmodel
    metrics = {f"before_{k}": v for k, v in before.items()}
    metrics.update({f"after_ptq_{k}": v for k, v in evaluate(ctx, qmodel).items()})
    if params["fine_tune"]:
        fine = {**{k: d for k, (_, d) in _FIT.items()}, **params["fine_tune"]}
        _fit(ctx, qmodel, fine)
    metrics.update(evaluate(ctx, qmodel))
    return {"metrics": metrics, "quantizers": assigned}


def _prune(ctx, step, params):
    from .prune import prune

    model = ctx.models[step.model]
    steps_per_epoch = -(-len(ctx.data.x_train) // params["batch_size"])
    before = evaluate(ctx, model)

    def fit_fn(wrapped, callbacks):
        from .train import fit
        d = ctx.data
        fit(wrapped, (d.x_train, d.y_train), (d.x_val, d.y_val), loss=params["loss"], optimizer=params["optimizer"],
            lr=params["lr"], epochs=params["epochs"], batch_size=params["batch_size"], seed=ctx.seed,
            loss_params=params["loss_params"], callbacks=[*callbacks, _progress(ctx, params["epochs"])])

    pruned, sparsity = prune(model, target_sparsity=params["target_sparsity"], schedule=params["schedule"],
                             frequency=params["frequency"], layers=params["layers"], fit_fn=fit_fn,
                             total_steps=steps_per_epoch * params["epochs"])
    ctx.models[step.model] = pruned
    by = "fraction of kernel weights equal to 0 after strip_pruning"
    metrics = {f"before_{k}": v for k, v in before.items()}
    metrics.update(evaluate(ctx, pruned))
    metrics["sparsity"] = figures.measured(round(sparsity["overall"], 4), "fraction", by)
    metrics["target_sparsity"] = figures.counted(params["target_sparsity"], "fraction", "recipe")
    return {"metrics": metrics, "sparsity_per_layer": sparsity["layers"]}


_RUN = {"train": _train, "quantize": _quantize, "prune": _prune}
