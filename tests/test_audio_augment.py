import numpy as np

from compressor.audio import augment


def test_spec_augment_masks_two_bands_and_two_spans_with_the_mean():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 40, 51, 1)).astype(np.float32) + 5
    out = augment.spec_augment(x, seed=1, max_freq=6, max_time=7)
    assert out.shape == x.shape and not np.shares_memory(out, x)
    changed = out != x
    means = x.reshape(16, -1).mean(axis=1)
    assert np.allclose(out[changed], np.broadcast_to(means[:, None, None, None], x.shape)[changed])
    rows = changed[..., 0].all(axis=2)  # whole masked bands
    cols = changed[..., 0].all(axis=1)  # whole masked frames
    assert rows.sum(axis=1).max() <= 12 and cols.sum(axis=1).max() <= 14
    assert rows.sum() > 0 and cols.sum() > 0
    assert np.all(changed[..., 0] == (rows[:, :, None] | cols[:, None, :]))  # nothing else touched
    np.testing.assert_array_equal(out, augment.spec_augment(x, seed=1, max_freq=6, max_time=7))


def test_device_simulation_keeps_level_and_compresses_dynamics():
    sr = 16000
    t = np.arange(sr) / sr
    envelope = np.where((t > 0.3) & (t < 0.4), 1.0, 0.05)  # a loud burst in a quiet clip
    clips = np.stack([envelope * np.sin(2 * np.pi * f * t) for f in (300, 500, 700)]).astype(np.float32)
    out = augment.device_simulation(clips, sr, seed=0)
    assert out.shape == clips.shape and out.dtype == np.float32
    rms_in, rms_out = np.sqrt((clips ** 2).mean(1)), np.sqrt((out ** 2).mean(1))
    np.testing.assert_allclose(rms_out, rms_in, rtol=0.01)
    burst = (t > 0.32) & (t < 0.4)  # after the compressor's 5 ms attack
    quiet = (t > 0.5)

    def range_db(x):  # loud-to-quiet level difference of each clip
        return 10 * np.log10((x[:, burst] ** 2).mean(1) / (x[:, quiet] ** 2).mean(1))

    assert np.all(range_db(clips) - range_db(out) > 6)  # 26 dB -> about 11 dB with ratio 4 above -20 dB


def test_device_simulation_with_an_identity_ir_and_no_compression_is_the_input():
    rng = np.random.default_rng(0)
    clips = (0.01 * rng.standard_normal((2, 8000))).astype(np.float32)  # far below the threshold
    out = augment.device_simulation(clips, 8000, seed=0, irs=[np.array([1.0], np.float32)], threshold_db=0.0)
    np.testing.assert_allclose(out, clips, atol=1e-4)


def test_synthetic_irs_are_unit_energy_and_differ():
    irs = augment.synthetic_device_irs(4, seed=0)
    assert all(abs((ir ** 2).sum() - 1) < 1e-4 for ir in irs)
    assert not np.allclose(irs[0], irs[1])
