"""quantize_model: the QKeras twin gets the quantizers of the rules and the float weights."""

import numpy as np
import pytest
import qkeras
import tensorflow as tf

from compressor.errors import BadInput
from compressor.methods.quantize import parse_quantizer, quantize_model


def tiny_model():
    tf.keras.utils.set_random_seed(0)
    i = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3, padding="same", name="conv_0")(i)
    x = tf.keras.layers.BatchNormalization(name="bn_0")(x)
    x = tf.keras.layers.Activation("relu", name="act_0")(x)
    x = tf.keras.layers.DepthwiseConv2D(3, name="dw_1")(x)
    x = tf.keras.layers.ReLU(name="relu_1")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    o = tf.keras.layers.Dense(3, name="dense")(x)
    return tf.keras.Model(i, o)


RULES = {
    "conv_*": {"kernel": "stochastic_ternary", "bias": "quantized_po2(4)"},
    "dw_*": {"kernel": "quantized_bits(8,0,1)"},
    "act_*": {"activation": "binary relu"},
    "relu_*": {"activation": "adaptive relu"},
    "dense": {"kernel": "quantized_bits(4,0,1)", "bias": "quantized_bits(4)"},
}


def test_layers_get_their_twins_quantizers_and_weights():
    model = tiny_model()
    qmodel, assigned = quantize_model(model, RULES)
    types = {l.name: type(l) for l in qmodel.layers}
    assert types["conv_0"] is qkeras.QConv2D
    assert types["dw_1"] is qkeras.QDepthwiseConv2D
    assert types["act_0"] is qkeras.QActivation and types["relu_1"] is qkeras.QActivation
    assert types["dense"] is qkeras.QDense
    assert types["bn_0"] is tf.keras.layers.BatchNormalization  # kept, not folded
    assert assigned["act_0"] == {"activation": "binary(alpha=1)"}
    assert assigned["relu_1"] == {"activation": "quantized_relu(4,2)"}

    read = {layer.name: {attr: str(getattr(layer, attr + "_internal", None) or getattr(layer, "quantizer", ""))
                         for attr in ("kernel_quantizer", "bias_quantizer", "depthwise_quantizer")}
            for layer in qmodel.layers}
    read["act_0"]["activation"] = str(qmodel.get_layer("act_0").quantizer)    # read back from the QKeras layers
    assert read["conv_0"]["kernel_quantizer"].startswith("stochastic_ternary")
    assert read["conv_0"]["bias_quantizer"].startswith("quantized_po2(4")
    assert read["dw_1"]["depthwise_quantizer"].startswith("quantized_bits(8,0,1")
    assert read["dense"]["kernel_quantizer"].startswith("quantized_bits(4,0,1")
    assert read["act_0"]["activation"].startswith("binary")

    for layer in model.layers:
        for w_float, w_q in zip(layer.get_weights(), qmodel.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(w_float, w_q)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype("float32")
    assert qmodel.predict(x, verbose=0).shape == (2, 3)


def test_default_applies_to_unmatched_quantizable_layers():
    qmodel, assigned = quantize_model(tiny_model(), {"dense": {"kernel": "ternary"}},
                                      default={"kernel": "quantized_bits(8,0,1)", "bias": "quantized_bits(8,3,1)"})
    assert assigned["conv_0"]["kernel"] == "quantized_bits(8,0,1)"
    assert assigned["dense"] == {"kernel": "ternary", "bias": "quantized_bits(8,3,1)"}


def test_pattern_matching_nothing_raises():
    with pytest.raises(BadInput, match="'lstm_\\*' matches no layer"):
        quantize_model(tiny_model(), {"lstm_*": {"kernel": "ternary"}})


def test_pattern_matching_only_unquantizable_layers_raises():
    with pytest.raises(BadInput, match="flat \\(Flatten\\)"):
        quantize_model(tiny_model(), {"flat": {"kernel": "ternary"}})


@pytest.mark.parametrize("text", ["quantised_bits(8,0,1)", "relu", "quantized_bits(8,0,1", "quantized_bits(foo=3)"])
def test_bad_quantizer_string_raises_naming_it(text):
    with pytest.raises(BadInput, match="quantizer"):
        parse_quantizer(text)


def test_unknown_rule_key_raises():
    with pytest.raises(BadInput, match="recurrent"):
        quantize_model(tiny_model(), {"dense": {"recurrent": "ternary"}})
