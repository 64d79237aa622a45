"""Model families: one module per family, each a `Family` object holding everything that differs by family - task
and figures, data spec, the device form of the delivered model, submodels, report pictures - so nothing outside
this package tests a family's name.

    get(name)       -> Family   a registered family (cae, dcase, effects, mae, speech)
    names()         -> [name]
    for_task(task)  -> Family   a generic family for a user's own model: classification, regression, autoencoder

A new family is one module here that defines a Family subclass decorated with @register, imported below.
"""

from ..errors import BadInput
from .base import Family, small_picture  # small_picture: the generate step's pictures too

_FAMILIES: dict = {}    # name -> Family instance, filled as each module below is imported


def register(cls):
    """Class decorator: registers one instance of the family under its name (as hls4ml registers its passes)."""
    if cls.name in _FAMILIES:
        raise ValueError(f"family '{cls.name}' registered twice")
    _FAMILIES[cls.name] = cls()
    return cls


def get(name) -> Family:
    if name not in _FAMILIES:
        raise BadInput(f"unknown family '{name}' (known: {', '.join(names())})")
    return _FAMILIES[name]


def names() -> list:
    return sorted(_FAMILIES)


def for_task(task) -> Family:
    from .generic import BY_TASK
    if task not in BY_TASK:
        raise BadInput(f"unknown task '{task}' for a model of your own (known: {', '.join(BY_TASK)})")
    return BY_TASK[task]


from . import cae, dcase, effects, mae, speech  # noqa: E402,F401  (each registers its family)

__all__ = ["Family", "register", "get", "names", "for_task", "small_picture"]
