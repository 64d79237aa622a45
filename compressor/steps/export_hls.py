"""export_hls: the hls4ml project of a model slot (or the part the family names: the CAE's decoder), its C
simulation compiled and compared with the QKeras model in this run; the comparison is a check of the verdict.
With `csim: false` only the design is decided (precisions, strategy, reuse factor - the same hls_design calls the
export makes) for the run's FPGA estimate: no project, no C simulation, no check (a search trial's export)."""

from .. import figures
from ..errors import BadInput, VerificationFailed
from .base import StepKind, StepResult, register


@register
class ExportHls(StepKind):
    name = "export_hls"
    params = {"submodel": (str, None), "io_type": (str, None), "backend": (str, None), "strategy": (str, None),
              "reuse_factor": (int, None), "test_samples": (int, 4), "tolerance_lsb": (float, None),
              "csim": (bool, True)}
    needs_trained = True

    def run(self, ctx, step, params):
        from ..analysis.budgets import check_row
        from ..export.hls import export_hls

        part, x = submodel(ctx, step.model, params["submodel"])
        n = params["test_samples"]
        if not params["csim"]:
            return design_only(ctx, step, params, part, x[:n])
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


def design(part, x, target, params):
    """(config, strategy, reuse factor, estimate, reason) of the design export_hls would write for `part`."""
    from ..analysis.hls_design import choose_schedule, hls_config, replace_po2_biases, with_schedule

    model, _ = replace_po2_biases(part)
    base = hls_config(model, target, x, backend=params.get("backend"), io_type=params.get("io_type"))
    return choose_schedule(model, lambda s, rf: with_schedule(base, s, rf), target, params.get("strategy"),
                           params.get("reuse_factor"))


def design_only(ctx, step, params, part, x):
    """The design export_hls would write, for the delivery's estimate (ctx.state["hls"] without a project)."""
    from ..jsonable import plain

    cfg, strategy, reuse_factor, _, reason = design(part, x, ctx.target, params)
    # said in every output: a run without the C simulation has no proof that the design computes the model
    ctx.record.warn(f"{step.name}: csim: false - no hls4ml project and no C simulation; the FPGA figures are the "
                    "estimate of an unverified design")
    ctx.state["hls"] = {"slot": step.model, "submodel": params["submodel"], "project_dir": "hls",
                        "config": {"hls4ml_config": plain(cfg)}, "x_sample": x[:8].tolist()}
    return StepResult(notes=[f"csim: false - the design only (strategy {strategy}, reuse factor {reuse_factor}, "
                             f"{reason}): no hls4ml project, no C simulation"])


def submodel(ctx, slot, name):
    """(the part of slot's model to export, its test inputs), as the family splits it."""
    try:
        return ctx.family.submodel(ctx.models[slot], ctx.data, name)
    except BadInput as e:
        raise BadInput(f"{ctx.recipe.path}: export_hls of '{slot}': field 'submodel': {e}") from None
