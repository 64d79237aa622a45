"""Model inputs from .npy / .npz files, checked against the model's input shape; synthetic inputs as a fallback."""

import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import BadInput

SYNTHETIC_WARNING = ("no --data: int8 calibration and verification used {n} synthetic standard-normal inputs; "
                     "quantization ranges may not match real data")


# Numeric kinds a model input can be made from: signed and unsigned integers, floats (not bool, complex, dates).
NUMERIC_KINDS = "iuf"
# Inputs beyond this are not features but corrupt or unscaled data: int8 calibration over such a range would
# round every ordinary value to zero. Raw int16 audio (32768) still passes.
MAX_ABS_INPUT = 1e6
MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}  # what np.save / np.savez files start with


def load_inputs(path, input_shape, changes=None) -> np.ndarray:
    """A float32 batch of model inputs. `.npy`: the array; `.npz`: the array named x (or x_train), or its only
    array. Pickled objects are never loaded; a truncated or corrupt file is a BadInput naming it. `changes`: see
    check_inputs."""
    arrays = load_arrays(path, input_shape, changes)
    return arrays["x"] if "x" in arrays else arrays["x_train"]


SPLIT_ARRAYS = ("x_train", "y_train", "x_test", "y_test")     # an .npz that brings its own splits (val optional)


def load_arrays(path, input_shape, changes=None) -> dict:
    """The arrays of an .npy / .npz data file: {"x"}, {"x", "y"}, or the splits {"x_train", "y_train", "x_val",
    "y_val", "x_test", "y_test"} (val optional); inputs checked against `input_shape`, labels returned as stored."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix not in MAGIC:
        raise BadInput(f"{path}: expected an .npy or .npz array of model inputs")
    with open(path, "rb") as f:
        head = f.read(len(MAGIC[suffix]))
    if head != MAGIC[suffix]:  # checked here: np.load would take any other bytes for a pickle and say so
        raise BadInput(f"{path}: not an {suffix} file (it does not start like one written by numpy)")
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                if set(SPLIT_ARRAYS) <= set(names):
                    wanted = [n for n in (*SPLIT_ARRAYS, "x_val", "y_val") if n in names]
                elif "x" in names:
                    wanted = ["x"] + (["y"] if "y" in names else [])
                elif len(names) == 1:
                    wanted = names
                else:
                    raise BadInput(f"{path}: no array named 'x' among {', '.join(names) or 'none'} (give x, or x and "
                                   "y, or x_train, y_train, x_test, y_test)")
                raw = {("x" if len(wanted) == 1 else n): z[n] for n in wanted}
                where = {("x" if len(wanted) == 1 else n): f"{path}: array '{n}'" for n in wanted}
        else:
            raw, where = {"x": np.load(path, allow_pickle=False)}, {"x": str(path)}
    except BadInput:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise BadInput(f"{path}: holds Python objects, which are never loaded (pickle stays disabled); "
                           "save a numeric array") from None
        raise BadInput(f"{path}: truncated or corrupt numpy file ({_first_line(e)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, struct.error, tokenize.TokenError) as e:
        # numpy, zipfile and zlib each raise their own types on truncated or damaged bytes (numpy's header parser
        # a TokenError when the header dict is cut and NUL bytes follow)
        raise BadInput(f"{path}: truncated or corrupt numpy file ({type(e).__name__}: {_first_line(e)})") from None
    return {k: check_inputs(a, input_shape, where[k], changes) if k.startswith("x") else a for k, a in raw.items()}


def check_inputs(array, input_shape, where: str, changes=None) -> np.ndarray:
    """`array` as a float32 batch matching `input_shape` (batch dimension None); one sample gets a batch axis.
    NaN, infinite (also after the cast to float32) and absurdly large values are refused, never trained on.
    `changes`, a list, gets one line per change made (batch axis added, dtype cast), so none is silent."""
    array = np.asarray(array)
    expected = tuple(input_shape)[1:]
    if array.dtype.kind not in NUMERIC_KINDS:
        raise BadInput(f"{where}: expected integer or float numbers, got dtype {array.dtype}")
    said = [] if changes is None else changes
    if array.ndim == len(expected) and shape_matches(array.shape, expected):
        said.append(f"{where}: one input of shape {tuple(array.shape)}, read as a batch of 1")
        array = array[None]
    if array.ndim != len(expected) + 1 or not shape_matches(array.shape[1:], expected) or array.size == 0:
        shown = "(N, " + ", ".join("?" if d is None else str(d) for d in expected) + ")"
        raise BadInput(f"{where}: shape {tuple(array.shape)} does not match the model input {shown}")
    with np.errstate(over="ignore"):
        out = array.astype(np.float32)
    if array.dtype != np.float32:
        said.append(f"{where}: converted {len(out)} input{'s' * (len(out) != 1)} from {array.dtype} to float32 "
                    "(the model's input type)")
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise BadInput(f"{where}: {bad} NaN or infinite value(s) (or beyond float32 range); expected finite numbers")
    peak = float(np.abs(out).max())
    if peak > MAX_ABS_INPUT:
        raise BadInput(f"{where}: largest magnitude {peak:.3g}; expected model inputs within +-{MAX_ABS_INPUT:g} "
                       "(scale the data)")
    return out


def _first_line(e) -> str:
    return str(e).splitlines()[0] if str(e) else ""


def shape_matches(shape, expected) -> bool:
    return all(e is None or int(s) == int(e) for s, e in zip(shape, expected))


def synthetic_inputs(input_shape, n: int = 32, seed: int = 0) -> np.ndarray:
    shape = [1 if d is None else int(d) for d in tuple(input_shape)[1:]]
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)
