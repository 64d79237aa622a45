"""Errors that reach the user as one line, and the exit codes that are part of the interface."""

EXIT_OK = 0            # done, every budget holds
EXIT_INTERNAL = 1      # an unexpected failure (a bug): Python's own code for an uncaught exception
EXIT_BAD_INPUT = 2     # bad input: missing file, typo in a recipe, wrong data shape, unknown target ...
EXIT_BUDGET = 3        # done, but at least one budget fails (what CI gates on)
EXIT_VERIFY = 4        # the compressed model does not agree with its source beyond tolerance
EXIT_INTERRUPTED = 130  # stopped by SIGINT / SIGTERM at a safe point; `--resume` continues (the shell's 128 + 2)


class CompressorError(Exception):
    """An error with a one-line message meant for the user, and the exit code the CLI returns for it."""

    exit_code = EXIT_BAD_INPUT


class BadInput(CompressorError):
    """The user's input (file, recipe, target, data, model) is wrong; the message names the thing."""


class UnsupportedLayer(BadInput):
    """A layer or operator the chosen back end (TFLite Micro, hls4ml) cannot run."""


class VerificationFailed(CompressorError):
    """An exported model disagrees with the model it came from beyond the stated tolerance."""

    exit_code = EXIT_VERIFY


class TrainingDiverged(BadInput):
    """The loss became NaN or infinite: the recipe's settings (learning rate) or the data are at fault."""


class Interrupted(CompressorError):
    """The run was asked to stop (SIGINT / SIGTERM) and stopped at a safe point, its last finished step saved."""

    exit_code = EXIT_INTERRUPTED
