"""The second FPGA example: the GRU audio-effect student through hls4ml (io_parallel), C-sim against Keras."""

import numpy as np
import pytest
import tensorflow as tf

from compressor import zoo
from compressor.export.hls import export_hls
from compressor.targets import load_target

STEPS = 32


@pytest.mark.slow
def test_gru_effect_student_csim_follows_keras_on_audio(tmp_path):
    model = zoo.build("effects_gru", hidden=8)
    # hls4ml needs a fixed number of time steps: the same layers and weights on a (32, 1) input
    fixed = tf.keras.models.clone_model(model, input_tensors=tf.keras.Input((STEPS, 1), name="dry"))
    fixed.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    t = np.arange(STEPS) / 16000.0
    phase = rng.uniform(0, 2 * np.pi, (4, 1))
    audio = (0.5 * np.sin(2 * np.pi * 440 * t + phase)).astype(np.float32)[..., None]   # 440 Hz tones
    # float sigmoid/tanh become lookup tables in hls4ml: the default tolerance (1/256 of full scale) allows them
    result = export_hls(fixed, load_target("pynq-z2"), tmp_path / "hls", audio)
    m = result["metrics"]
    assert result["config"]["io_type"] == "io_parallel"              # no convolution -> parallel
    keras_out = fixed.predict(audio, verbose=0)
    esr = m["mse_hls_vs_qkeras"] / float(np.mean(keras_out ** 2))   # error-to-signal ratio, SPEC 3's metric
    print(f"\nGRU(8) C-sim vs Keras: max |error| {m['max_abs_error']:.4f} ({m['max_error_lsb']:.0f} LSB of "
          f"{m['output_precision']}), ESR {esr:.2e}")
    assert m["max_abs_error"] < 0.01 and esr < 1e-3
