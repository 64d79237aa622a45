"""probe: a linear probe (logistic regression) on frozen, mean-pooled embeddings of the data's labelled probe set -
how much a representation model (the MAE, its distilled student) knows. The smallest step kind: copy this module
to add one."""

from .. import figures
from .base import StepKind, StepResult, register


@register
class Probe(StepKind):
    name = "probe"
    params = {}

    def run(self, ctx, step, params):
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
        return StepResult(metrics={"probe_accuracy": figures.measured(acc, "fraction", by),
                                   "chance_accuracy": figures.counted(chance, "fraction", "1 / classes")})
