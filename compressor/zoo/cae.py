"""Spectrogram convolutional autoencoder (SPEC 1): a generator of synthetic underwater-sound spectrograms.

Input 128 x 196 x 1 (frequency bins x frames, values in [0, 1]), latent 4.
Encoder reconstructed from the source's Table III operation counts: four 3x3 `same` convolutions
(32 s1, 64 s2, 64 s2, 64 s1), Flatten (32 x 49 x 64 = 100,352), Dense 4.
Decoder: the mirror. The "paper" variant uses Conv2DTranspose as the source; the "fpga" variant replaces each
strided transposed convolution by UpSampling2D + Conv2D because hls4ml has no transposed convolution. The two are
different models (not numerically equivalent), each trained as such. Quantize the fpga variant: qkeras 0.9.0's
QConv2DTranspose fails on TF 2.15 (`array_ops.stack` no longer exists), so the paper decoder stays float.

QKeras' print_qstats on the Model 1 twin (8-bit input, quantized_bits(8,0,1) kernels, binary activations)
gives Table III's five operation and weight counts exactly; the dense op type comes out smux_4_1 (binary
input) where the source printed smult_4_32, so its dense input was evidently not binarised.

Parameters: 1,088,453 for either variant. The source quotes 1,108,869 for its CAE (about 20k more) without
saying where they are; we do not pad the model to match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tensorflow import keras

from compressor.errors import BadInput
from compressor.graph import fresh_copy

INPUT_SHAPE = (128, 196, 1)
LATENT = 4
ENC_FILTERS = (32, 64, 64, 64)
ENC_STRIDES = (1, 2, 2, 1)
BOTTLENECK = (32, 49, 64)  # encoder output before Flatten: 100,352 values
VARIANTS = ("paper", "fpga")


def build_parts(variant: str = "paper", latent: int = LATENT, input_shape=INPUT_SHAPE):
    """(encoder, decoder, autoencoder): three flat functional models over the same layer objects (shared weights).

    Flat, not nested: QKeras cloning, tfmot pruning and hls4ml all want every layer at the top level."""
    if variant not in VARIANTS:
        raise BadInput(f"cae variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    if int(latent) < 1:
        raise BadInput(f"cae latent={latent!r}: expected a positive integer")
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[0] % 4 or input_shape[1] % 4:
        raise BadInput(f"cae input_shape={input_shape}: expected (H, W, C) with H and W divisible by 4")
    encoder_layers = _encoder_layers(int(latent))
    bottleneck = (input_shape[0] // 4, input_shape[1] // 4, ENC_FILTERS[-1])
    decoder_layers = _decoder_layers(variant, bottleneck, input_shape[-1])

    def chain(x, layers):
        for layer in layers:
            x = layer(x)
        return x

    spectrogram = keras.Input(input_shape, name="spectrogram")
    z = keras.Input((int(latent),), name="latent")
    encoder = keras.Model(spectrogram, chain(spectrogram, encoder_layers), name="cae_encoder")
    decoder = keras.Model(z, chain(z, decoder_layers), name=f"cae_decoder_{variant}")
    x = keras.Input(input_shape, name="spectrogram")
    autoencoder = keras.Model(x, chain(chain(x, encoder_layers), decoder_layers), name=f"cae_{variant}")
    return encoder, decoder, autoencoder


def build(variant: str = "paper", latent: int = LATENT, input_shape=INPUT_SHAPE) -> keras.Model:
    """The autoencoder alone, as a graph of its own: build_parts' three models share layers, and a layer with
    several call sites has no single `.output` (hls4ml's probes, QTools and tfmot need one)."""
    return fresh_copy(build_parts(variant, latent, input_shape)[2])


def encoder_of(autoencoder: keras.Model) -> keras.Model:
    """The encoder part of a (possibly quantized or pruned) CAE: input -> the layer named *enc_dense."""
    return keras.Model(autoencoder.inputs, _find(autoencoder, "enc_dense").output, name="cae_encoder")


def decoder_of(autoencoder: keras.Model) -> keras.Model:
    """The decoder part: a new latent input through every layer after *enc_dense (the CAE is a chain)."""
    layers = autoencoder.layers
    start = layers.index(_find(autoencoder, "enc_dense")) + 1
    x = z = keras.Input(_find(autoencoder, "enc_dense").output_shape[1:], name="latent")
    for layer in layers[start:]:
        x = layer(x)
    return keras.Model(z, x, name="cae_decoder")


def _find(model, suffix):
    # quantizers keep the names; tfmot's wrapper prefixes them ("prune_low_magnitude_enc_dense")
    found = [layer for layer in model.layers if layer.name == suffix or layer.name.endswith("_" + suffix)]
    if len(found) != 1:
        raise BadInput(f"model {model.name!r}: expected one layer named {suffix!r} (a zoo CAE), found {len(found)}")
    return found[0]


def _encoder_layers(latent: int) -> list:
    layers = [keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu", name=f"enc_conv{i}")
              for i, (filters, stride) in enumerate(zip(ENC_FILTERS, ENC_STRIDES))]
    return layers + [keras.layers.Flatten(name="enc_flatten"), keras.layers.Dense(latent, name="enc_dense")]


def _decoder_layers(variant: str, bottleneck=BOTTLENECK, out_channels: int = 1) -> list:
    layers = [keras.layers.Dense(int(np.prod(bottleneck)), activation="relu", name="dec_dense"),
              keras.layers.Reshape(bottleneck, name="dec_reshape")]
    # mirror of the encoder: filters 64, 64, 32 with strides 1, 2, 2, then a 1-channel sigmoid output
    plan = ((64, 1), (64, 2), (32, 2))
    for i, (filters, stride) in enumerate(plan):
        if variant == "paper":
            layers.append(keras.layers.Conv2DTranspose(filters, 3, strides=stride, padding="same", activation="relu",
                                                       name=f"dec_conv{i}"))
        else:
            if stride > 1:
                layers.append(keras.layers.UpSampling2D(stride, name=f"dec_up{i}"))
            layers.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"dec_conv{i}"))
    last = keras.layers.Conv2DTranspose if variant == "paper" else keras.layers.Conv2D
    layers.append(last(out_channels, 3, padding="same", activation="sigmoid", name=f"dec_conv{len(plan)}"))
    return layers


