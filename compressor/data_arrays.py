"""Model inputs from .npy / .npz files, checked against the model's input shape; synthetic inputs as a fallback."""

from pathlib import Path

import numpy as np

from .errors import BadInput

SYNTHETIC_WARNING = ("no --data: int8 calibration and verification used {n} synthetic standard-normal inputs; "
                     "quantization ranges may not match real data")


def load_inputs(path, input_shape) -> np.ndarray:
    """A float32 batch of model inputs. `.npy`: the array; `.npz`: the array named x, or its only array."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such data file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                if "x" in names:
                    name = "x"
                elif len(names) == 1:
                    name = names[0]
                else:
                    raise BadInput(f"{path}: no array named 'x' among {', '.join(names) or 'none'}")
                array, where = z[name], f"{path}: array '{name}'"
        elif path.suffix == ".npy":
            array, where = np.load(path, allow_pickle=False), str(path)
        else:
            raise BadInput(f"{path}: expected an .npy or .npz array of model inputs")
    except (ValueError, OSError, EOFError) as e:
        raise BadInput(f"{path}: not a readable numpy array file ({e})") from None
    return check_inputs(array, input_shape, where)


def check_inputs(array, input_shape, where: str) -> np.ndarray:
    """`array` as a float32 batch matching `input_shape` (batch dimension None); one sample gets a batch axis."""
    expected = tuple(input_shape)[1:]
    if not np.issubdtype(array.dtype, np.number):
        raise BadInput(f"{where}: expected numbers, got dtype {array.dtype}")
    if array.ndim == len(expected) and _matches(array.shape, expected):
        array = array[None]
    if array.ndim != len(expected) + 1 or not _matches(array.shape[1:], expected) or len(array) == 0:
        shown = "(N, " + ", ".join("?" if d is None else str(d) for d in expected) + ")"
        raise BadInput(f"{where}: shape {tuple(array.shape)} does not match the model input {shown}")
    return array.astype(np.float32)


def _matches(shape, expected) -> bool:
    return all(e is None or int(s) == int(e) for s, e in zip(shape, expected))


def synthetic_inputs(input_shape, n: int = 32, seed: int = 0) -> np.ndarray:
    shape = [1 if d is None else int(d) for d in tuple(input_shape)[1:]]
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)
