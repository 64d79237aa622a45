"""EnCodecMAE-lite (SPEC 4): a frame-token transformer masked autoencoder for general audio representations.

Each mel frame is a token, linearly projected to width D with sinusoidal positions added. "Strict" span masking
hides exactly floor(T * ratio) frames; the encoder sees only the visible ones; the decoder gets the encoded
visible tokens back in place, a learned mask token at masked positions, positions added again, and predicts for
each of Q quantizers a K-way class per frame. Targets are discrete tokens: EnCodec's when the user has them, or
here BEST-RQ style random-projection quantizer tokens (the EnCodec weights cannot be downloaded).

Defaults are the "lite" scale: 64 mel, 2 s at 75 fps = 150 frames, D 128, 4 encoder layers, 4 heads, FFN 256,
1 decoder layer, Q 8, K 1024. The transformer is built from standard Keras layers (pre-LayerNorm blocks); only
positions, visible-frame selection and mask-token merging are small custom layers because Keras has none.
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf
from tensorflow import keras

from compressor.errors import BadInput

L = keras.layers
N_MELS = 64
N_FRAMES = 150                      # 2 s at 75 frames/s
GAMMA = (0.224, 0.176, 0.145, 0.121, 0.103, 0.088, 0.076, 0.066)  # per-quantizer loss weights (SPEC 4)
SIGMA = 0.9                         # weight of the masked-frame term


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The Transformer's fixed sin/cos position table, shape (length, dim)."""
    pos = np.arange(length)[:, None]
    i = np.arange(dim)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / dim)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


@keras.utils.register_keras_serializable(package="compressor")
class SinusoidalPositions(L.Layer):
    """Adds sinusoidal positions (no weights) to tokens of shape (batch, time, dim)."""

    def call(self, tokens):
        length, dim = tf.shape(tokens)[1], tokens.shape[-1]
        pos = tf.range(length, dtype=tf.float32)[:, None]
        i = tf.range(dim, dtype=tf.float32)[None, :]
        angle = pos / tf.pow(10000.0, 2.0 * tf.math.floordiv(i, 2.0) / float(dim))
        even = tf.math.equal(tf.math.floormod(i, 2.0), 0.0)
        return tokens + tf.where(even, tf.sin(angle), tf.cos(angle))


@keras.utils.register_keras_serializable(package="compressor")
class GatherVisible(L.Layer):
    """Keeps the n_visible unmasked tokens, in time order: [tokens (B, T, D), mask (B, T)] -> (B, n_visible, D).

    Every row of the mask must hide exactly T - n_visible frames (strict masking guarantees it)."""

    def __init__(self, n_visible: int, **kwargs):
        super().__init__(**kwargs)
        self.n_visible = int(n_visible)

    def call(self, inputs):
        tokens, mask = inputs
        order = tf.argsort(tf.cast(mask > 0.5, tf.int32), axis=1, stable=True)  # visible first, time order kept
        return tf.gather(tokens, order[:, : self.n_visible], batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "n_visible": self.n_visible}


@keras.utils.register_keras_serializable(package="compressor")
class MergeMaskTokens(L.Layer):
    """Puts encoded visible tokens back at their positions and a learned mask token at the masked ones:
    [visible (B, n_visible, D), mask (B, T)] -> (B, T, D)."""

    def build(self, input_shape):
        self.mask_token = self.add_weight(name="mask_token", shape=(input_shape[0][-1],),
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, inputs):
        visible, mask = inputs
        order = tf.argsort(tf.cast(mask > 0.5, tf.int32), axis=1, stable=True)
        n_masked = tf.shape(mask)[1] - tf.shape(visible)[1]
        fill = tf.tile(self.mask_token[None, None, :], [tf.shape(visible)[0], n_masked, 1])
        in_order = tf.concat([visible, fill], axis=1)
        return tf.gather(in_order, tf.argsort(order, axis=1), batch_dims=1)


