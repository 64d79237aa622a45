"""QTools energy (Horowitz): per-layer split, and SPEC 1's Model 7 / Model 1 ratio on the CAE encoder."""

import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_po2, quantized_relu, stochastic_ternary

from compressor.analysis.energy import qtools_energy

L = tf.keras.layers


def _cae_encoder(conv_kernel, conv_bias, activation, dense_kernel, dense_bias, name, input_shape=(128, 196, 1)):
    """SPEC 1's encoder (Table III shapes) with one of Table II's quantizer rows."""
    inp = tf.keras.Input(input_shape)
    x = inp
    for i, (filters, stride) in enumerate([(32, 1), (64, 2), (64, 2), (64, 1)]):
        x = QConv2D(filters, 3, strides=stride, padding="same", kernel_quantizer=conv_kernel(),
                    bias_quantizer=conv_bias(), name=f"conv_{i}")(x)
        x = QActivation(activation(), name=f"act_{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(4, kernel_quantizer=dense_kernel(), bias_quantizer=dense_bias(), name="dense")(x)
    return tf.keras.Model(inp, x, name=name)


def model_1(**kw):
    # "binary relu" read as a 1-bit activation (QTools then counts smux_8_1, as SPEC 1's Table III does)
    return _cae_encoder(lambda: quantized_bits(8, 0, 1), lambda: quantized_po2(4), lambda: quantized_relu(1, 0),
                        lambda: quantized_bits(4, 0, 1), lambda: quantized_bits(4), "model_1", **kw)


def model_7(**kw):
    # "adaptive relu" read as a 4-bit quantized_relu whose range training adapts (its cost is set by its bits)
    return _cae_encoder(lambda: stochastic_ternary(), lambda: quantized_po2(4), lambda: quantized_relu(4, 2),
                        lambda: stochastic_ternary(), lambda: quantized_po2(4), "model_7", **kw)


def test_per_layer_split_and_total():
    model = model_1(input_shape=(16, 24, 1))
    e = qtools_energy(model)
    names = [layer["name"] for layer in e["layers"]]
    assert names == [layer.name for layer in model.layers[1:]]
    conv0 = e["layers"][0]["energy_pj"]
    assert set(conv0) == {"inputs", "parameters", "operations", "outputs"} and conv0["operations"] > 0
    # QTools' sum: inputs + parameters + operations of compute layers, outputs of activations
    by = {layer["name"]: layer["energy_pj"] for layer in e["layers"]}
    expected = sum(by[f"conv_{i}"]["inputs"] + by[f"conv_{i}"]["parameters"] + by[f"conv_{i}"]["operations"]
                   + by[f"act_{i}"]["outputs"] for i in range(4))
    expected += by["flatten"]["inputs"] + by["dense"]["inputs"] + by["dense"]["parameters"] + by["dense"]["operations"]
    assert e["total_pj"] == pytest.approx(expected, rel=1e-3, abs=2)
    assert e["figure"]["provenance"] == "estimated" and "Horowitz" in e["figure"]["by"]


def test_fewer_bits_cost_less():
    def dense(bits):
        inp = tf.keras.Input((32,))
        return tf.keras.Model(inp, QDense(16, kernel_quantizer=quantized_bits(bits, 0, 1))(inp))
    assert qtools_energy(dense(4))["total_pj"] < qtools_energy(dense(8))["total_pj"]


def test_model_7_over_model_1_on_the_cae_encoder():
    e = qtools_energy(model_7(), reference=model_1())
    print(f"\nQTools energy, CAE encoder: Model 7 {e['total_pj'] / 1e6:.2f} uJ, Model 1 "
          f"{e['reference_total_pj'] / 1e6:.2f} uJ, ratio {e['relative']:.3f} (source: 0.3)")
    assert 0 < e["relative"] < 1                       # ternary kernels cost less than 8-bit ones
    assert e["relative_figure"]["value"] == e["relative"]


def test_model_7_over_model_1_with_the_projects_table_ii_reading():
    """The ratio this project gets: the zoo's CAE encoder quantized by the quantize step's own Table II aliases
    ("binary relu" -> binary, "adaptive relu" -> quantized_relu(4,2)): below 1, though not the source's 0.3."""
    from compressor.methods.quantize import quantize_model
    from compressor.zoo import cae

    encoder = cae.build_parts("fpga")[0]

    def rules(conv_kernel, conv_bias, activation, dense_kernel, dense_bias):
        return {"enc_conv*": {"kernel": conv_kernel, "bias": conv_bias, "activation": activation},
                "enc_dense": {"kernel": dense_kernel, "bias": dense_bias}}

    m1, _ = quantize_model(encoder, rules("quantized_bits(8,0,1)", "quantized_po2(4)", "binary relu",
                                          "quantized_bits(4,0,1)", "quantized_bits(4)"))
    m7, _ = quantize_model(encoder, rules("stochastic_ternary", "quantized_po2(4)", "adaptive relu",
                                          "stochastic_ternary", "quantized_po2(4)"))
    e7, e1 = qtools_energy(m7), qtools_energy(m1)
    print(f"\nQTools energy, zoo CAE encoder with the quantize step's aliases: Model 7 / Model 1 = "
          f"{e7['total_pj'] / e1['total_pj']:.3f} (source: 0.3)")
    params = [sum(layer["energy_pj"]["parameters"] for layer in e["layers"]) for e in (e7, e1)]
    assert params[0] < params[1]                         # 2-bit ternary weights are cheaper to read than 8-bit
    assert e7["total_pj"] < e1["total_pj"]
