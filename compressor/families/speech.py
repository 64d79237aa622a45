"""Spoken phrase classification on raw waveforms.

Data: x = raw waveform (n, 32000, 1) at 16 kHz, y = class index (n,) as float32.
"""

from ..audio import builtin
from ..audio.dataset import SPLITS, DataSpec, assemble, split_seeds
from . import register
from .base import Classifier


def _builtin(params, quick, seed):
    rate = params["sample_rate"]
    made = {s: builtin.utterances(n, sd, rate) for s, n, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    audio = {s: m[0] for s, m in made.items()}
    labels = {s: m[1] for s, m in made.items()}
    return assemble("builtin:speech", DATA, params, audio, labels, list(builtin.WORDS))


DATA = DataSpec("speech", "classification", "raw_waveform",
                sizes={True: (300, 60, 100), False: (3000, 500, 500)}, generate=_builtin, layouts=("classes",))


@register
class Speech(Classifier):
    name = "speech"
    data_spec = DATA
    expected_views = ("confusion",)
