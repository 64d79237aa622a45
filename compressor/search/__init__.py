"""The search over compression plans (Ray Tune + Optuna's multi-objective sampler): a trial is a plan (the student's
width, pruning sparsity, distilled or not ...) applied to a recipe's steps and run by the engine; the plan with the
best metric among those meeting every budget is run again with the full steps (int8 export and its checks) and
delivered, the Pareto front of the trials in its report (record["search"]).

    space.py     the `search:` block and the defaults per target kind -> SearchSpec
    fpga_knobs.py  the FPGA knobs (QKeras quantizers a layer block, hls4ml reuse factor / strategy): checked, applied
    plans.py     a plan applied to a recipe: the changed Recipe and the models handed into its slots
    width.py     a Keras model with its layers' widths scaled (zoo models without a `width` argument)
    feasible.py  the cheap check before training: counted params / MACs, and on an FPGA the estimate of the plan's
                 design, against the budgets
    user.py      the user's own model (compress search --model): its slots, and its bytes for the Ray workers
    trial.py     one trial, in a Ray worker: the plan through the engine -> its figures and status (timeout included)
    early.py     early stopping: each epoch's validation metric reported, ASHA stopping the poor trials
    tuner.py     Ray Tune: local or a cluster, the Optuna sampler, stop / resume
    pareto.py    the non-dominated feasible trials
    runner.py    the whole search: trials, the choice, the delivered run and its report
    text.py      figures as the search prints them
"""

from .runner import search  # noqa: F401