def _block_layers(dim, heads, ffn, name, activation="gelu") -> dict:
    """The stock Keras layers of one pre-LayerNorm Transformer block (no dropout, as the source)."""
    return {"ln1": L.LayerNormalization(epsilon=1e-5, name=f"{name}_ln1"),
            "mha": L.MultiHeadAttention(heads, dim // heads, name=f"{name}_mha"),
            "add1": L.Add(name=f"{name}_add1"),
            "ln2": L.LayerNormalization(epsilon=1e-5, name=f"{name}_ln2"),
            "ffn1": L.Dense(ffn, activation=activation, name=f"{name}_ffn1"),
            "ffn2": L.Dense(dim, name=f"{name}_ffn2"),
            "add2": L.Add(name=f"{name}_add2")}


def _apply_block(x, b: dict):
    h = b["ln1"](x)
    x = b["add1"]([x, b["mha"](h, h)])
    return b["add2"]([x, b["ffn2"](b["ffn1"](b["ln2"](x)))])


def _block(x, dim, heads, ffn, name, activation="gelu"):
    return _apply_block(x, _block_layers(dim, heads, ffn, name, activation))


def _check(**sizes):
    for key, value in sizes.items():
        if int(value) < 1:
            raise BadInput(f"encodecmae {key}={value!r}: expected a positive integer")
    if sizes["dim"] % sizes["heads"]:
        raise BadInput(f"encodecmae dim={sizes['dim']} must be divisible by heads={sizes['heads']}")


def build_mae(n_frames: int = N_FRAMES, n_mels: int = N_MELS, dim: int = 128, layers: int = 4, heads: int = 4,
              ffn: int = 256, decoder_layers: int = 1, quantizers: int = 8, codebook_size: int = 1024,
              mask_ratio: float = 0.5):
    """(mae, encoder). mae: [frames (T, n_mels), mask (T,) 1 = masked] -> logits (T, Q, K).
    encoder: frames (any length, n_mels) -> tokens (time, D), sharing the MAE's encoder layers (no masking)."""
    _check(n_frames=n_frames, n_mels=n_mels, dim=dim, layers=layers, heads=heads, ffn=ffn,
           quantizers=quantizers, codebook_size=codebook_size)
    if not 0 < mask_ratio < 1:
        raise BadInput(f"encodecmae mask_ratio={mask_ratio!r}: expected a number in (0, 1)")
    n_visible = n_frames - int(np.floor(n_frames * mask_ratio))
    proj = L.Dense(dim, name="enc_proj")
    positions = SinusoidalPositions(name="enc_pos")
    enc_norm = L.LayerNormalization(epsilon=1e-5, name="enc_norm")
    # the same layer objects serve the masked MAE graph and the plain encoder graph (shared weights, flat models)
    blocks = [_block_layers(dim, heads, ffn, f"enc{i}") for i in range(layers)]

    def encode(tokens):
        for block in blocks:
            tokens = _apply_block(tokens, block)
        return enc_norm(tokens)

    frames = keras.Input((n_frames, n_mels), name="frames")
    mask = keras.Input((n_frames,), name="mask")
    visible = GatherVisible(n_visible, name="gather_visible")([positions(proj(frames)), mask])
    encoded = encode(visible)
    x = MergeMaskTokens(name="merge_mask_tokens")([L.Dense(dim, name="dec_proj")(encoded), mask])
    x = SinusoidalPositions(name="dec_pos")(x)
    for i in range(decoder_layers):
        x = _block(x, dim, heads, ffn, f"dec{i}")
    x = L.LayerNormalization(epsilon=1e-5, name="dec_norm")(x)
    logits = L.Reshape((n_frames, quantizers, codebook_size), name="logits")(
        L.Dense(quantizers * codebook_size, name="head")(x))
    mae = keras.Model([frames, mask], logits, name="encodecmae_lite")

    any_frames = keras.Input((None, n_mels), name="frames")
    encoder = keras.Model(any_frames, encode(positions(proj(any_frames))), name="encodecmae_lite_encoder")
    return mae, encoder


def build_student_encoder(n_frames: int = N_FRAMES, n_mels: int = N_MELS, dim: int = 64, layers: int = 2,
                          heads: int = 2, ffn: int = 128, out_dim: int = 128, batch_size=None) -> keras.Model:
    """A smaller encoder to distil the MAE encoder's embeddings into: frames (T, n_mels) -> tokens (T, out_dim).

    Fixed length, ReLU feed-forward and stock layers only, so the int8 TFLite converter maps it to builtin ops
    for a Cortex-M7; out_dim matches the teacher's D so the embeddings compare directly. Build with
    batch_size=1 for export: with a free batch dimension the converter keeps SHAPE / REDUCE_PROD / GATHER ops
    to compute reshapes at run time; with a fixed one they fold away."""
    _check(n_frames=n_frames, n_mels=n_mels, dim=dim, layers=layers, heads=heads, ffn=ffn, out_dim=out_dim)
    frames = keras.Input((n_frames, n_mels), batch_size=batch_size, name="frames")
    x = L.Dense(dim, name="enc_proj")(frames)
    x = x + tf.constant(sinusoidal_positions(n_frames, dim))  # a constant table: one ADD on the device
    for i in range(layers):
        x = _block(x, dim, heads, ffn, f"enc{i}", activation="relu")
    x = L.LayerNormalization(epsilon=1e-5, name="enc_norm")(x)
    y = L.Dense(out_dim, name="out_proj")(x)
    return keras.Model(frames, y, name="encodecmae_student")


def span_mask(n_frames: int, ratio: float = 0.5, span: int = 15, rng=None) -> np.ndarray:
    """Strict span mask (True = masked): exactly floor(n_frames * ratio) frames, in spans of `span` frames with
    random starts (overlaps allowed); the frames the last span adds beyond the target are left visible."""
    if not 0 < ratio < 1 or span < 1 or n_frames < 1:
        raise BadInput(f"span_mask(n_frames={n_frames}, ratio={ratio}, span={span}): expected n_frames >= 1, "
                       "0 < ratio < 1, span >= 1")
    rng = np.random.default_rng(rng)
    target = int(np.floor(n_frames * ratio))
    span = min(span, n_frames)
    mask = np.zeros(n_frames, dtype=bool)
    while mask.sum() < target:
        start = int(rng.integers(0, n_frames - span + 1))
        new = np.flatnonzero(~mask[start:start + span]) + start
        excess = int(mask.sum() + new.size - target)
        mask[new[: new.size - max(excess, 0)]] = True
    return mask


def random_projection_targets(frames, q: int = 8, codebook_size: int = 1024, seed: int = 0,
                              proj_dim: int = 16) -> np.ndarray:
    """BEST-RQ style targets: per quantizer, a fixed random projection of the standardized frame to proj_dim
    and the index of the nearest (cosine) of codebook_size random unit codes. frames (..., T, F) -> (..., T, q).
    Written by hand: no installed library ships a random-projection quantizer."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim < 2:
        raise BadInput(f"frames of shape {x.shape}: expected (..., time, mel_bands)")
    rng = np.random.default_rng(seed)
    feat = x.shape[-1]
    x = (x - x.mean(axis=-2, keepdims=True)) / (x.std(axis=-2, keepdims=True) + 1e-5)
    out = []
    for _ in range(q):
        proj = rng.standard_normal((feat, proj_dim)).astype(np.float32) * np.sqrt(2.0 / (feat + proj_dim))
        codes = rng.standard_normal((codebook_size, proj_dim)).astype(np.float32)
        codes /= np.linalg.norm(codes, axis=1, keepdims=True)
        z = x @ proj
        z /= np.linalg.norm(z, axis=-1, keepdims=True) + 1e-8
        out.append(np.argmax(z @ codes.T, axis=-1))
    return np.stack(out, axis=-1).astype(np.int32)


def mae_loss(targets, logits, mask, gamma=None, sigma: float = SIGMA):
    """sum_q gamma_q * [sigma * CE(masked frames) + (1 - sigma) * CE(visible frames)], each CE averaged over its
    own frames (and the batch). targets (B, T, Q) int, logits (B, T, Q, K), mask (B, T) 1 = masked."""
    q = logits.shape[-2]
    gamma = GAMMA[:q] if gamma is None else tuple(gamma)
    if len(gamma) != q:
        raise BadInput(f"mae_loss gamma has {len(gamma)} weights: expected one per quantizer ({q})")
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(targets, tf.int32), logits)  # (B, T, Q)
    m = tf.cast(mask, ce.dtype)[..., None]
    masked = tf.reduce_sum(ce * m, axis=[0, 1]) / tf.maximum(tf.reduce_sum(m), 1.0)
    visible = tf.reduce_sum(ce * (1 - m), axis=[0, 1]) / tf.maximum(tf.reduce_sum(1 - m), 1.0)
    return tf.reduce_sum(tf.constant(gamma, ce.dtype) * (sigma * masked + (1 - sigma) * visible))


def embed(encoder: keras.Model, frames) -> np.ndarray:
    """Mean-pooled last encoder layer: frames (T, F) or (B, T, F) -> (D,) or (B, D). A fixed-length encoder
    takes long input in consecutive chunks of its length (the last chunk ends at the last frame), averaged."""
    x = np.asarray(frames, dtype=np.float32)
    single = x.ndim == 2
    x = x[None] if single else x
    if x.ndim != 3 or x.shape[-1] != encoder.input_shape[-1]:
        raise BadInput(f"frames of shape {np.shape(frames)}: expected (time, {encoder.input_shape[-1]}) "
                       f"or (batch, time, {encoder.input_shape[-1]})")
    length = encoder.input_shape[1]
    if length is None:
        pooled = encoder(x, training=False).numpy().mean(axis=1)
    else:
        if x.shape[1] < length:
            raise BadInput(f"frames: {x.shape[1]} frames, the encoder needs at least {length}")
        starts = sorted(set(list(range(0, x.shape[1] - length + 1, length)) + [x.shape[1] - length]))
        pooled = np.mean([encoder(x[:, s:s + length], training=False).numpy().mean(axis=1) for s in starts], axis=0)
    return pooled[0] if single else pooled


def encoder_of(mae: keras.Model) -> keras.Model:
    """The MAE's encoder (any length, no masking) rebuilt from its layers by name, sharing their weights."""
    proj, positions, norm = mae.get_layer("enc_proj"), mae.get_layer("enc_pos"), mae.get_layer("enc_norm")
    n_blocks = sum(1 for layer in mae.layers if re.fullmatch(r"enc\d+_ln1", layer.name))
    keys = ("ln1", "mha", "add1", "ln2", "ffn1", "ffn2", "add2")
    frames = keras.Input((None, proj.kernel.shape[0]), name="frames")
    x = positions(proj(frames))
    for i in range(n_blocks):
        x = _apply_block(x, {key: mae.get_layer(f"enc{i}_{key}") for key in keys})
    return keras.Model(frames, norm(x), name="encodecmae_lite_encoder")


def training_arrays(frames, mae: keras.Model, seed: int = 0):
    """([frames, masks], packed) to fit the MAE with Keras: a fresh strict span mask per clip, random-projection
    targets, and targets + mask packed in one array (T, Q + 1) because a Keras loss sees only y_true and y_pred."""
    frames = np.asarray(frames, dtype=np.float32)
    n_frames, q, k = frames.shape[1], mae.output_shape[-2], mae.output_shape[-1]
    ratio = 1 - mae.get_layer("gather_visible").n_visible / n_frames
    rng = np.random.default_rng(seed)
    masks = np.stack([span_mask(n_frames, ratio=ratio, rng=rng) for _ in frames]).astype(np.float32)
    targets = random_projection_targets(frames, q=q, codebook_size=k, seed=seed).astype(np.float32)
    return [frames, masks], np.concatenate([targets, masks[..., None]], axis=-1)


def packed_loss(packed, logits, gamma=None, sigma: float = SIGMA):
    """mae_loss with targets and mask unpacked from `training_arrays`' y."""
    return mae_loss(packed[..., :-1], logits, packed[..., -1], gamma=gamma, sigma=sigma)