@dataclass
class LatentSampler:
    """Draws latent vectors distributed like the training latents, for generation with the decoder alone.

    The source checks that its latents are Gaussian and uncorrelated and then samples N(mean, std) per dimension;
    when they are not, it approximates the distribution (Rogers et al.'s chaotic maps, meant for logic). Here the
    fallback is an empirical inverse-CDF per dimension joined by a Gaussian copula (keeps the rank correlation),
    written by hand because no library ships this small sampler. `kind` records which one was chosen.
    """

    alpha: float = 0.01          # normality-test significance (D'Agostino-Pearson, scipy)
    max_corr: float = 0.2        # largest |Pearson correlation| between two dimensions still "uncorrelated"
    kind: str | None = None      # "gaussian" or "empirical", set by fit()
    checks: dict = field(default_factory=dict)

    def fit(self, latents) -> "LatentSampler":
        from scipy import stats

        z = np.asarray(latents, dtype=np.float64)
        if z.ndim != 2 or z.shape[0] < 20:
            raise BadInput(f"latents of shape {z.shape}: expected (n >= 20, latent_dim)")
        pvalues = [float(stats.normaltest(z[:, d]).pvalue) for d in range(z.shape[1])]
        corr = np.corrcoef(z, rowvar=False) if z.shape[1] > 1 else np.ones((1, 1))
        off_diag = float(np.max(np.abs(corr - np.diag(np.diag(corr))))) if z.shape[1] > 1 else 0.0
        gaussian = min(pvalues) > self.alpha and off_diag <= self.max_corr
        self.kind = "gaussian" if gaussian else "empirical"
        self.checks = {"normality_pvalues": pvalues, "max_abs_correlation": off_diag}
        self.mean_, self.std_ = z.mean(axis=0), z.std(axis=0)
        self.sorted_ = np.sort(z, axis=0)
        ranks = stats.norm.ppf((stats.rankdata(z, axis=0) - 0.5) / z.shape[0])
        self.copula_corr_ = np.corrcoef(ranks, rowvar=False) if z.shape[1] > 1 else np.ones((1, 1))
        return self

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        from scipy import stats

        if self.kind is None:
            raise BadInput("LatentSampler.sample before fit: fit it on the training latents first")
        rng = np.random.default_rng(seed)
        dims = self.mean_.shape[0]
        if self.kind == "gaussian":
            return (self.mean_ + self.std_ * rng.standard_normal((n, dims))).astype(np.float32)
        g = rng.multivariate_normal(np.zeros(dims), self.copula_corr_, size=n)
        u = stats.norm.cdf(g)
        grid = (np.arange(self.sorted_.shape[0]) + 0.5) / self.sorted_.shape[0]
        out = np.stack([np.interp(u[:, d], grid, self.sorted_[:, d]) for d in range(dims)], axis=1)
        return out.astype(np.float32)
