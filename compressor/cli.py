"""The `compress` command: parses, calls the API or the engine, prints, sets the exit code (compressor/errors.py).

    compress --target T --model M [--data D [--frontend F]] [--recipe R] [--out O] [--kernels K] [--budget k=v ...]
    compress --recipe NAME [--data D] [--out O] [--quick] [--resume] [--seed N] [--budget k=v ...]
    compress analyze M --target T [--data D] [--kernels K | --hls-config cfg.yml] [--budget k=v ...] [--json]
    compress check report.json [--budget k=v ...]
    compress list targets | recipes | models
    compress search --recipe R [--quick] [--trials N] [--time-budget S] [--address A] [--resume] [--budget ...]
    compress search --target T --model M --data D [--budget ...] ...   your own model, searched
"""

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

from .errors import EXIT_BAD_INPUT, EXIT_BUDGET, EXIT_OK, EXIT_VERIFY, BadInput, CompressorError
from .targets import KERNEL_LIBRARIES

SUBCOMMANDS = ("analyze", "check", "list", "search")
KERNELS_HELP = ("MCU kernel library of the latency model (default: the target's `kernels`): tflm_cmsis_nn (TFLite "
                "Micro + CMSIS-NN, what the C array runs), x_cube_ai, plumerai; fitted to MLPerf Tiny rows of the "
                "target's core")
BUDGET_HELP = ("a limit on a figure, repeatable; it can only tighten the board's: macs=30e6 (a ceiling), "
               "accuracy>=0.9 (a floor), max_metric_drop=0.01, flash=1e6 ram=65536 latency=0.1 (figures: params, "
               "macs, weights_bytes, flash_bytes, arena_bytes, latency_s, energy_j, LUT, accuracy, log_loss, mse, "
               "esr, probe_accuracy, metric_drop ...)")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors are bad input: one line, exit 2
        raise BadInput(f"{self.prog}: {message}")


def _run_parser():
    p = _Parser(prog="compress", formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Compress a Keras audio model for a board and check it against the board's budgets.",
                epilog="other commands:\n"
                       "  compress analyze MODEL --target T   counts, memory, latency, energy, budgets; no training\n"
                       "  compress check report.json          re-judge a saved report's budgets (CI gate)\n"
                       "  compress list targets|recipes|models\n"
                       "  compress search --recipe R [--quick]   the best plan under the budgets (Ray Tune)\n"
                       "  compress search --target T --model M --data D   your model, searched to fit T\n"
                       "exit codes: 0 every budget holds, 2 bad input, 3 a budget fails, 4 a check failed "
                       "(int8 vs Keras, TFLM vs TFLite, C-sim vs QKeras)")
    p.add_argument("--target", help="hardware target name (compress list targets) or a target .yaml")
    p.add_argument("--model", help="your Keras model file (.keras, .h5), through the target's default recipe "
                                   "(recipes/default_mcu.yaml or default_fpga.yaml; --recipe overrides it), or an "
                                   "int8 (or 16x8) .tflite (MCU targets: C array and report; TFLite Micro checked "
                                   "against TFLite)")
    p.add_argument("--recipe", help="a shipped recipe name or a recipe .yaml")
    p.add_argument("--data", help="with --model: .npz with x and y (labels or targets: float and int8 figures), "
                                  ".npy inputs only, or a folder of WAVs with --frontend; a recipe takes its "
                                  "dataset folder")
    p.add_argument("--frontend", metavar="NAME|F.yaml", help="with --model and a folder of WAVs: the front end "
                   "(dcase_mel, cae_log_spectrogram, mae_mel_frames, raw_waveform) or a YAML {name: ..., its "
                   "parameters}, e.g. {name: dcase_mel, n_mels: 40}")
    p.add_argument("--out", help="output folder (default out/<model or recipe name>/)")
    p.add_argument("--kernels", choices=KERNEL_LIBRARIES, help=KERNELS_HELP)
    p.add_argument("--quick", action="store_true", help="recipe: the quick profile (tiny training)")
    p.add_argument("--resume", action="store_true", help="recipe: continue from the last finished epoch")
    p.add_argument("--seed", type=int, help="recipe: seed for a reproducible run")
    p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE", help=BUDGET_HELP)
    return p


