"""Audio-effect emulation (a fuzz pedal) by a recurrent model, run sample by sample on the device.

Data: x = dry, y = wet sequences (n, 22050, 1) at 44.1 kHz: consecutive 0.5 s clips, as the training code the
source followed cuts its audio; extra: whole dry/wet test audio (test_dry, test_wet). Built-in sizes are seconds.
The recurrent models train on the clips with truncated backprop through time, an update every 2048 samples
(methods.tbptt); the ESR figures are over the test clips, each from a zero state.
"""

import time

import numpy as np

from .. import figures
from ..audio import builtin
from ..audio.dataset import SPLITS, DataSpec, paired_dataset, split_seeds
from . import register
from .base import Regressor, esr

EXCERPT = 2000  # samples of test audio the report's waveform picture shows
SPAN_ESR_TOLERANCE = 0.05  # issue 19: the int8 streaming model's ESR within 0.05 of the float model's


def _builtin(params, quick, seed):
    rate = params["sample_rate"]
    dry = {s: builtin.plucked_strings(sec, sd, rate)
           for s, sec, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    wet = {s: builtin.apply_fuzz(dry[s], rate) for s in SPLITS}
    return paired_dataset("builtin:effects", DATA, params, dry, wet, {"effect": builtin.FUZZ_PARAMS})


DATA = DataSpec("effects", "regression", "raw_waveform", {"sample_rate": 44100, "length": 22050},
                sizes={True: (20.0, 5.0, 5.0), False: (60.0, 15.0, 15.0)}, generate=_builtin, layouts=("paired",))


@register
class Effects(Regressor):
    name = "effects"
    data_spec = DATA
    expected_views = ("waveforms",)

    def truncation(self, model):
        """TBPTT for the zoo's sequence models (a plain Keras RNN layer named 'rnn'); a model of another form (a
        pruning wrapper around it, a user's own) trains on whole clips."""
        from ..methods.tbptt import Truncation
        from ..zoo import effects

        if effects.plain_rnn(model) is None:
            return None
        return Truncation(effects.state_passing_model(model), tuple(effects.state_sizes(model)))

    def device_form(self, model, data, rebuild):
        """A one-step streaming model with one packed [sample, state] tensor in and out."""
        from ..export import streaming
        packed = streaming.packed_streaming_model(model)
        states = streaming.collect_packed_inputs(packed, data.x_test[:4], steps=256)
        return packed, states, states[::7], "one-step streaming model, [sample, state] packed in one tensor"

    def evaluate(self, model, data, split="test") -> dict:
        """ESR on the test segments, and the time the model takes for 1 s of audio as the source measures it
        (framework inference on the CPU, one 44,100-sample sequence: here the model compiled by XLA)."""
        metrics = super().evaluate(model, data, split)
        if "test_dry" not in (data.extra or {}):
            return metrics
        second = np.asarray(data.extra["test_dry"][:data.sample_rate], np.float32)[None, :, None]
        seconds, how = seconds_for(model, second)
        metrics["seconds_for_1s_audio"] = figures.measured(
            seconds * data.sample_rate / second.shape[1], "s",
            f"{how} of {second.shape[1]} samples of test audio as one sequence, CPU of this machine, median of 3 runs "
            "after a warm-up")
        return metrics

    def device_metrics(self, tflite_bytes, model, data, n, quick):
        """The int8 streaming model's ESR and the float sequence model's on the same stretch of the test audio (both
        from a zero state), and the int8 output excerpt for the report."""
        from ..export import streaming
        seconds = 0.25 if quick else 1.0
        dry, wet = data.extra["test_dry"], data.extra["test_wet"]
        length = int(seconds * data.sample_rate)
        span = f"{seconds} s of test audio from its start"
        y8 = np.asarray(streaming.run_int8_streaming(tflite_bytes, dry[:length])).reshape(-1)
        yf = model.predict(np.asarray(dry[:length], np.float32)[None, :, None], verbose=0).reshape(-1)
        target = np.asarray(wet[:length])
        metrics = {"int8_streaming_esr": figures.measured(
                       esr(target, y8), "ratio", f"int8 streaming model in the TFLite interpreter, {span}"),
                   "float_span_esr": figures.measured(
                       esr(target, yf), "ratio", f"keras, the float sequence model, {span}")}
        return metrics, {"int8_excerpt": y8[:EXCERPT].tolist()}

    def device_checks(self, tflite_bytes, model, device, x_verify, data, metrics) -> list:
        """The int8 streaming model's ESR within SPAN_ESR_TOLERANCE of the float model's on the same audio."""
        from ..analysis.budgets import check_row
        int8, float_ = metrics["int8_streaming_esr"]["value"], metrics["float_span_esr"]["value"]
        gap = figures.measured(abs(int8 - float_), "ratio", "|int8 streaming ESR - float ESR|, the same test audio")
        return [check_row("int8_vs_float_esr", "int8 streaming vs float ESR (same audio)", gap,
                          SPAN_ESR_TOLERANCE, "<=")]

    def views(self, models, deliver, data, state):
        dry, wet = data.extra["test_dry"][:EXCERPT], data.extra["test_wet"][:EXCERPT]
        waveforms = {"sample_rate": data.sample_rate, "input": np.round(dry, 4).tolist(),
                     "target": np.round(wet, 4).tolist()}
        for slot in ("teacher", deliver):
            if slot in models:
                y = models[slot].predict(dry[None, :, None], verbose=0).reshape(-1)
                waveforms["student" if slot == deliver else slot] = np.round(y, 4).tolist()
        if "int8_excerpt" in state:
            waveforms["student_int8"] = np.round(state["int8_excerpt"], 4).tolist()
        return {"waveforms": waveforms, **super().views(models, deliver, data, state)}


def seconds_for(model, x) -> tuple:
    """(median seconds of 3 runs of `model` on `x`, how it ran). XLA compiles the recurrent loop, as PyTorch's CPU
    kernels run theirs: keras' own loop pays a graph step per sample (about 0.7 s for 1 s of audio, teacher or
    student alike), which hides what the model's size costs. A model XLA cannot compile runs as keras predict."""
    import tensorflow as tf

    def median(run):
        run()                                               # the warm-up traces (and compiles)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    compiled = tf.function(lambda v: model(v, training=False), jit_compile=True)
    try:
        return median(lambda: compiled(x).numpy()), "XLA-compiled inference"
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):     # an op XLA has no kernel for
        return median(lambda: model.predict(x, verbose=0)), "keras predict (XLA could not compile the model)"
