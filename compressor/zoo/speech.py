"""Raw-waveform speech classifier, a 1-D CNN (SPEC 5).

Conv1D 32 k100 (no bias) + BN + ReLU + MaxPool 4, then five Conv1D k4 (64, 64, 128, 128, 256, no bias) each
+ BN + ReLU + MaxPool 4, Flatten (256 x 6 = 1536), Dense classes. 1536 fixes the input at 32,000 samples
(2 s at 16 kHz). 641,016 parameters with 248 classes (incl. BN statistics).
"""

from __future__ import annotations

from tensorflow import keras

from compressor.errors import BadInput
from compressor.zoo.layers import BatchNorm

L = keras.layers
SAMPLES = 32000
CLASSES = 248


LAYERS = ((32, 100), (64, 4), (64, 4), (128, 4), (128, 4), (256, 4))  # (filters, kernel), valid padding


def _steps_left(samples: int) -> int:
    """Time steps left after the six valid convolutions and 4x pools."""
    for _, kernel in LAYERS:
        samples = (samples - kernel + 1) // 4
    return samples


def build(samples: int = SAMPLES, classes: int = CLASSES) -> keras.Model:
    if int(classes) < 2:
        raise BadInput(f"speech_cnn1d classes={classes!r}: expected an integer >= 2")
    if _steps_left(int(samples)) < 1:
        raise BadInput(f"speech_cnn1d samples={samples!r}: expected at least 8287 (default 32000)")
    x = inputs = keras.Input((int(samples), 1), name="waveform")
    for i, (filters, kernel) in enumerate(LAYERS):
        x = L.Conv1D(filters, kernel, use_bias=False, name=f"conv{i}")(x)
        x = BatchNorm(name=f"bn{i}")(x)
        x = L.ReLU(name=f"relu{i}")(x)
        x = L.MaxPooling1D(4, name=f"pool{i}")(x)
    x = L.Flatten(name="flatten")(x)
    y = L.Dense(int(classes), name="logits")(x)
    return keras.Model(inputs, y, name="speech_cnn1d")
