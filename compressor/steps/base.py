"""What every step kind shares: the registry, the StepKind base, the result a step returns, the parameter table's
checks, and the training glue (fit with the run's progress, stop and divergence handling).

A step kind is one module that defines a StepKind subclass and decorates it with @register; the recipe schema and
the engine read the registry, there is no second list (hls4ml registers its passes and NNCF its algorithms alike).
"""

from dataclasses import dataclass, field

import numpy as np

from .. import figures
from ..errors import BadInput
from ..schema import Fields

KINDS = {}                              # name (and alias) -> StepKind instance
ALIASES = {}                            # an older name -> the kind's name

FIT_PARAMS = {"loss": (str, None), "optimizer": (str, "adam"), "lr": (float, 1e-3), "epochs": (int, 1),
              "batch_size": (int, 32), "loss_params": (dict, None), "lr_schedule": (str, "constant")}


@dataclass
class StepResult:
    """What the run record keeps of a step: its figures, notes, files (role -> path in the output folder) and any
    kind-specific detail (quantizers assigned, per-layer sparsity, the hls4ml configuration ...)."""
    metrics: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    artifacts: dict = field(default_factory=dict)
    detail: dict = field(default_factory=dict)


class StepKind:
    """One kind of recipe step. Subclasses set `name` and `params` (key -> (type, default); `...` = required) and
    implement `run`; `check` rejects what it can before any training; `restructure` replays a structural change
    (no training) so a resumed run's checkpointed weights fit."""
    name = ""
    aliases = ()
    params = {}
    trains = False          # a model is trained by it (it may then be exported or teach)
    needs_trained = False   # it exports or measures a model that must have been trained first
    takes_teacher = False
    least_epochs = 1

    def validate(self, params, where):
        """Checks on the parameter values beyond their types (a parameter table cannot say these)."""

    def check(self, ctx, step, params, structure):
        """Before any training: what can be rejected given the models as they will be at this step."""

    def run(self, ctx, step, params) -> StepResult:
        raise NotImplementedError

    def restructure(self, ctx, step, params):
        """A structural change to replay on a resumed run (quantize); nothing for most kinds."""


def register(cls):
    kind = cls()
    KINDS[kind.name] = kind
    for alias in kind.aliases:
        ALIASES[alias] = kind.name
        KINDS[alias] = kind
    return cls


def get(name) -> StepKind:
    if name not in KINDS:
        raise BadInput(f"unknown step kind {name!r} (known: {', '.join(names())})")
    return KINDS[name]


def names() -> list[str]:
    return [n for n in KINDS if n not in ALIASES]


def step_params(recipe, step) -> dict:
    """The step's parameters, validated against its kind's table, defaults filled in."""
    kind = get(step.kind)
    index = recipe.steps.index(step)
    f = Fields(step.params, f"{recipe.path}: steps[{index}] ({step.name}).params")
    params = {key: f.get(key, typ, default=default) for key, (typ, default) in kind.params.items()}
    f.done()
    if params.get("fine_tune") is not None:       # a train step's parameters, nested: the same checks
        ft = Fields(params["fine_tune"], f"{f.where}.fine_tune")
        params["fine_tune"] = {key: ft.get(key, typ, default=default) for key, (typ, default) in FIT_PARAMS.items()}
        ft.done()
        if params["fine_tune"]["loss"] is None:
            raise BadInput(f"{ft.where}: field 'loss': missing")
    for where, fit, least in ((f.where, params, kind.least_epochs),
                              (f"{f.where}.fine_tune", params.get("fine_tune") or {}, 1)):
        if fit.get("epochs") is not None and fit["epochs"] < least:
            raise BadInput(f"{where}: field 'epochs': must be at least {least}"
                           + (" (0 only in a train step: measure the model without training it)" if least else ""))
    kind.validate(params, f.where)
    return params


def check_fit_params(params, where):
    """Loss, optimizer and schedule names of a step (and of its fine-tune) resolve, before any training."""
    from ..methods.fit import learning_rate, make_optimizer
    from ..methods.losses import get_loss

    for fit in (params, params.get("fine_tune") or {}):
        try:
            if fit.get("loss") and fit["loss"] != AUTO_LOSS:
                get_loss(fit["loss"], **(fit.get("loss_params") or {}))
            if fit.get("optimizer"):
                make_optimizer(fit["optimizer"], 1e-3)
            if fit.get("lr_schedule"):
                learning_rate(1e-3, fit["lr_schedule"], 1)
        except BadInput as e:
            raise BadInput(f"{where}: {e}") from None


