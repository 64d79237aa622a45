"""DCASE 2022 Task 1 models (SPEC 2): parameter and MAC counts of the student, teacher and baseline."""

import numpy as np
import pytest
import tensorflow as tf

from compressor import zoo
from compressor.errors import BadInput


def _conv_dense_macs(model):
    """MACs of the conv and dense layers as QKeras' estimator counts them. It reads Q-layers only, so count on a
    QKeras twin (each Conv2D / Dense cloned from its config as QConv2D / QDense, no quantizers)."""
    from qkeras import QConv2D, QDense
    from qkeras.estimate import extract_model_operations

    def to_q(layer):
        kind = {"Conv2D": QConv2D, "Dense": QDense}.get(type(layer).__name__)
        if kind is None:
            return type(layer).from_config(layer.get_config())
        # QKeras' estimator reads quantizers only; a float activation does not change the MAC count
        return kind.from_config({**layer.get_config(), "activation": None})

    twin = tf.keras.models.clone_model(model, clone_function=to_q)
    ops = extract_model_operations(twin)
    assert len(ops) == sum(type(layer).__name__ in ("Conv2D", "Dense") for layer in model.layers)
    return sum(op["number_of_operations"] for op in ops.values())


def _nessi_keras_macs(model):
    """NeSsi's Keras count (the source's tool): TF profiler float ops // 2 on the inference graph at batch 1."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1,) + model.input_shape[1:])
    graph = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False))
                                              .get_concrete_function(spec)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options).total_float_ops // 2


@pytest.fixture(scope="module")
def student():
    return zoo.build("dcase_student")


def test_student_parameters(student):
    # 992 + 128 + 6 x (9,248 + 128) + 330 + 40 + 110 (SPEC 2, derived)
    assert student.count_params() == 57_856
    assert student.output_shape == (None, 10)
    assert sum(1 for layer in student.layers if type(layer).__name__ == "ReLU") == 7


def test_student_macs(student):
    # conv + dense alone: 3,916,800 + 2 x 9,216,000 + 4 x 884,736 + 30,720 + 100
    assert _conv_dense_macs(student) == 25_918_564
    # the published 26.116 MMACs is NeSsi's count (bias adds and pooling windows included): within 0.1 %
    assert _nessi_keras_macs(student) == pytest.approx(26_116_000, rel=1e-3)


def test_student_other_input_shape():
    model = zoo.build("dcase_student", input_shape=(40, 51, 1))
    assert model.input_shape == (None, 40, 51, 1) and model.count_params() == 57_856
    assert model(np.zeros((2, 40, 51, 1), np.float32)).shape == (2, 10)


def test_teacher_full_and_width_scaled():
    assert zoo.build("dcase_teacher").count_params() == 3_980_960
    quick = zoo.build("dcase_teacher", width=0.25)
    assert quick.count_params() < 3_980_960 / 10
    assert quick.get_layer("b4_1_w1").filters == 128 and quick.get_layer("s1_conv").filters == 32
    assert quick(np.zeros((1, 80, 51, 1), np.float32)).shape == (1, 10)


def test_baseline_official_figures():
    model = zoo.build("dcase_baseline")
    assert model.input_shape == (None, 40, 51, 1) and model.count_params() == 46_246  # incl. BN statistics
    # the official "46,512" is bytes after BN folding: int8 kernels (1 byte) + int32 biases (4 bytes)
    kernels = sum(int(np.prod(l.kernel.shape)) for l in model.layers if hasattr(l, "kernel"))
    biases = sum(int(np.prod(l.bias.shape)) for l in model.layers if hasattr(l, "kernel"))
    assert kernels + 4 * biases == 46_512
    # official 29,234,920 MACs includes pooling; the conv + dense part alone is 29,203,560 (1.2 k below)
    assert _conv_dense_macs(model) == 29_203_560


def test_bad_inputs():
    with pytest.raises(BadInput, match="width"):
        zoo.build("dcase_teacher", width=0)
    with pytest.raises(BadInput, match="input_shape"):
        zoo.build("dcase_student", input_shape=(80, 51))