def _sub_parser(command):
    p = _Parser(prog=f"compress {command}")
    if command == "analyze":
        p.description = "Counts, memory, latency/energy estimates and budget verdict of a Keras model. No training."
        p.add_argument("model", help="Keras model file, or an int8 .tflite (MCU targets; a float .tflite: pass the "
                                     "Keras model)")
        p.add_argument("--target", required=True, help="hardware target name or .yaml")
        p.add_argument("--data", help="inputs for int8 calibration (.npy / .npz); synthetic if omitted")
        p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE", help=BUDGET_HELP)
        p.add_argument("--kernels", choices=KERNEL_LIBRARIES, help=KERNELS_HELP)
        p.add_argument("--hls-config", metavar="CFG.yml", help="FPGA: price this hls4ml configuration (the format "
                       "hls4ml.utils.config_from_keras_model writes) instead of the design compress would choose")
        p.add_argument("--json", action="store_true", help="print the record as JSON instead of tables")
    elif command == "check":
        p.description = "Re-judge the budgets of a saved report.json without recomputing anything."
        p.add_argument("report", help="a report.json written by compress")
        p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE", help=BUDGET_HELP)
    elif command == "search":
        p.description = ("Search a recipe's compression plans (its `search:` block) under the budgets on Ray Tune; "
                         "deliver the best plan that fits, exported and checked. Exit 3: no plan met every budget.")
        p.add_argument("--recipe", help="a shipped recipe name or a recipe .yaml with a search block (with --model: "
                                        "default recipes/default_<kind>_search.yaml)")
        p.add_argument("--model", help="your Keras model (.keras, .h5), searched for --target on --data")
        p.add_argument("--target", help="with --model: the board to fit (compress list targets) or a target .yaml")
        p.add_argument("--data", help="with --model: labelled data (.npz with x and y, or a folder of labelled "
                                      "audio); every trial trains")
        p.add_argument("--quick", action="store_true", help="the search's quick profile (few clips, tiny epochs)")
        p.add_argument("--trials", type=int, help="how many plans to try (default: the recipe's)")
        p.add_argument("--time-budget", type=float, metavar="S", help="stop starting trials after S seconds")
        p.add_argument("--trial-timeout", type=float, metavar="S", help="a trial running longer than S seconds is "
                       "recorded failed (checked at each epoch's end and each step)")
        p.add_argument("--address", help="a Ray cluster (default: RAY_ADDRESS, else a local Ray on this machine)")
        p.add_argument("--cpus", type=int, help="local Ray: CPUs, one trial each (default: up to 2)")
        p.add_argument("--resume", action="store_true", help="continue a stopped search in --out")
        p.add_argument("--out", help="output folder (default out/<recipe name>/)")
        p.add_argument("--seed", type=int, help="seed of the sampler and of every trial")
        p.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE", help=BUDGET_HELP)
    else:
        p.description = "List the known targets, recipes or zoo models."
        p.add_argument("what", choices=("targets", "recipes", "models"))
    return p


def _print_record(record, out=None):
    from .analysis.budgets import table

    def show(name, fig):
        value = fig["value"]
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        print(f"  {name:<22} {shown:>16} {fig['unit']:<6} {fig['provenance']}: {fig['by']}")

    figs = record.get("figures", {})
    print(f"model {record['model'].get('name')} on {record['target'].get('name')}")
    if not record.get("recipe"):            # a recipe run said these when it loaded the data
        for change in (record.get("data") or {}).get("changes", []):
            print(f"data: {change}")
    for name, fig in figs.items():
        show(name, fig)
    artifacts = record.get("artifacts") or {}
    if artifacts:                           # role -> path relative to the output folder
        print(f"files written to {out}/:" if out else "files written (in the output folder):")
        for role, path in artifacts.items():
            print(f"  {role:<22} {Path(out or '') / path}{'/' if str(path).endswith('/') else ''}")
    for warning in record.get("warnings", []):
        print(f"warning: {warning}")
    print(table(record.get("budgets", []), record.get("checks") or []))   # the checks: what was verified


def _exit_code(record) -> int:
    """4 when a check failed (whatever the budgets say), 3 when a budget failed; the failed checks on stderr."""
    from .analysis.budgets import describe, failed_checks

    if record.get("verdict") == "unverified":
        failed = "; ".join(describe(r) for r in failed_checks(record))
        print(f"compress: verification failed: {failed}", file=sys.stderr)
        return EXIT_VERIFY
    return EXIT_BUDGET if record.get("verdict") == "fail" else EXIT_OK


