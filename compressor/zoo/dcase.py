"""DCASE 2022 Task 1 acoustic scene classifiers (SPEC 2): the official baseline, the KD teacher and student.

All emit 10 scene scores; teacher and student emit logits (KD softens them with a temperature), the baseline a
softmax as in the challenge's reference system.

Counting notes (checked in tests/test_zoo_dcase.py):
- student: 57,856 parameters incl. BN statistics. Its conv + dense MACs at 80 x 51 are 25,918,564 (QKeras
  estimate); the source's 26.116 MMACs came from NeSsi (TF profiler float ops / 2, so bias adds and pooling
  windows count too): on this model that count is 26,102,313, 0.05 % below the published figure. No padding
  choice reproduces 26.116 M exactly; `same` convs and `valid` pools are the closest (and the usual Keras ones).
- baseline: 46,246 Keras parameters incl. BN; the official "46,512 bytes" is int8 kernels + int32 biases after BN
  folding. Official 29,234,920 MACs include pooling; conv + dense alone are 29,203,560.
- teacher: 3,980,960 parameters at width 1.
"""

from __future__ import annotations

from tensorflow import keras

from compressor.errors import BadInput
from compressor.zoo.layers import BatchNorm

L = keras.layers
CLASSES = 10
STUDENT_INPUT = (80, 51, 1)    # 80 mel bands x 51 frames ("Procesado_1")
BASELINE_INPUT = (40, 51, 1)   # 40 mel bands x 51 frames


def _check_shape(name, input_shape):
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise BadInput(f"{name} input_shape={tuple(input_shape)}: expected (mel_bands, frames, channels)")
    return shape


def build_baseline(input_shape=BASELINE_INPUT, classes: int = CLASSES) -> keras.Model:
    """The DCASE 2022 Task 1 baseline CNN (40 x 51 log-mel input)."""
    x = inputs = keras.Input(_check_shape("dcase_baseline", input_shape), name="logmel")
    for i, filters in enumerate((16, 16)):
        x = L.Conv2D(filters, 7, padding="same", name=f"conv{i}")(x)
        x = BatchNorm(name=f"bn{i}")(x)
        x = L.ReLU(name=f"relu{i}")(x)
    x = L.MaxPooling2D((5, 5), name="pool0")(x)
    x = L.Dropout(0.3, name="drop0")(x)
    x = L.Conv2D(32, 7, padding="same", name="conv2")(x)
    x = BatchNorm(name="bn2")(x)
    x = L.ReLU(name="relu2")(x)
    x = L.MaxPooling2D((4, 10), name="pool1")(x)
    x = L.Dropout(0.3, name="drop1")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(100, activation="relu", name="dense0")(x)
    x = L.Dropout(0.3, name="drop2")(x)
    y = L.Dense(classes, activation="softmax", name="dense1")(x)
    return keras.Model(inputs, y, name="dcase_baseline")


def build_student(input_shape=STUDENT_INPUT, classes: int = CLASSES) -> keras.Model:
    """The KD student: a plain 5-stage CNN, logits out.

    The source lists Conv + BN with no activation; a purely linear stack would collapse to one linear map, so a
    ReLU follows each BN (ReLU, not ELU: it fuses into the int8 TFLite conv kernel on Cortex-M).
    """
    x = inputs = keras.Input(_check_shape("dcase_student", input_shape), name="logmel")

    def conv_bn_relu(x, filters, kernel, name):
        x = L.Conv2D(filters, kernel, padding="same", name=f"{name}_conv")(x)
        x = BatchNorm(name=f"{name}_bn")(x)
        return L.ReLU(name=f"{name}_relu")(x)

    x = conv_bn_relu(x, 32, (6, 5), "s1")
    x = L.MaxPooling2D((2, 2), name="s2_pool")(x)
    x = conv_bn_relu(x, 32, 3, "s2a")
    x = conv_bn_relu(x, 32, 3, "s2b")
    x = L.MaxPooling2D((5, 2), name="s3_pool")(x)
    for name in ("s3a", "s3b", "s4a", "s4b"):
        x = conv_bn_relu(x, 32, 3, name)
    x = L.Conv2D(classes, 1, name="s5_conv")(x)
    x = BatchNorm(name="s5_bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, y, name="dcase_student")


def build_teacher(input_shape=STUDENT_INPUT, classes: int = CLASSES, width: float = 1.0,
                  dropout: float = 0.1) -> keras.Model:
    """The KD teacher: a simplified ResNet (SPEC 2), 3,980,960 parameters at width 1; `width` scales every
    filter count (e.g. 0.25 for a quick run on CPU)."""
    if not 0 < float(width) <= 4:
        raise BadInput(f"dcase_teacher width={width!r}: expected a number in (0, 4]")

    def w(filters):
        return max(1, int(round(filters * width)))

    def block(x, filters, k1, k2, name, shortcut_conv=False):
        # conv W1 + BN + ELU, conv W2 + BN + ELU, spatial dropout; residual add (1x1 conv + BN on SC blocks)
        y = L.Conv2D(filters, k1, padding="same", name=f"{name}_w1")(x)
        y = BatchNorm(name=f"{name}_w1_bn")(y)
        y = L.ELU(name=f"{name}_w1_elu")(y)
        y = L.Conv2D(filters, k2, padding="same", name=f"{name}_w2")(y)
        y = BatchNorm(name=f"{name}_w2_bn")(y)
        y = L.ELU(name=f"{name}_w2_elu")(y)
        y = L.SpatialDropout2D(dropout, name=f"{name}_drop")(y)
        if shortcut_conv:
            x = L.Conv2D(filters, 1, name=f"{name}_sc")(x)
            x = BatchNorm(name=f"{name}_sc_bn")(x)
        return L.Add(name=f"{name}_add")([x, y])

    x = inputs = keras.Input(_check_shape("dcase_teacher", input_shape), name="logmel")
    x = L.Conv2D(w(128), 5, padding="same", name="s1_conv")(x)
    x = BatchNorm(name="s1_bn")(x)
    x = block(x, w(128), 3, 1, "b2_1")
    x = L.MaxPooling2D((2, 2), name="s2_pool")(x)
    for i in (2, 3, 4):
        x = block(x, w(128), 3, 3, f"b2_{i}")
    x = block(x, w(256), 3, 1, "b3_1", shortcut_conv=True)
    for i in (2, 3, 4):
        x = block(x, w(256), 1, 1, f"b3_{i}")
    x = block(x, w(512), 1, 1, "b4_1", shortcut_conv=True)
    for i in (2, 3, 4):
        x = block(x, w(512), 1, 1, f"b4_{i}")
    x = L.Conv2D(classes, 1, name="s5_conv")(x)
    x = BatchNorm(name="s5_bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, y, name="dcase_teacher" if width == 1 else f"dcase_teacher_w{width:g}")
