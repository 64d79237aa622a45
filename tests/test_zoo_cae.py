"""CAE (SPEC 1): parameter counts, the two decoder variants, shared parts, Table III op counts, latent sampler."""

import numpy as np
import pytest
from tensorflow import keras

from compressor.errors import BadInput
from compressor.zoo import cae


@pytest.fixture(scope="module")
def paper():
    return cae.build_parts("paper")


@pytest.fixture(scope="module")
def fpga():
    return cae.build_parts("fpga")


def test_paper_cae_counts_and_shapes(paper):
    encoder, decoder, autoencoder = paper
    assert autoencoder.count_params() == 1_088_453  # source says 1,108,869; SPEC 1: do not pad
    assert encoder.count_params() == 494_084
    assert decoder.count_params() == 594_369
    assert encoder.output_shape == (None, 4)
    assert decoder.output_shape == (None, 128, 196, 1)
    assert encoder.get_layer("enc_flatten").output_shape == (None, 100_352)
    kinds = {type(layer).__name__ for layer in decoder.layers}
    assert "Conv2DTranspose" in kinds


def test_fpga_decoder_has_no_transposed_conv(fpga):
    encoder, decoder, autoencoder = fpga
    kinds = [type(layer).__name__ for layer in decoder.layers]
    assert "Conv2DTranspose" not in kinds and kinds.count("UpSampling2D") == 2
    assert decoder.output_shape == (None, 128, 196, 1)
    assert autoencoder.count_params() == 1_088_453
    assert [layer.name for layer in decoder.layers if "conv" in layer.name] == [f"dec_conv{i}" for i in range(4)]


def test_parts_share_weights(fpga):
    encoder, decoder, autoencoder = fpga
    # one flat model whose layers are the encoder's and decoder's own objects
    assert [layer for layer in autoencoder.layers[1:]] == encoder.layers[1:] + decoder.layers[1:]
    assert all(not isinstance(layer, keras.Model) for layer in autoencoder.layers)
    x = np.random.default_rng(0).random((1, 128, 196, 1), dtype=np.float32)
    np.testing.assert_allclose(autoencoder(x).numpy(), decoder(encoder(x)).numpy(), atol=1e-6)
    out = autoencoder(x).numpy()
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output, spectrogram range


def test_bad_variant_and_latent():
    with pytest.raises(BadInput, match="variant"):
        cae.build_parts("transposed")
    with pytest.raises(BadInput, match="latent"):
        cae.build_parts("paper", latent=0)


def _model1_encoder(encoder):
    """The QKeras twin of the float encoder with Table II Model 1 quantizers (clone + Q-layers from config)."""
    from qkeras import QActivation, QConv2D, QDense, binary, quantized_bits, quantized_po2

    def to_q(layer):
        cfg = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            cfg.update(activation=binary(), kernel_quantizer=quantized_bits(8, 0, 1), bias_quantizer=quantized_po2(4))
            return QConv2D(**cfg)
        if isinstance(layer, keras.layers.Dense):
            cfg.update(kernel_quantizer=quantized_bits(4, 0, 1), bias_quantizer=quantized_bits(4))
            return QDense(**cfg)
        return layer.__class__.from_config(cfg)

    # the encoder is a chain: rebuild it layer by layer behind an 8-bit input quantizer
    x = inputs = keras.Input(encoder.input_shape[1:])
    x = QActivation(quantized_bits(8, 0, 1), name="input_q")(x)
    for layer in encoder.layers[1:]:
        x = to_q(layer)(x)
    return keras.Model(inputs, x)