def _list(what) -> int:
    if what == "targets":
        from .targets import load_target, target_names
        for name in target_names():
            print(f"{name:<14} {load_target(name).description}")
    elif what == "recipes":
        from .recipe import USER_MODEL, load_recipe, recipe_names
        for name in recipe_names():
            recipe = load_recipe(name)
            mine = any(slot.path == USER_MODEL for slot in recipe.models.values())
            print(f"{name:<22} {recipe.description}{' (with --model)' if mine else ''}")
    else:
        from .zoo import list_models
        for name, description in list_models():
            print(f"{name:<22} {description}")
    return EXIT_OK


def _check(args) -> int:
    from .analysis.budgets import parse_budgets, rejudge, table

    path = Path(args.report)
    if not path.is_file():
        raise BadInput(f"{path}: no such report")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not a JSON report ({e})") from None
    if not isinstance(record, dict) or not str(record.get("schema", "")).startswith("compressor.report/"):
        raise BadInput(f"{path}: not a compressor report (no 'schema': 'compressor.report/...')")
    record = rejudge(record, parse_budgets(args.budget))
    print(table(record["budgets"], record.get("checks") or []))
    print(f"verdict: {record['verdict'] or 'no budgets'}")
    return _exit_code(record)


def run(argv) -> int:
    from .analysis.budgets import parse_budgets

    if argv and argv[0] in SUBCOMMANDS:
        args = _sub_parser(argv[0]).parse_args(argv[1:])
        if argv[0] == "list":
            return _list(args.what)
        if argv[0] == "check":
            return _check(args)
        if argv[0] == "search":
            from .api import search
            run = search(args.recipe, model=args.model, target=args.target, data=args.data, quick=args.quick,
                         trials=args.trials, time_budget_s=args.time_budget, trial_timeout_s=args.trial_timeout,
                         address=args.address, cpus=args.cpus, resume=args.resume, out=args.out, seed=args.seed,
                         budgets=parse_budgets(args.budget))
            _print_record(run.record, run.out)
            print(run.record["search"]["summary"])
            return _exit_code(run.record)
        from .api import analyze
        record = analyze(args.model, args.target, budgets=parse_budgets(args.budget), data=args.data,
                         command=["compress", *argv], kernels=args.kernels, hls_config=args.hls_config).record
        if args.json:
            print(json.dumps(record, indent=2, default=str))
        else:
            _print_record(record)
        return _exit_code(record)

    parser = _run_parser()
    args = parser.parse_args(argv)
    budgets = parse_budgets(args.budget)
    if args.frontend and not args.model:
        raise BadInput("--frontend goes with --model (a recipe's front end is in the recipe)")
    if args.recipe and not args.model:
        if args.kernels:
            raise BadInput("--kernels goes with --model or analyze; a recipe's target names its kernels")
        from .api import run_recipe
        run = run_recipe(args.recipe, data=args.data, out=args.out, quick=args.quick, resume=args.resume,
                         seed=args.seed, budgets=budgets)
        record = run.record
        _print_record(record, run.out)
        return _exit_code(record)
    if args.model or args.target:
        if not (args.model and args.target):
            raise BadInput("compress: --model and --target go together (or use --recipe NAME)")
        if args.resume:
            raise BadInput("--resume goes with a --recipe run; a --model run writes its outputs only when it ends")
        from .api import compress
        out = Path(args.out) if args.out else Path("out") / Path(args.model).stem
        record = compress(args.model, args.target, data=args.data, out=out, budgets=budgets,
                          command=["compress", *argv], kernels=args.kernels, recipe=args.recipe,
                          frontend=args.frontend, seed=args.seed or 0, quick=args.quick,
                          log=lambda line: print(line, flush=True)).record
        _print_record(record, out)
        return _exit_code(record)
    parser.print_help()
    return EXIT_BAD_INPUT


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # TensorFlow's C++ start-up chatter is not for users
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # nor its Python deprecation notes
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    if argv and argv[0] in ("-h", "--help"):
        _run_parser().print_help()
        return EXIT_OK
    try:
        return run(argv)
    except CompressorError as e:
        print(f"compress: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:     # the reader of our output (head, less) went away: not an error of the run
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit flush does not fail again
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