# ---------------------------------------------------------------- training glue

def fit_model(ctx, model, params, callbacks=()):
    """Fit `model` on the run's data with a step's fit parameters, the run's progress callback included."""
    from ..methods.fit import fit
    from ..methods.tbptt import Trainer

    if not ctx.data.labelled:
        raise BadInput(f"{ctx.data.name}: a step trains '{model.name}' but the data has no labels or targets "
                       "(give an .npz with x and y, or labelled audio)")
    train, val = ctx.family.fit_arrays(model, ctx.data, ctx.seed)
    loss, loss_params = auto_loss(model, ctx.family.task) if params["loss"] == AUTO_LOSS else (
        params["loss"], params["loss_params"])
    truncation = ctx.family.truncation(model)        # the effects models: truncated backprop through time
    trained = Trainer(model, truncation) if truncation else model
    return fit(trained, train, val, loss=loss, optimizer=params["optimizer"], lr=params["lr"],
               epochs=params["epochs"], batch_size=params["batch_size"], seed=ctx.seed,
               loss_params=loss_params, lr_schedule=params["lr_schedule"],
               callbacks=[*callbacks, *fit_callbacks(ctx, params["epochs"])])


AUTO_LOSS = "auto"      # the loss follows the task: a user's model in recipes/default_*.yaml


def auto_loss(model, task) -> tuple:
    """(loss name, its parameters) for `task`: cross-entropy on class indices (on probabilities when the model ends
    in a softmax, else on logits) for a classifier, MSE otherwise."""
    if task != "classification":
        return "mse", None
    activation = getattr(model.layers[-1], "activation", None)
    ends_in_softmax = getattr(activation, "__name__", "") == "softmax" or type(model.layers[-1]).__name__ == "Softmax"
    return "crossentropy", {"from_logits": not ends_in_softmax, "sparse": True}


def fit_callbacks(ctx, epochs) -> list:
    """What every fit in a recipe runs with: the progress callback, and in a run that keeps a checkpoint, a backup
    after each finished epoch, so that --resume continues a long step from its last finished epoch."""
    from ..methods.fit import EpochBackup

    checkpoint = getattr(ctx, "checkpoint", None)       # the engine's; a bare context (a test's) has none
    return [progress(ctx, epochs)] + ([EpochBackup(str(checkpoint.next_fit_folder()))] if checkpoint else [])


def progress(ctx, epochs):
    """The callback every fit in a recipe gets: shows each finished epoch, stops at the end of a batch when the run
    was asked to stop (the engine then keeps the finished steps and epochs), and stops a NaN or exploding loss with
    a hint."""
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            if self.epoch is None and epoch > 0:     # the fit's first epoch: EpochBackup restored the ones before
                ctx.log(f"continuing from epoch {epoch + 1}/{epochs}: the {epoch} before it finished before the run "
                        "stopped (restored from the checkpoint)")
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not np.isfinite(loss):
                self.model.stop_training = True
                ctx.diverged = f"epoch {self.epoch + 1}, batch {batch + 1}: loss {loss}"
            if ctx.stop_requested:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if self.model.stop_training:     # stopped inside the epoch: it did not finish
                return
            shown = ", ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items())
            ctx.log(f"epoch {epoch + 1}/{epochs}: {shown}")
            on_epoch = getattr(ctx, "on_epoch", None)     # the engine's Context has it; a bare context may not
            if on_epoch:
                on_epoch(self.model, epoch)
    return Progress()


def evaluate(ctx, model) -> dict:
    """The family's task metrics of `model` on the run's test split, measured now."""
    return ctx.family.evaluate(model, ctx.data)


def last_of(history) -> dict:
    return {f"final_{k}": figures.measured(v[-1], "", "keras fit history") for k, v in history.items() if v}


def prefixed(prefix, metrics) -> dict:
    return {f"{prefix}{k}": v for k, v in metrics.items()}
