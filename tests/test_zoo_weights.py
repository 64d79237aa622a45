"""Shipped pretrained weights: what their JSON says is what the file holds and what it measures."""

import hashlib

import numpy as np
import pytest

from compressor import families, zoo
from compressor.audio.dataset import load_data
from compressor.errors import BadInput

TEACHER = "dcase_teacher_w0.25"


def test_every_shipped_weights_file_matches_its_provenance():
    files = sorted(zoo.WEIGHTS_DIR.glob("*.npz"))
    assert any(f.name.startswith(TEACHER + ".") for f in files)
    for f in files:
        model_name, tag = f.name[:-len(".npz")].rsplit(".", 1)
        info = zoo.shipped_weights_provenance(model_name, tag)
        assert info["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest(), f.name
        assert (info["model"], info["tag"]) == (model_name, tag)


def test_dcase_teacher_builtin_weights_measure_what_they_claim():
    """Loaded into a freshly built teacher, the weights give the held-out accuracy recorded when they were made
    (0.005: CPU summation order may flip a borderline clip or so), far above chance (0.1)."""
    teacher = zoo.build("dcase_teacher", width=0.25, weights="builtin")
    info = zoo.shipped_weights_provenance(teacher.name, "builtin")
    assert teacher.count_params() == info["parameters"]
    data = load_data(None, families.get("dcase").data_spec, quick=True, seed=0, frontend={"n_mels": 80})
    predicted = np.argmax(teacher.predict(data.x_test, batch_size=64, verbose=0), axis=-1)
    accuracy = float(np.mean(predicted == data.y_test))
    assert accuracy == pytest.approx(info["measured"]["test_accuracy_quick_split"], abs=0.005)
    assert accuracy > 0.8


def test_shipped_weights_errors_name_the_model_and_tag():
    with pytest.raises(BadInput, match=r"dcase_teacher_w0\.5.*no shipped weights 'builtin'.*none are shipped"):
        zoo.build("dcase_teacher", width=0.5, weights="builtin")
    with pytest.raises(BadInput, match=r"no shipped weights 'imagenet'.*shipped: builtin"):
        zoo.build("dcase_teacher", width=0.25, weights="imagenet")
    with pytest.raises(BadInput, match=r"weights 'builtin' do not fit this model"):
        zoo.build("dcase_teacher", width=0.25, classes=5, weights="builtin")


def test_a_run_on_user_data_is_warned_which_models_start_from_shipped_weights():
    from compressor.recipe import load_recipe
    from compressor.steps.slots import shipped_weights_warnings

    recipe = load_recipe("dcase_student_int8")
    models = {"teacher": zoo.build("dcase_teacher", width=0.25)}
    [warning] = shipped_weights_warnings(recipe.profile(True), models)
    assert "model 'teacher' starts from shipped weights 'builtin'" in warning and "5000 clips" in warning
    assert shipped_weights_warnings(recipe.profile(False), models) == []   # the full profile trains its teacher
