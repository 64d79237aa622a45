"""EnCodecMAE-lite (SPEC 4): strict span masking, random-projection targets, the weighted loss, the masked
encoder, embeddings, and an int8-convertible student encoder."""

import numpy as np
import pytest
import tensorflow as tf

from compressor import zoo
from compressor.errors import BadInput
from compressor.zoo import mae

TINY = dict(n_frames=30, n_mels=16, dim=32, layers=2, heads=2, ffn=64, quantizers=3, codebook_size=32)


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(0)
    return mae.build_mae(**TINY)


@pytest.mark.parametrize("n", [150, 151, 37, 16])
def test_span_mask_is_strict(n):
    for seed in range(5):
        mask = mae.span_mask(n, 0.5, 15, rng=seed)
        assert mask.dtype == bool and mask.sum() == n // 2
        # spans of 15 (merged where they overlap); only the trimmed last span may leave a shorter run
        edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
        runs = edges[1::2] - edges[::2]
        assert (runs < min(15, n // 2)).sum() <= 1
    np.testing.assert_array_equal(mae.span_mask(150, rng=3), mae.span_mask(150, rng=3))
    with pytest.raises(BadInput, match="ratio"):
        mae.span_mask(150, ratio=1.0)


def test_random_projection_targets():
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((2, 40, 16)).astype(np.float32)
    targets = mae.random_projection_targets(frames, q=4, codebook_size=64, seed=1)
    assert targets.shape == (2, 40, 4) and targets.min() >= 0 and targets.max() < 64
    assert len(np.unique(targets[..., 0])) > 10  # the codes are used, not collapsed to one
    np.testing.assert_array_equal(targets, mae.random_projection_targets(frames, 4, 64, seed=1))
    assert (targets != mae.random_projection_targets(frames, 4, 64, seed=2)).mean() > 0.5
    # per-band standardisation: a gain and an offset on the input leave the tokens unchanged
    np.testing.assert_array_equal(targets, mae.random_projection_targets(3 * frames + 1, 4, 64, seed=1))


def test_loss_weights_masked_and_visible_frames():
    rng = np.random.default_rng(0)
    b, t, q, k = 2, 10, 3, 5
    logits = rng.standard_normal((b, t, q, k)).astype(np.float32)
    targets = rng.integers(0, k, (b, t, q))
    mask = np.zeros((b, t), np.float32)
    mask[:, :4] = 1
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]  # (b, t, q)
    m = mask[..., None].astype(bool)
    per_q = 0.9 * ce[np.broadcast_to(m, ce.shape)].reshape(-1, q).mean(0) + \
        0.1 * ce[np.broadcast_to(~m, ce.shape)].reshape(-1, q).mean(0)
    expected = float(np.dot(mae.GAMMA[:q], per_q))
    assert float(mae.mae_loss(targets, logits, mask)) == pytest.approx(expected, rel=1e-5)
    # sigma = 1: visible frames do not count
    changed = logits.copy()
    changed[:, 4:] += rng.standard_normal(changed[:, 4:].shape).astype(np.float32)
    assert float(mae.mae_loss(targets, changed, mask, sigma=1.0)) == pytest.approx(
        float(mae.mae_loss(targets, logits, mask, sigma=1.0)), rel=1e-6)
    with pytest.raises(BadInput, match="gamma"):
        mae.mae_loss(targets, logits, mask, gamma=[1.0])


def test_masked_frames_never_reach_the_encoder(tiny):
    model, _ = tiny
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((2, 30, 16)).astype(np.float32)
    mask = np.stack([mae.span_mask(30, rng=s) for s in (0, 1)]).astype(np.float32)
    logits = model([frames, mask]).numpy()
    assert logits.shape == (2, 30, 3, 32)
    noisy = frames + 5 * mask[..., None] * rng.standard_normal(frames.shape).astype(np.float32)
    np.testing.assert_allclose(model([noisy, mask]).numpy(), logits, atol=1e-4)  # masked content: no effect
    visible = frames + (1 - mask[..., None]) * rng.standard_normal(frames.shape).astype(np.float32)
    assert np.abs(model([visible, mask]).numpy() - logits).max() > 1e-2      # visible content: an effect


def test_encoder_shares_weights_and_embeds(tiny):
    model, encoder = tiny
    frames = np.random.default_rng(1).standard_normal((3, 45, 16)).astype(np.float32)
    emb = mae.embed(encoder, frames)
    assert emb.shape == (3, 32)
    np.testing.assert_allclose(mae.embed(mae.encoder_of(model), frames), emb, atol=1e-6)
    np.testing.assert_allclose(mae.embed(encoder, frames[0]), emb[0], atol=1e-5)
    assert model.get_layer("enc1_mha") is encoder.get_layer("enc1_mha")
    assert not any(isinstance(layer, tf.keras.Model) for layer in model.layers)


def test_a_few_steps_reduce_the_loss(tiny):
    model, _ = tiny
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((4, 30, 16)).astype(np.float32)
    targets = mae.random_projection_targets(frames, q=3, codebook_size=32, seed=0)
    mask = np.stack([mae.span_mask(30, rng=s) for s in range(4)]).astype(np.float32)
    optimizer = tf.keras.optimizers.Adam(3e-3)
    losses = []
    for _ in range(15):
        with tf.GradientTape() as tape:
            loss = mae.mae_loss(targets, model([frames, mask], training=True), mask)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0]


def test_lite_defaults():
    s = zoo.spec("encodecmae_lite")
    assert s.family == "mae" and s.task == "representation" and s.input_shape == (150, 64)
    assert (s.defaults["dim"], s.defaults["layers"], s.defaults["heads"], s.defaults["ffn"]) == (128, 4, 4, 256)


def test_student_encoder_converts_to_int8_builtins():
    from tflite_micro.python.tflite_micro import runtime

    student = mae.build_student_encoder(batch_size=1)
    assert student.output_shape == (1, 150, 128)
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(4):
            yield [rng.standard_normal((1, 150, 64)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(student)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    flatbuffer = converter.convert()
    # TensorFlow Lite Micro (the MCU kernels) runs it
    micro = runtime.Interpreter.from_bytes(flatbuffer)
    micro.set_input(np.zeros((1, 150, 64), np.int8), 0)
    micro.invoke()
    assert micro.get_output(0).shape == (1, 150, 128)
    assert mae.embed(student, np.zeros((300, 64), np.float32)).shape == (128,)  # two 150-frame chunks


def test_bad_sizes():
    with pytest.raises(BadInput, match="divisible"):
        mae.build_mae(dim=30, heads=4)
    with pytest.raises(BadInput, match="frames"):
        mae.embed(mae.build_student_encoder(), np.zeros((100, 64)))
