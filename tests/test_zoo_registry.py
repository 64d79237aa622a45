"""The zoo registry: names, descriptions, specs, builds with defaults and overrides, one-line errors."""

import pytest

from compressor import zoo
from compressor.errors import BadInput

NAMES = {"cae", "cae_fpga", "dcase_baseline", "dcase_student", "dcase_teacher", "effects_lstm", "effects_gru",
         "encodecmae_lite", "encodecmae_student", "speech_cnn1d"}


def test_list_models_names_and_descriptions():
    listed = dict(zoo.list_models())
    assert set(listed) == NAMES
    for name, description in listed.items():
        s = zoo.spec(name)
        assert description == s.description and "\n" not in description
        assert "x".join(str(d) for d in s.input_shape if d is not None) in description.replace(",", "")
        assert s.family in {"cae", "dcase", "effects", "mae", "speech"}
        assert s.task in {"autoencoder", "classification", "regression", "representation"}


@pytest.mark.parametrize("name", sorted(NAMES - {"dcase_teacher"}))
def test_build_matches_spec_input_shape(name):
    model = zoo.build(name)
    first_input = model.inputs[0].shape[1:]
    assert tuple(first_input) == tuple(zoo.spec(name).input_shape)


def test_overrides():
    assert zoo.build("effects_gru", hidden=16).count_params() == 929
    assert zoo.build("dcase_teacher", width=0.25).count_params() < 400_000
    assert zoo.build("speech_cnn1d", classes=10).output_shape == (None, 10)
    assert zoo.build("dcase_student", input_shape=(40, 51, 1)).input_shape == (None, 40, 51, 1)
    assert zoo.build("cae", latent=8).get_layer("enc_dense").output_shape == (None, 8)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(BadInput) as err:
        zoo.build("resnet50")
    message = str(err.value)
    assert "resnet50" in message and all(name in message for name in NAMES) and "\n" not in message


def test_unknown_option_is_bad_input():
    with pytest.raises(BadInput, match="unknown option.*hiden"):
        zoo.build("effects_gru", hiden=16)
