"""The reference model zoo: one module per family, one registry here.

    list_models()             -> [(name, one-line description)]
    build(name, **kwargs)     -> keras.Model (weights="builtin": with shipped pretrained weights, see below)
    spec(name)                -> ModelSpec (name, family, task, description, input_shape, defaults)

Family modules keep their own extra API: cae.build_parts / cae.LatentSampler, effects.streaming_model,
mae.build_mae / span_mask / random_projection_targets / mae_loss / embed / build_student_encoder.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from compressor.errors import BadInput
from compressor.zoo import cae, dcase, effects, mae, speech


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str          # cae | dcase | effects | mae | speech
    task: str            # autoencoder | classification | regression | representation
    description: str
    input_shape: tuple   # one example's shape (no batch); for the MAE, the frames input (the mask is (T,))
    defaults: dict = field(default_factory=dict)
    builder: Callable = field(default=None, repr=False, compare=False)

    @property
    def default_kwargs(self) -> dict:
        """The keyword arguments build() accepts for this model, with their defaults."""
        return dict(self.defaults)


def _mae_model(**kwargs):
    return mae.build_mae(**kwargs)[0]


_SPECS = [
    ModelSpec("cae", "cae", "autoencoder",
              "spectrogram conv autoencoder (Conv2DTranspose decoder), 128x196x1 -> latent 4 -> 128x196x1",
              cae.INPUT_SHAPE, {"variant": "paper", "latent": 4}, cae.build),
    ModelSpec("cae_fpga", "cae", "autoencoder",
              "spectrogram conv autoencoder, UpSampling2D+Conv2D decoder for hls4ml, 128x196x1 -> latent 4",
              cae.INPUT_SHAPE, {"variant": "fpga", "latent": 4}, cae.build),
    ModelSpec("dcase_baseline", "dcase", "classification",
              "DCASE 2022 Task 1 baseline CNN, 40x51x1 log-mel -> 10 scenes (softmax)",
              dcase.BASELINE_INPUT, {"input_shape": dcase.BASELINE_INPUT, "classes": 10}, dcase.build_baseline),
    ModelSpec("dcase_student", "dcase", "classification",
              "DCASE KD student CNN, 57,856 params, 80x51x1 log-mel -> 10 scene logits",
              dcase.STUDENT_INPUT, {"input_shape": dcase.STUDENT_INPUT, "classes": 10}, dcase.build_student),
    ModelSpec("dcase_teacher", "dcase", "classification",
              "DCASE KD teacher ResNet, 3,980,960 params at width 1 (width scales filters), 80x51x1 -> 10 logits",
              dcase.STUDENT_INPUT, {"input_shape": dcase.STUDENT_INPUT, "classes": 10, "width": 1.0},
              dcase.build_teacher),
    ModelSpec("effects_lstm", "effects", "regression",
              "audio-effect teacher: LSTM 64 + Dense + residual, (time, 1) dry samples -> (time, 1) wet",
              (None, 1), {"hidden": 64, "residual": True}, effects.build_lstm),
    ModelSpec("effects_gru", "effects", "regression",
              "audio-effect student: GRU 64/16/8 + Dense + residual, (time, 1) dry samples -> (time, 1) wet",
              (None, 1), {"hidden": 64, "residual": True}, effects.build_gru),
    ModelSpec("encodecmae_lite", "mae", "representation",
              "EnCodecMAE-lite masked autoencoder, 150x64 mel frames + (150,) mask -> (150, 8, 1024) logits",
              (mae.N_FRAMES, mae.N_MELS),
              {"n_frames": 150, "n_mels": 64, "dim": 128, "layers": 4, "heads": 4, "ffn": 256,
               "decoder_layers": 1, "quantizers": 8, "codebook_size": 1024, "mask_ratio": 0.5}, _mae_model),
    ModelSpec("encodecmae_student", "mae", "representation",
              "EnCodecMAE-lite student encoder (int8-TFLite friendly), 150x64 mel frames -> (150, 128) tokens",
              (mae.N_FRAMES, mae.N_MELS),
              {"n_frames": 150, "n_mels": 64, "dim": 64, "layers": 2, "heads": 2, "ffn": 128, "out_dim": 128,
               "batch_size": None}, mae.build_student_encoder),
    ModelSpec("speech_cnn1d", "speech", "classification",
              "raw-waveform 1-D CNN, 32000x1 samples (2 s at 16 kHz) -> 248 phrase logits",
              (speech.SAMPLES, 1), {"samples": speech.SAMPLES, "classes": speech.CLASSES}, speech.build),
]
_REGISTRY = {s.name: s for s in _SPECS}


def list_models() -> list[tuple[str, str]]:
    return [(s.name, s.description) for s in _SPECS]


def spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BadInput(f"unknown model {name!r}: expected one of {', '.join(_REGISTRY)}") from None


def build(name: str, weights: str | None = None, **kwargs):
    """Build a zoo model by name; kwargs override the spec's defaults (unknown keys are an error). `weights` names
    a shipped set of pretrained weights for that exact architecture (see load_shipped_weights)."""
    s = spec(name)
    accepted = set(inspect.signature(s.builder).parameters) if s.builder is not _mae_model else \
        set(inspect.signature(mae.build_mae).parameters)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise BadInput(f"model {name!r}: unknown option(s) {', '.join(unknown)}; "
                       f"expected {', '.join(sorted(accepted | {'weights'}))}")
    model = s.builder(**{**s.defaults, **kwargs})
    if weights is not None:
        load_shipped_weights(model, weights)
    return model


# Shipped weights: WEIGHTS_DIR/<keras model name>.<tag>.npz (model.get_weights() in order; a third of the size
# of Keras' h5), the model name encoding the variant (e.g. dcase_teacher_w0.25), and <same>.json beside it saying
# how they were made and what they measured.
WEIGHTS_DIR = Path(__file__).parent / "weights"


def shipped_weights(model_name: str) -> list[str]:
    """The tags of the weights shipped for the Keras model called `model_name`."""
    return sorted(p.name[len(model_name) + 1:-len(".npz")] for p in WEIGHTS_DIR.glob(f"{model_name}.*.npz"))


def shipped_weights_provenance(model_name: str, tag: str) -> dict:
    """How the shipped weights were made (data, schedule) and what they measured then: the JSON beside them."""
    return json.loads((WEIGHTS_DIR / f"{model_name}.{tag}.json").read_text())


def load_shipped_weights(model, tag: str):
    """Load the shipped weights `tag` into `model` (a BadInput naming both if there are none or they do not fit)."""
    path = WEIGHTS_DIR / f"{model.name}.{tag}.npz"
    if not path.is_file():
        shipped = shipped_weights(model.name)
        raise BadInput(f"model {model.name!r}: no shipped weights {tag!r} "
                       f"({'shipped: ' + ', '.join(shipped) if shipped else 'none are shipped for this variant'})")
    with np.load(path) as stored:
        weights = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    expected = [tuple(w.shape) for w in model.weights]
    if [w.shape for w in weights] != expected:  # e.g. a different class count
        raise BadInput(f"model {model.name!r}: shipped weights {tag!r} do not fit this model (they hold "
                       f"{len(weights)} arrays ending {weights[-1].shape}; it has {len(expected)} ending {expected[-1]})")
    model.set_weights(weights)
