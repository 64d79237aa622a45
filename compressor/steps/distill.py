"""distill: knowledge distillation of a student slot from a teacher slot (methods/distill.py): Hinton response KD,
TOR (teacher outlier rejection), embedding distillation, or data-free."""

from ..errors import BadInput
from .base import FIT_PARAMS, StepKind, StepResult, auto_loss, evaluate, fit_callbacks, last_of, prefixed, register

METHODS = ("hinton", "tor", "embedding", "data_free")


@register
class Distill(StepKind):
    name = "distill"
    params = {**FIT_PARAMS, "method": (str, ...), "temperature": (float, 2.0), "alpha": (float, 0.1),
              "epsilon": (float, 0.1)}
    trains = True
    takes_teacher = True

    def validate(self, params, where):
        if params["method"] not in METHODS:
            raise BadInput(f"{where}: field 'method': expected one of {', '.join(METHODS)}, got {params['method']!r}")

    def run(self, ctx, step, params):
        from ..methods import distill as kd
        from ..methods.fit import batches_per_epoch

        student, teacher = ctx.models[step.model], ctx.models[step.teacher]
        d = ctx.data
        train, val = (d.x_train, d.y_train), (d.x_val, d.y_val)
        method = params["method"]
        if method == "hinton":
            distiller = kd.Distiller(student, teacher, temperature=params["temperature"], alpha=params["alpha"],
                                     student_probs=_ends_in_softmax(student), teacher_probs=_ends_in_softmax(teacher))
        elif method == "tor":
            distiller = kd.TORDistiller(student, teacher, epsilon=params["epsilon"], loss=params["loss"] or "esr_dc",
                                        truncation=ctx.family.truncation(student))
        elif method == "embedding":
            from ..zoo import mae
            teacher = mae.encoder_of(teacher)
            distiller = kd.EmbeddingDistiller(student, teacher, loss=params["loss"] or "mse")
            train, val = d.x_train, d.x_val
        else:
            distiller = kd.DataFreeDistiller(student, teacher, input_shape=tuple(d.x_train.shape[1:]),
                                             batch_size=params["batch_size"])
            train = None
        steps = None if train is not None else batches_per_epoch(d.x_train, params["batch_size"])
        student, history = kd.distill(distiller, train, val, optimizer=params["optimizer"], lr=params["lr"],
                                      epochs=params["epochs"], batch_size=params["batch_size"], seed=ctx.seed,
                                      lr_schedule=params["lr_schedule"], callbacks=fit_callbacks(ctx, params["epochs"]),
                                      steps_per_epoch=steps)
        ctx.models[step.model] = student
        metrics = {**evaluate(ctx, student), **last_of(history)}
        metrics.update(prefixed("teacher_", evaluate(ctx, ctx.models[step.teacher])))
        return StepResult(metrics=metrics, detail={"method": method})


def _ends_in_softmax(model):
    return not auto_loss(model, "classification")[1]["from_logits"]
