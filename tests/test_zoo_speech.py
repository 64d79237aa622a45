"""Speech 1-D CNN (SPEC 5): Flatten 1536 fixes 32,000 samples; class count configurable."""

import pytest

from compressor import zoo
from compressor.errors import BadInput


def test_published_shape_and_parameters():
    model = zoo.build("speech_cnn1d")
    assert model.input_shape == (None, 32_000, 1)
    assert model.get_layer("flatten").output_shape == (None, 1536)  # 256 x 6, as the source's Linear(1536, 248)
    assert model.output_shape == (None, 248)
    # 3,200 + 8,192 + 16,384 + 32,768 + 65,536 + 131,072 conv kernels (no bias), BN 4 x 1,344, Dense 381,176
    assert model.count_params() == 641_016
    assert all(not layer.use_bias for layer in model.layers if layer.name.startswith("conv"))


def test_class_count_changes_only_the_head():
    assert zoo.build("speech_cnn1d", classes=10).count_params() == 641_016 - 238 * 1537


def test_too_short_input_is_bad_input():
    with pytest.raises(BadInput, match="samples"):
        zoo.build("speech_cnn1d", samples=8000)
    assert zoo.build("speech_cnn1d", samples=8287).get_layer("flatten").output_shape == (None, 256)
