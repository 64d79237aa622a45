"""Audio-effect emulation (a fuzz pedal) by a recurrent model, run sample by sample on the device.

Data: x = dry, y = wet sequences (n, 2048, 1) at 44.1 kHz (consecutive 2048-sample segments, the source's
truncated-backprop length); extra: whole dry/wet test audio (test_dry, test_wet). Built-in sizes are seconds.
"""

import numpy as np

from .. import figures
from ..audio import builtin
from ..audio.dataset import SPLITS, DataSpec, paired_dataset, split_seeds
from . import register
from .base import Regressor, esr

EXCERPT = 2000  # samples of test audio the report's waveform picture shows


def _builtin(params, quick, seed):
    rate = params["sample_rate"]
    dry = {s: builtin.plucked_strings(sec, sd, rate)
           for s, sec, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    wet = {s: builtin.apply_fuzz(dry[s], rate) for s in SPLITS}
    return paired_dataset("builtin:effects", DATA, params, dry, wet, {"effect": builtin.FUZZ_PARAMS})


DATA = DataSpec("effects", "regression", "raw_waveform", {"sample_rate": 44100, "length": 2048},
                sizes={True: (6.0, 1.5, 1.5), False: (60.0, 15.0, 15.0)}, generate=_builtin, layouts=("paired",))


@register
class Effects(Regressor):
    name = "effects"
    data_spec = DATA
    expected_views = ("waveforms",)

    def device_form(self, model, data, rebuild):
        """A one-step streaming model with one packed [sample, state] tensor in and out."""
        from ..export import streaming
        packed = streaming.packed_streaming_model(model)
        states = streaming.collect_packed_inputs(packed, data.x_test[:4], steps=256)
        return packed, states, states[::7], "one-step streaming model, [sample, state] packed in one tensor"

    def device_metrics(self, tflite_bytes, model, data, n, quick):
        """The int8 streaming model's ESR on a stretch of the test audio, and its output excerpt for the report."""
        from ..export import streaming
        seconds = 0.25 if quick else 1.0
        dry, wet = data.extra["test_dry"], data.extra["test_wet"]
        length = int(seconds * data.sample_rate)
        y8 = streaming.run_int8_streaming(tflite_bytes, dry[:length])
        ratio = esr(np.asarray(wet[:length]).reshape(1, -1, 1), np.asarray(y8).reshape(1, -1, 1))
        metrics = {"int8_streaming_esr": figures.measured(
            float(ratio), "ratio", f"int8 streaming model in the TFLite interpreter, {seconds} s of test audio")}
        return metrics, {"int8_excerpt": y8[:EXCERPT].tolist()}

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
