"""The step kinds a recipe can name: each turns a step's parameters into calls of the library modules (train,
quantize, prune, distill, the exporters) and returns what the run record keeps of it.

Every kind has a parameter table checked before any training (unknown or mistyped parameters are errors naming
the recipe file and step), a `run(ctx, step, params)`, and, if it changes a model's structure, a `restructure`
that a resumed run replays before loading the checkpointed weights.
"""

import numpy as np

from .. import figures, zoo
from . import outcome
from ..errors import BadInput, VerificationFailed
from ..graph import fresh_copy
from ..recipe import STEP_KINDS
from ..schema import Fields
from .train import batches_per_epoch, set_seed  # set_seed: the engine seeds each step through here

TRAINS = STEP_KINDS

_FIT = {"loss": (str, None), "optimizer": (str, "adam"), "lr": (float, 1e-3), "epochs": (int, 1),
        "batch_size": (int, 32), "loss_params": (dict, None), "lr_schedule": (str, "constant")}
PARAMS = {
    "train": _FIT,
    "quantize": {"rules": (dict, ...), "default": (dict, None), "fine_tune": (dict, None)},
    "prune": {**_FIT, "target_sparsity": (float, ...), "schedule": (str, "polynomial"), "layers": (list, None),
              "frequency": (int, None)},
    "distill": {**_FIT, "method": (str, ...), "temperature": (float, 2.0), "alpha": (float, 0.1),
                "epsilon": (float, 0.1)},
    "ptq": {"calibration_samples": (int, 200), "test_samples": (int, None)},
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
    models = {}
    for name, slot in recipe.models.items():
        if slot.zoo is not None:
            try:
                models[name] = zoo.build(slot.zoo, **_fit_to_data(slot, data))
            except BadInput as e:
                raise BadInput(f"{recipe.path}: models.{name}: {e}") from None
        elif slot.path is not None:
            from ..api import load_model
            models[name] = load_model(slot.path)
    for name, slot in recipe.models.items():
        if slot.copy_of is not None:        # same architecture and the same initial weights
            models[name] = fresh_copy(models[slot.copy_of])
    return models


def shipped_weights_warnings(recipe, models) -> list[str]:
    """For a run on the user's data: the slots that start from weights shipped for the built-in data."""
    return [f"model '{name}' starts from {_shipped_origin(models[name], slot.shipped_weights)}, not on this run's "
            "data" for name, slot in recipe.models.items() if slot.shipped_weights]


def _shipped_origin(model, tag) -> str:
    """Which shipped weights, and how they were made (their provenance JSON)."""
    made = zoo.shipped_weights_provenance(model.name, tag)
    return (f"shipped weights '{tag}' of {model.name}, trained on {made['trained_on']}, "
            f"{made['training']['epochs']} epochs ({made['made_by']})")


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
    if params.get("fine_tune") is not None:       # a train step's parameters, nested: the same checks
        ft = Fields(params["fine_tune"], f"{f.where}.fine_tune")
        params["fine_tune"] = {key: ft.get(key, kind, default=default) for key, (kind, default) in _FIT.items()}
        ft.done()
        if params["fine_tune"]["loss"] is None:
            raise BadInput(f"{ft.where}: field 'loss': missing")
    if step.kind == "distill" and params["method"] not in DISTILL_METHODS:
        raise BadInput(f"{f.where}: field 'method': expected one of {', '.join(DISTILL_METHODS)}, "
                       f"got {params['method']!r}")
    for where, fit in ((f.where, params), (f"{f.where}.fine_tune", params.get("fine_tune") or {})):
        least = 0 if step.kind == "train" and fit is params else 1   # a train step may only measure
        if fit.get("epochs") is not None and fit["epochs"] < least:
            raise BadInput(f"{where}: field 'epochs': must be at least {least}"
                           + (" (0 only in a train step: measure the model without training it)" if least else ""))
    if step.kind == "prune" and not 0 < params["target_sparsity"] < 1:
        raise BadInput(f"{f.where}: field 'target_sparsity': must be between 0 and 1")
    if step.kind in ("train", "prune") and params["loss"] is None:
        raise BadInput(f"{f.where}: field 'loss': missing")
    return params


def check_all(ctx):
    """Reject what can be rejected before training: parameters, losses, quantizer strings and layer patterns,
    the data's shape against each model's input."""
    from . import losses, quantize
    from .train import learning_rate, make_optimizer

    for slot, model in ctx.models.items():
        _check_data_shape(ctx, slot, model)
    structure = dict(ctx.models)  # quantize rules are checked against the model as it will be at that step
    for step in ctx.recipe.steps:
        params = step_params(ctx.recipe, step)
        where = f"{ctx.recipe.path}: steps ({step.name})"
        for fit in (params, params.get("fine_tune") or {}):
            try:
                if fit.get("loss"):
                    losses.get_loss(fit["loss"], **(fit.get("loss_params") or {}))
                if fit.get("optimizer"):
                    make_optimizer(fit["optimizer"], 1e-3)
                if fit.get("lr_schedule"):
                    learning_rate(1e-3, fit["lr_schedule"], 1)
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


def _fit(ctx, model, params, callbacks=()):
    from .train import fit

    d = ctx.data
    train, val = (d.x_train, d.y_train), (d.x_val, d.y_val)
    if ctx.recipe.family == "mae" and len(model.inputs) == 2:   # the masked autoencoder: masks and targets
        from ..zoo import mae
        train, val = mae.training_arrays(d.x_train, model, ctx.seed), mae.training_arrays(d.x_val, model, ctx.seed + 1)
        train, val = (tuple(train[0]), train[1]), (tuple(val[0]), val[1])
    history = fit(model, train, val, loss=params["loss"],
                  optimizer=params["optimizer"], lr=params["lr"], epochs=params["epochs"],
                  batch_size=params["batch_size"], seed=ctx.seed, loss_params=params["loss_params"],
                  lr_schedule=params["lr_schedule"], callbacks=[*callbacks, _progress(ctx, params["epochs"])])
    return history


def _progress(ctx, epochs):
    """The callback every fit in a recipe gets: shows each epoch, stops at the end of a batch when the run was
    asked to stop (the engine then keeps the last finished step), and stops a NaN or exploding loss with a hint."""
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not np.isfinite(loss):
                self.model.stop_training = True
                ctx.diverged = f"epoch {self.epoch + 1}, batch {batch + 1}: loss {loss}"
            if ctx.stop_requested:
                self.model.stop_training = True

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
    notes, start, history = _shipped_start_notes(ctx, step.model), {}, {}
    if not params["epochs"]:
        notes.append("0 epochs: the model is measured as it is, not trained")
    else:
        if notes:  # it starts from shipped weights: how they do on this run's data, to compare with after
            start = {f"start_{k}": v for k, v in evaluate(ctx, model).items()}
        history = _fit(ctx, model, params)
    return {"metrics": {**start, **evaluate(ctx, model), **_last(history)}, "notes": notes}


def _shipped_start_notes(ctx, slot) -> list[str]:
    """For a slot's first training, if it starts from shipped weights: what they are."""
    tag = ctx.recipe.models[slot].shipped_weights
    if not tag or slot in ctx.trained:
        return []
    return [f"started from {_shipped_origin(ctx.models[slot], tag)}"]


def _last(history) -> dict:
    return {f"final_{k}": figures.measured(v[-1], "", "keras fit history") for k, v in history.items() if v}


def _quantize(ctx, step, params):
    from .quantize import quantize_model

    before = evaluate(ctx, ctx.models[step.model])
    if ctx.recipe.family == "cae":   # the float reconstruction, for the report's pictures
        ctx.state["float_reconstruction"] = _small(ctx.models[step.model].predict(ctx.data.x_test[:1], verbose=0)[0])
    qmodel, assigned = quantize_model(ctx.models[step.model], params["rules"], params["default"])
    ctx.models[step.model] = qmodel
    metrics = {f"before_{k}": v for k, v in before.items()}
    metrics.update({f"after_ptq_{k}": v for k, v in evaluate(ctx, qmodel).items()})
    if params["fine_tune"]:
        _fit(ctx, qmodel, params["fine_tune"])
    metrics.update(evaluate(ctx, qmodel))
    return {"metrics": metrics, "quantizers": assigned}


def _prune(ctx, step, params):
    from .prune import prune

    model = ctx.models[step.model]
    steps_per_epoch = batches_per_epoch(ctx.data.x_train, params["batch_size"])
    before = evaluate(ctx, model)

    pruned, sparsity = prune(model, target_sparsity=params["target_sparsity"], schedule=params["schedule"],
                             frequency=params["frequency"], layers=params["layers"],
                             fit_fn=lambda wrapped, callbacks: _fit(ctx, wrapped, params, callbacks),
                             total_steps=steps_per_epoch * params["epochs"])
    ctx.models[step.model] = pruned
    by = "fraction of kernel weights equal to 0 after strip_pruning"
    metrics = {f"before_{k}": v for k, v in before.items()}
    metrics.update(evaluate(ctx, pruned))
    metrics["sparsity"] = figures.measured(round(sparsity["overall"], 4), "fraction", by)
    metrics["target_sparsity"] = figures.counted(params["target_sparsity"], "fraction", "recipe")
    return {"metrics": metrics, "sparsity_per_layer": sparsity["layers"]}


def _distill(ctx, step, params):
    from . import distill as kd

    student, teacher = ctx.models[step.model], ctx.models[step.teacher]
    d = ctx.data
    train, val = (d.x_train, d.y_train), (d.x_val, d.y_val)
    method = params["method"]
    if method == "hinton":
        distiller = kd.Distiller(student, teacher, temperature=params["temperature"], alpha=params["alpha"])
    elif method == "tor":
        distiller = kd.TORDistiller(student, teacher, epsilon=params["epsilon"], loss=params["loss"] or "esr_dc")
    elif method == "embedding":
        from ..zoo import mae
        teacher = mae.encoder_of(teacher)
        distiller = kd.EmbeddingDistiller(student, teacher, loss=params["loss"] or "mse")
        train, val = d.x_train, d.x_val
    else:
        distiller = kd.DataFreeDistiller(student, teacher, input_shape=tuple(d.x_train.shape[1:]),
                                         batch_size=params["batch_size"])
        train, val = None, val
    steps = None if train is not None else batches_per_epoch(d.x_train, params["batch_size"])
    student, history = kd.distill(distiller, train, val, optimizer=params["optimizer"], lr=params["lr"],
                                  epochs=params["epochs"], batch_size=params["batch_size"], seed=ctx.seed,
                                  lr_schedule=params["lr_schedule"], callbacks=[_progress(ctx, params["epochs"])],
                                  steps_per_epoch=steps)
    ctx.models[step.model] = student
    metrics = {**evaluate(ctx, student), **_last(history)}
    metrics.update({f"teacher_{k}": v for k, v in evaluate(ctx, ctx.models[step.teacher]).items()})
    return {"metrics": metrics, "method": method}


# ---------------------------------------------------------------- device forms and exports

def device_form(ctx, step, model):
    """(the model as the device runs it, calibration inputs, verification inputs, a note): most models as they
    are; the effects model as a one-step streaming model with one packed [sample, state] tensor in and out; the MAE
    student with a fixed batch of one (so the converter folds its reshapes)."""
    d = ctx.data
    if ctx.recipe.family == "effects":
        from ..export import streaming
        packed = streaming.packed_streaming_model(model)
        states = streaming.collect_packed_inputs(packed, d.x_test[:4], steps=256)
        return packed, states, states[::7], "one-step streaming model, [sample, state] packed in one tensor"
    if ctx.recipe.family == "mae":
        slot = ctx.recipe.models[step.model]
        fixed = zoo.build(slot.zoo, **{**_fit_to_data(slot, d), "batch_size": 1})
        fixed.set_weights(model.get_weights())
        return fixed, d.x_train, d.x_test, "batch fixed at 1 for the converter"
    return model, d.x_train, d.x_test, None


def _ptq(ctx, step, params):
    from .. import atomic
    from ..api import int8_export
    from ..export import carray, tflite

    model = ctx.models[step.model]
    device, x_cal, x_verify, note = device_form(ctx, step, model)
    before = len(ctx.record["steps"])
    classifier = ctx.data.task == "classification"
    tflite_bytes, _ = int8_export(device, x_cal[:params["calibration_samples"]], x_verify, ctx.target,
                                  ctx.record, classifier=classifier, data_label=f"{ctx.data.name}")
    sub_steps = ctx.record["steps"][before:]          # int8_export's conversion and verification, kept in here
    del ctx.record["steps"][before:]
    metrics = {k: v for sub in sub_steps for k, v in sub["metrics"].items()}
    d = ctx.data
    n = min(params["test_samples"] or len(d.x_test), len(d.x_test))
    by = f"{{}}, the same {n} test examples of {d.name}"
    if classifier:
        y = d.y_test[:n].astype(int)
        _, yq = tflite.run_tflite(tflite_bytes, d.x_test[:n])
        int8_pred = np.argmax(tflite.dequantize(yq, tflite.output_detail(tflite_bytes)), -1)
        float_pred = np.argmax(model.predict(d.x_test[:n], verbose=0, batch_size=64), -1)
        metrics["int8_accuracy"] = figures.measured(float(np.mean(int8_pred == y)), "fraction",
                                                    by.format("int8 TFLite interpreter"))
        metrics["float_accuracy"] = figures.measured(float(np.mean(float_pred == y)), "fraction", by.format("keras"))
        ctx.state["confusion"] = {"int8": _confusion(y, int8_pred, len(d.classes)),
                                  "float": _confusion(y, float_pred, len(d.classes))}
    if ctx.recipe.family == "effects":
        from ..export import streaming
        seconds = 0.25 if ctx.quick else 1.0
        dry, wet = d.extra["test_dry"], d.extra["test_wet"]
        length = int(seconds * d.sample_rate)
        y8 = streaming.run_int8_streaming(tflite_bytes, dry[:length])
        metrics["int8_streaming_esr"] = figures.measured(
            _esr(wet[:length], y8), "ratio", f"int8 streaming model in the TFLite interpreter, {seconds} s of test audio")
        ctx.state["int8_excerpt"] = y8[:2000].tolist()
    atomic.write_bytes(ctx.out / "model_int8.tflite", tflite_bytes)
    carray.write_c_array(tflite_bytes, ctx.out)
    ctx.state["tflite"] = "model_int8.tflite"
    notes = [n for sub in sub_steps for n in sub.get("notes", [])] + ([note] if note else [])
    return {"metrics": metrics, "notes": notes,
            "artifacts": {"tflite": "model_int8.tflite", "c_array": "model_data.cc", "c_header": "model_data.h"}}


def _esr(y, yhat):
    from .losses import esr
    return float(esr(np.asarray(y).reshape(1, -1, 1), np.asarray(yhat).reshape(1, -1, 1)))


def _confusion(y, pred, n):
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def _submodel(ctx, slot, submodel):
    """(the part of slot's model to export, its test inputs): the whole model, or the CAE's encoder or decoder."""
    model = ctx.models[slot]
    if submodel in (None, "model"):
        return model, ctx.data.x_test
    if ctx.recipe.family != "cae" or submodel not in ("decoder", "encoder"):
        raise BadInput(f"{ctx.recipe.path}: export_hls of '{slot}': field 'submodel': only the CAE has "
                       "'encoder' and 'decoder' parts")
    from ..zoo import cae
    # the split parts share layers with the whole model, and QTools / hls4ml want a graph of their own
    encoder, decoder = fresh_copy(cae.encoder_of(model)), fresh_copy(cae.decoder_of(model))
    if submodel == "encoder":
        return encoder, ctx.data.x_test
    return decoder, encoder.predict(ctx.data.x_test, verbose=0)


def _export_hls(ctx, step, params):
    from ..export.hls import export_hls

    part, x = _submodel(ctx, step.model, params["submodel"])
    n = params["test_samples"]
    options = {k: params[k] for k in ("io_type", "backend", "strategy", "reuse_factor") if params[k] is not None}
    if params["tolerance_lsb"] is not None:
        options["tolerance_lsb"] = params["tolerance_lsb"]
    task = "classification" if ctx.data.task == "classification" else "regression"
    y_true = ctx.data.y_test[:n] if task == "classification" else None
    try:
        result = export_hls(part, ctx.target, ctx.out / "hls", x[:n], task=task, y_test=y_true, **options)
    except VerificationFailed as err:   # no project is written; the run goes on to its reports, unverified
        ctx.record.setdefault("checks", []).append(_csim_row(err.check, note=str(err)))
        return {"metrics": {}, "notes": [str(err)]}
    ctx.record.setdefault("checks", []).append(_csim_row(result["check"]))
    ctx.state["hls"] = {"slot": step.model, "submodel": params["submodel"], "config": result["config"],
                        "project_dir": "hls",
                        "x_sample": x[:8].tolist()}
    metrics = dict(result["figures"])
    metrics.update({k: figures.measured(round(v, 3), "s", "wall clock, this machine")
                    for k, v in result["timings"].items()})
    return {"metrics": metrics, "notes": result["notes"] + [result["config"]["schedule_reason"]],
            "config": {k: v for k, v in result["config"].items() if k != "hls4ml_config"},
            "artifacts": {"hls_project": "hls/"}}


def _csim_row(check, note=None):
    from ..analysis.budgets import check_row
    return check_row("csim_vs_qkeras", "hls4ml C-sim vs QKeras", check["figure"], check["limit"], check["op"],
                     note=note)


def _energy(ctx, step, params):
    """QTools energy (Horowitz process) of the model, and its ratio to a reference recipe's quantization of the same
    architecture (SPEC 1's energy column is relative to Model 1)."""
    from ..analysis.energy import qtools_energy

    model = ctx.models[step.model]
    reference = _reference_model(ctx, params["reference"]) if params["reference"] else None
    e = qtools_energy(model, reference=reference)
    metrics = {"energy_pj": e["figure"]}
    if reference is not None:
        metrics["energy_ratio"] = figures.estimated(
            round(e["relative"], 4), "ratio", f"QTools (Horowitz 45 nm) energy / that of {params['reference']}")
        metrics["reference_energy_pj"] = figures.estimated(
            e["reference_total_pj"], "pJ", f"QTools (Horowitz 45 nm), {params['reference']} quantizers")
    ctx.state["energy_layers"] = e["layers"]
    return {"metrics": metrics}


def _reference_model(ctx, name):
    """The model this recipe delivers, quantized as recipe `name` quantizes it (structure only: QTools' energy
    depends on the quantizers and the shapes, not on trained values)."""
    from ..recipe import load_recipe
    from .quantize import quantize_model

    ref = load_recipe(name)
    rules = [s for s in ref.steps if s.kind == "quantize"]
    if not rules:
        raise BadInput(f"energy reference recipe '{name}' has no quantize step")
    slot = ctx.recipe.models[ctx.recipe.deliver]
    model = zoo.build(slot.zoo, **_fit_to_data(slot, ctx.data)) if slot.zoo else ctx.delivered
    return quantize_model(model, rules[0].params["rules"], rules[0].params.get("default"))[0]


def _probe(ctx, step, params):
    """A linear probe (logistic regression) on frozen, mean-pooled embeddings of the built-in probe task."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from ..zoo import mae

    model = ctx.models[step.model]
    encoder = mae.encoder_of(model) if len(model.inputs) == 2 else model
    extra = ctx.data.extra
    e_train, e_test = mae.embed(encoder, extra["probe_x_train"]), mae.embed(encoder, extra["probe_x_test"])
    scaler = StandardScaler().fit(e_train)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(e_train), extra["probe_y_train"])
    acc = float(clf.score(scaler.transform(e_test), extra["probe_y_test"]))
    ctx.state.setdefault("probe", {})[step.model] = acc
    by = (f"logistic regression on mean-pooled embeddings, {len(e_train)} train / {len(e_test)} test probe clips "
          f"({', '.join(extra['probe_classes'])})")
    chance = 1 / len(extra["probe_classes"])
    return {"metrics": {"probe_accuracy": figures.measured(acc, "fraction", by),
                        "chance_accuracy": figures.counted(chance, "fraction", "1 / classes")}}


def _generate(ctx, step, params):
    """Generation with the decoder alone: latents drawn from the distribution of the training latents."""
    from ..zoo import cae

    model = ctx.models[step.model]
    encoder, decoder = cae.encoder_of(model), cae.decoder_of(model)
    sampler = cae.LatentSampler().fit(encoder.predict(ctx.data.x_train, verbose=0))
    z = sampler.sample(params["samples"], seed=ctx.seed)
    generated = decoder.predict(z, verbose=0)
    ctx.state["generated"] = [_small(g) for g in generated]
    return {"metrics": {"generated": figures.counted(len(generated), "spectrograms", "decoder on sampled latents"),
                        "generated_mean": figures.measured(float(generated.mean()), "[0,1]", "decoder output")},
            "notes": [f"latent sampler: {sampler.kind}"]}


def _small(spectrogram, max_rows=64, max_cols=98):
    """A spectrogram downsampled for the report (block means), as nested lists."""
    a = np.asarray(spectrogram, dtype=np.float32).squeeze()
    fr, fc = max(1, a.shape[0] // max_rows), max(1, a.shape[1] // max_cols)
    a = a[: a.shape[0] // fr * fr, : a.shape[1] // fc * fc]
    a = a.reshape(a.shape[0] // fr, fr, a.shape[1] // fc, fc).mean(axis=(1, 3))
    return np.round(a, 3).tolist()


_RUN = {"train": _train, "quantize": _quantize, "prune": _prune, "distill": _distill, "ptq": _ptq,
        "export_hls": _export_hls, "energy": _energy, "probe": _probe, "generate": _generate}


# ---------------------------------------------------------------- after the last step

def finish(ctx, cli_budgets):
    """What the delivered model is, its counts and figures on the target, the family's pictures, the budgets."""
    from ..analysis import budgets as rules
    from ..analysis.counts import keras_layer_counts, totals

    record, model, d = ctx.record, ctx.delivered, ctx.data
    record["model"] = {"name": model.name, "source": f"zoo:{ctx.recipe.models[ctx.recipe.deliver].zoo}",
                       "family": ctx.recipe.family, "task": d.task, "input_shape": list(model.input_shape),
                       "output_shape": list(model.output_shape), "slot": ctx.recipe.deliver}
    total = totals(keras_layer_counts(model))
    record["figures"]["params"] = figures.counted(total["params"], "", "keras weights of the delivered model, zeros "
                                                  "included")
    record["figures"]["zeros"] = figures.counted(total["zeros"], "", "keras weights equal to 0")
    if ctx.target.kind == "fpga":
        _finish_fpga(ctx)
    limits = {"target": rules.target_limits(ctx.target), "recipe": dict(ctx.recipe.budgets), "cli": cli_budgets}
    sample_rate = limits["recipe"].pop("realtime_sample_rate", None)
    if sample_rate:
        macs = record["figures"]["macs"]["value"]
        record["figures"]["mac_rate"] = figures.counted(
            macs * sample_rate, "MAC/s", f"MACs per sample ({macs:,}) x {sample_rate:,} samples/s")
        limits["recipe"]["mac_rate"] = ctx.target.macs_per_second
    if ctx.target.kind == "fpga":  # resources the estimate could not size are warned about, not judged
        limits["target"] = {k: v for k, v in limits["target"].items() if k in record["figures"]}
    record["figures"].update(outcome.headline_metrics(record["steps"], ctx.recipe.deliver))
    record.setdefault("checks", []).extend(
        outcome.quality_rows(record["steps"], ctx.recipe.deliver, outcome.comparisons(ctx.recipe), d.task))
    rules.apply(record, limits)     # a failed check (int8, TFLM, C-sim) makes the verdict "unverified"
    record["views"] = _views(ctx)


def _finish_fpga(ctx):
    from ..analysis.fpga import analyze_fpga

    hls = ctx.state.get("hls")
    if hls:
        part, _ = _submodel(ctx, hls["slot"], hls["submodel"])
        x_sample = np.asarray(hls["x_sample"], dtype=np.float32)
        analyze_fpga(part, ctx.target, ctx.record, x_sample=x_sample, hls_config=hls["config"]["hls4ml_config"],
                     project_dir=ctx.out / hls["project_dir"])
    else:
        analyze_fpga(ctx.delivered, ctx.target, ctx.record, x_sample=ctx.data.x_test[:8])
    ctx.record["budgets"], ctx.record["verdict"] = [], None   # judged once, with the recipe's and CLI's limits


def _views(ctx) -> dict:
    d, model, state, views = ctx.data, ctx.delivered, ctx.state, {}
    family = ctx.recipe.family
    if family == "cae":
        spect = {"original": _small(d.x_test[0]), "compressed": _small(model.predict(d.x_test[:1], verbose=0)[0])}
        if "float_reconstruction" in state:
            spect["float"] = state["float_reconstruction"]
        if "generated" in state:
            spect["generated"] = state["generated"]
        views["spectrograms"] = spect
    if "confusion" in state:
        views["confusion"] = {"classes": list(d.classes), **state["confusion"]}
    if family == "effects":
        n = 2000
        dry, wet = d.extra["test_dry"][:n], d.extra["test_wet"][:n]
        views["waveforms"] = {"sample_rate": d.sample_rate, "input": np.round(dry, 4).tolist(),
                              "target": np.round(wet, 4).tolist()}
        for slot in ("teacher", ctx.recipe.deliver):
            if slot in ctx.models:
                y = ctx.models[slot].predict(dry[None, :, None], verbose=0).reshape(-1)
                views["waveforms"]["student" if slot == ctx.recipe.deliver else slot] = np.round(y, 4).tolist()
        if "int8_excerpt" in state:
            views["waveforms"]["student_int8"] = np.round(state["int8_excerpt"], 4).tolist()
    if family == "mae" and "probe" in state:
        probe = state["probe"]
        views["probe"] = {"before": probe.get(next(iter(ctx.recipe.models))), "after": probe.get(ctx.recipe.deliver)}
    histograms = _weight_histograms(model)
    if histograms:
        views["weight_histograms"] = histograms
    return views


def _weight_histograms(model, max_layers=8) -> dict:
    """Histograms of the quantized kernels as the hardware holds them (QKeras quantizer applied)."""
    out = {}
    for layer in model.layers:
        quantizer = getattr(layer, "kernel_quantizer_internal", None)
        if quantizer is None or not hasattr(layer, "kernel") or len(out) >= max_layers:
            continue
        w = np.asarray(quantizer(layer.kernel)).ravel()
        counts, edges = np.histogram(w, bins=min(41, max(3, len(np.unique(w)))))
        out[layer.name] = {"edges": np.round(edges, 5).tolist(), "counts": counts.tolist()}
    return out
