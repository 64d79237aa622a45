"""A recipe's model slots as Keras models: built from the zoo (fitted to the data's input shape and classes),
copied from another slot, or loaded from a file; and where a slot's shipped starting weights came from."""

from .. import zoo
from ..errors import BadInput
from ..graph import fresh_copy
from ..keras_io import load_model
from ..recipe import USER_MODEL


def build_models(recipe, data, given=None) -> dict:
    """Every model slot of the recipe; a zoo model is fitted to the data (input shape, class count) unless the
    recipe sets those arguments itself; `given` (slot -> model) are handed in, and copied like any other."""
    models = {}
    for name, slot in recipe.models.items():
        if slot.zoo is not None:
            try:
                models[name] = build_slot(slot, data)
            except BadInput as e:
                raise BadInput(f"{recipe.path}: models.{name}: {e}") from None
        elif slot.path is not None and slot.path != USER_MODEL:   # the user's model is handed in by the caller
            models[name] = load_model(slot.path)
    models.update(given or {})
    for name, slot in recipe.models.items():
        if slot.copy_of is not None:        # same architecture and the same initial weights
            models[name] = fresh_copy(models[slot.copy_of])
    return models


def build_slot(slot, data, **overrides):
    """A fresh zoo model of `slot`, fitted to the data, with `overrides` (e.g. batch_size=1 for the converter)."""
    return zoo.build(slot.zoo, **{**fit_to_data(slot, data), **overrides})


def fit_to_data(slot, data) -> dict:
    args = dict(slot.args)
    accepted = zoo.spec(slot.zoo).default_kwargs
    if "input_shape" in accepted and "input_shape" not in args:
        args["input_shape"] = tuple(data.x_train.shape[1:])
    if "classes" in accepted and "classes" not in args and data.classes:
        args["classes"] = len(data.classes)
    return args


def shipped_weights_warnings(recipe, models) -> list[str]:
    """For a run on the user's data: the slots that start from weights shipped for the built-in data."""
    return [f"model '{name}' starts from {shipped_origin(models[name], slot.shipped_weights)}, not on this run's "
            "data" for name, slot in recipe.models.items() if slot.shipped_weights]


def shipped_origin(model, tag) -> str:
    """Which shipped weights, and how they were made (their provenance JSON)."""
    made = zoo.shipped_weights_provenance(model.name, tag)
    return (f"shipped weights '{tag}' of {model.name}, trained on {made['trained_on']}, "
            f"{made['training']['epochs']} epochs ({made['made_by']})")
