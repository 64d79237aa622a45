"""export_hls: the hls4ml project of a model slot (or the part the family names: the CAE's decoder), its C
simulation compiled and compared with the QKeras model in this run; the comparison is a check of the verdict."""

from .. import figures
from ..errors import BadInput, VerificationFailed
from .base import StepKind, StepResult, register


@register
class ExportHls(StepKind):
    name = "export_hls"
    params = {"submodel": (str, None), "io_type": (str, None), "backend": (str, None), "strategy": (str, None),
              "reuse_factor": (int, None), "test_samples": (int, 4), "tolerance_lsb": (float, None)}
    needs_trained = True

    def run(self, ctx, step, params):
        from ..analysis.budgets import check_row
        from ..export.hls import export_hls

        part, x = submodel(ctx, step.model, params["submodel"])
        n = params["test_samples"]
        options = {k: params[k] for k in ("io_type", "backend", "strategy", "reuse_factor") if params[k] is not None}
        if params["tolerance_lsb"] is not None:
            options["tolerance_lsb"] = params["tolerance_lsb"]
        task = "classification" if ctx.family.task == "classification" else "regression"
        y_true = ctx.data.y_test[:n] if task == "classification" else None

        def row(check, note=None):
            return check_row("csim_vs_qkeras", "hls4ml C-sim vs QKeras", check["figure"], check["limit"],
                             check["op"], note=note)
        try:
            result = export_hls(part, ctx.target, ctx.out / "hls", x[:n], task=task, y_test=y_true, **options)
        except VerificationFailed as err:   # no project is written; the run goes on to its reports, unverified
            ctx.record.add_checks([row(err.check, note=str(err))])
            return StepResult(notes=[str(err)])
        ctx.record.add_checks([row(result["check"])])
        ctx.state["hls"] = {"slot": step.model, "submodel": params["submodel"], "config": result["config"],
                            "project_dir": "hls", "x_sample": x[:8].tolist()}
        metrics = dict(result["figures"])
        metrics.update({k: figures.measured(round(v, 3), "s", "wall clock, this machine")
                        for k, v in result["timings"].items()})
        return StepResult(metrics=metrics, notes=result["notes"] + [result["config"]["schedule_reason"]],
                          artifacts={"hls_project": "hls/"},
                          detail={"config": {k: v for k, v in result["config"].items() if k != "hls4ml_config"}})


def submodel(ctx, slot, name):
    """(the part of slot's model to export, its test inputs), as the family splits it."""
    try:
        return ctx.family.submodel(ctx.models[slot], ctx.data, name)
    except BadInput as e:
        raise BadInput(f"{ctx.recipe.path}: export_hls of '{slot}': field 'submodel': {e}") from None
