"""A small validator for the YAML files (recipes, targets): unknown keys are errors, and every error names the
file and the field. Hand-written because the checks are few and the messages matter more than the machinery."""

from pathlib import Path

import yaml

from .errors import BadInput


def load_yaml(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not a UTF-8 text file (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise BadInput(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    return data


class Fields:
    """Reads a mapping field by field; `done()` rejects any key that was not read."""

    def __init__(self, data: dict, where: str):
        if not isinstance(data, dict):
            raise BadInput(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.seen = data, where, set()

    def _err(self, key, msg):
        return BadInput(f"{self.where}: field '{key}': {msg}")

    def get(self, key, kind=None, default=..., choices=None, positive=False):
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise self._err(key, "missing")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self._err(key, f"expected {names}, got {value!r}")
        if choices is not None and value not in choices:
            raise self._err(key, f"expected one of {', '.join(map(str, choices))}, got {value!r}")
        if positive and not value > 0:
            raise self._err(key, f"must be positive, got {value!r}")
        return value

    def sub(self, key, default=...):
        """A nested mapping as its own Fields (its errors say `where.key`)."""
        value = self.get(key, dict, default=default)
        return None if value is None else Fields(value, f"{self.where}.{key}")

    def done(self):
        unknown = sorted(set(self.data) - self.seen, key=str)
        if unknown:
            raise BadInput(f"{self.where}: unknown field '{unknown[0]}'"
                           f" (known: {', '.join(sorted(map(str, self.seen)))})")
