"""A masked autoencoder for audio representations (EnCodecMAE-lite), distilled into a small encoder.

Data: x = y = log-mel frames (n, 150, 64); long recordings are cut into front-end windows. extra: a labelled probe
set (probe_x/y_train, probe_x/y_test, probe_classes): built-in tone/noise/chirp/mixture, or a folder's classes.
"""

import numpy as np

from ..audio import builtin, frontends
from ..audio.dataset import SPLITS, DataSpec, assemble, split_seeds
from . import register
from .base import Representation

PROBE_SIZES = {True: (160, 80), False: (800, 400)}  # built-in probe (train, test) clips


def _builtin(params, quick, seed):
    """Pretraining clips (their kind is not given to the model) and a labelled probe set."""
    rate = params["sample_rate"]
    audio = {s: builtin.mae_sounds(n, sd, rate, params["seconds"])[0]
             for s, n, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    extra = {}
    n_train, n_test = PROBE_SIZES[quick]
    for part, n, sd in (("train", n_train, seed * 1000 + 7), ("test", n_test, seed * 1000 + 8)):
        clips, kinds = builtin.mae_sounds(n, sd, rate, params["seconds"])
        extra[f"probe_x_{part}"] = frontends.apply(params, clips, rate)
        extra[f"probe_y_{part}"] = kinds.astype(np.float32)
    extra["probe_classes"] = list(builtin.MAE_KINDS)
    return assemble("builtin:mae", DATA, params, audio, extra=extra)


DATA = DataSpec("mae", "representation", "mae_mel_frames",
                sizes={True: (240, 40, 40), False: (3000, 300, 300)}, generate=_builtin,
                layouts=("unlabeled", "classes"), windowed=True, probe_from_classes=True)


@register
class Mae(Representation):
    name = "mae"
    data_spec = DATA
    expected_views = ("probe",)
    checks_input_shape = False  # the MAE consumes frames through its own masking pipeline; its builder checks them

    def fit_arrays(self, model, data, seed):
        if len(model.inputs) != 2:   # the student encoder: plain (x, y)
            return super().fit_arrays(model, data, seed)
        from ..zoo import mae        # the masked autoencoder: masks and targets
        train, val = mae.training_arrays(data.x_train, model, seed), mae.training_arrays(data.x_val, model, seed + 1)
        return (tuple(train[0]), train[1]), (tuple(val[0]), val[1])

    def device_form(self, model, data, rebuild):
        """The student with a fixed batch of one, so the converter folds its reshapes."""
        fixed = rebuild(batch_size=1)
        fixed.set_weights(model.get_weights())
        return fixed, data.x_train, data.x_test, "batch fixed at 1 for the converter"

    def views(self, models, deliver, data, state):
        own = {}
        if "probe" in state:   # before: the recipe's first slot (the teacher it starts from); after: the delivered
            probe = state["probe"]
            own["probe"] = {"before": probe.get(next(iter(models))), "after": probe.get(deliver)}
        return {**own, **super().views(models, deliver, data, state)}
