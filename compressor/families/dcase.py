"""Acoustic scene classification (DCASE 2022 Task 1 style: 10 scenes, several recording devices).

Data: x = log-mel (n, n_mels, 51, 1) in dB, y = class index (n,) as float32; extra devices_<split>.
"""

import numpy as np

from ..audio import builtin
from ..audio.dataset import SPLITS, DataSpec, assemble, split_seeds
from . import register
from .base import Classifier


def _builtin(params, quick, seed):
    rate = params["sample_rate"]
    made = {s: builtin.acoustic_scenes(n, sd, builtin.DEVICES if s == "test" else builtin.TRAIN_DEVICES, rate)
            for s, n, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    audio = {s: m[0] for s, m in made.items()}
    labels = {s: m[1] for s, m in made.items()}
    extra = {f"devices_{s}": np.array(m[2]) for s, m in made.items()}
    return assemble("builtin:dcase", DATA, params, audio, labels, list(builtin.SCENES), extra)


DATA = DataSpec("dcase", "classification", "dcase_mel",
                sizes={True: (300, 60, 300), False: (5000, 1000, 2000)}, generate=_builtin,
                layouts=("tau", "classes"), channel_axis=True)


@register
class Dcase(Classifier):
    name = "dcase"
    data_spec = DATA
    expected_views = ("confusion",)
