"""The user's own model in a search (`compress search --model M`): the recipe's "{model}" slots take it - the
delivered one at the plan's width, the others (the teacher) as given. It travels to the Ray workers as the bytes of
a .keras file - the format the workers load any model from (QKeras and tfmot layers included), and bytes reach a
cluster's workers with no shared disk."""

import tempfile
from pathlib import Path

from ..recipe import USER_MODEL


def user_slots(recipe) -> list[str]:
    return [n for n, slot in recipe.models.items() if slot.path == USER_MODEL]


def pack(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="compressor-model-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def unpack(data: bytes):
    from ..keras_io import load_model

    with tempfile.TemporaryDirectory(prefix="compressor-model-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return load_model(path)


def check_teachable(recipe, task, where):
    """Hinton KD (methods/distill.py) is for classifiers: a recipe distilling from the user's model needs one, else
    every trial would train on a wrong loss - rejected before any trial."""
    from ..errors import BadInput

    if not any(s.kind == "distill" and s.params.get("method") == "hinton" and s.teacher in user_slots(recipe)
               for s in recipe.steps):
        return
    if task != "classification":
        raise BadInput(f"{where}: recipe {recipe.name} distills your model with Hinton KD, which is for classifiers; "
                       f"this model's task is {task} (--recipe: a search recipe for it)")