def test_encoder_reproduces_table_iii(paper):
    from qkeras.estimate import extract_model_operations

    ops = extract_model_operations(_model1_encoder(paper[0]))
    table_iii = {"enc_conv0": (7_225_344, 288, "mult", (8, 8)), "enc_conv1": (115_605_504, 18_432, "mux", (8, 1)),
                 "enc_conv2": (57_802_752, 36_864, "mux", (8, 1)), "enc_conv3": (57_802_752, 36_864, "mux", (8, 1)),
                 "enc_dense": (401_408, 401_408, None, None)}
    for name, (n_ops, n_weights, op, bits) in table_iii.items():
        assert ops[name]["number_of_operations"] == n_ops, name
        assert ops[name]["number_of_weights"] == n_weights, name
        if op:  # smult_8_8 for the first conv, smux_8_1 after binary activations
            assert ops[name]["type"][0] == op and tuple(ops[name]["type"][2]) == bits, name


def test_sampler_gaussian_uncorrelated():
    rng = np.random.default_rng(1)
    z = rng.normal([0.5, -1, 2, 0], [1, 0.5, 2, 0.1], size=(2000, 4))
    sampler = cae.LatentSampler().fit(z)
    assert sampler.kind == "gaussian"
    s = sampler.sample(5000, seed=3)
    assert s.shape == (5000, 4)
    np.testing.assert_allclose(s.mean(0), z.mean(0), atol=0.1)
    np.testing.assert_allclose(s.std(0), z.std(0), rtol=0.1)
    np.testing.assert_array_equal(s, sampler.sample(5000, seed=3))


def test_sampler_falls_back_to_empirical_and_keeps_marginals_and_correlation():
    from scipy import stats

    rng = np.random.default_rng(2)
    a = rng.exponential(1.0, 3000)
    z = np.stack([a, a + 0.3 * rng.exponential(1.0, 3000), rng.uniform(-1, 1, 3000), rng.normal(0, 1, 3000)], 1)
    sampler = cae.LatentSampler().fit(z)
    assert sampler.kind == "empirical"
    s = sampler.sample(3000, seed=0)
    for d in range(4):
        assert stats.ks_2samp(s[:, d], z[:, d]).pvalue > 0.01
    assert s[:, 0].min() >= z[:, 0].min() - 1e-9  # never outside the seen range
    assert abs(np.corrcoef(s[:, 0], s[:, 1])[0, 1] - np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.1


def test_sampler_errors():
    with pytest.raises(BadInput, match="before fit"):
        cae.LatentSampler().sample(3)
    with pytest.raises(BadInput, match="latents"):
        cae.LatentSampler().fit(np.zeros((5, 4)))


def test_flat_autoencoder_is_prunable(fpga):
    import tensorflow_model_optimization as tfmot

    pruned = tfmot.sparsity.keras.prune_low_magnitude(fpga[2])  # refuses nested models; ours is flat
    assert pruned.count_params() > fpga[2].count_params()  # masks and thresholds added


def test_parts_recovered_from_a_quantized_autoencoder(fpga):
    """encoder_of / decoder_of split a CAE after quantization (the QKeras twin keeps the layer names). The fpga
    variant: qkeras 0.9.0's QConv2DTranspose fails on TF 2.15 (array_ops.stack is gone)."""
    from qkeras import QConv2D, QDense, quantized_bits

    kinds = {"Conv2D": QConv2D, "Dense": QDense}

    def to_q(layer):
        kind = kinds.get(type(layer).__name__)
        if kind is None:
            return type(layer).from_config(layer.get_config())
        return kind.from_config({**layer.get_config(), "kernel_quantizer": quantized_bits(8, 0, 1)})

    quantized = keras.models.clone_model(fpga[2], clone_function=to_q)
    encoder, decoder = cae.encoder_of(quantized), cae.decoder_of(quantized)
    assert type(encoder.get_layer("enc_conv1")).__name__ == "QConv2D"
    assert encoder.output_shape == (None, 4) and decoder.output_shape == (None, 128, 196, 1)
    x = np.random.default_rng(3).random((1, 128, 196, 1), dtype=np.float32)
    np.testing.assert_allclose(quantized(x).numpy(), decoder(encoder(x)).numpy(), atol=1e-6)
    with pytest.raises(BadInput, match="enc_dense"):
        cae.encoder_of(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
