"""The data of a user's own model (`compress --model M --data D`), as a Dataset with train / val / test splits.

- no data: synthetic standard-normal inputs, the same in every split (int8 calibration and verification only).
- an `.npy` or an array: inputs only, the same in every split; no task figure can be measured without labels.
- an `.npz` with `x` and `y`: inputs and labels (class indices or one-hot for a classifier, targets for a regressor
  or autoencoder), shuffled by the seed and split 70 / 15 / 15 % into train (int8 calibration, fine-tunes), val and
  test (every reported figure). An `.npz` with `x_train`, `y_train`, `x_test`, `y_test` (and optionally `x_val`,
  `y_val`; else val = test) keeps its own splits. An autoencoder's targets are its inputs when `y` is absent.
- a folder of WAVs in a known layout (class folders / Speech Commands, TAU, a flat folder) with a declared front end
  (`--frontend NAME` or a YAML naming one and its parameters): the layout's reader splits it (Speech Commands'
  validation_list.txt / testing_list.txt, TAU's fold1 files, else 80 / 10 / 10 % by the seed), every clip is fitted
  to the front end's input length (a note says how many were padded or trimmed).
"""

from pathlib import Path

import numpy as np

from . import data_arrays
from .audio.dataset import SPLITS, DataSpec, Dataset, load_data
from .errors import BadInput

FRACTIONS = (0.70, 0.15, 0.15)      # train / val / test of an .npz's x and y


def user_dataset(source, model, task, *, frontend=None, seed=0, quick=False) -> Dataset:
    """The Dataset a user model's recipe runs on; `task` as graph.model_task gives it."""
    if isinstance(source, Dataset):
        return source
    if source is not None and not isinstance(source, np.ndarray) and Path(source).is_dir():
        return _from_folder(Path(source), model, task, frontend, seed, quick)
    if frontend is not None:
        raise BadInput(f"--frontend: goes with a folder of WAVs as --data, not {source or 'no data'}")
    changes = []
    if source is None:
        x = data_arrays.synthetic_inputs(model.input_shape, n=32)
        return _same_everywhere("synthetic", x, task, changes, labelled=False)
    if isinstance(source, np.ndarray):
        x = data_arrays.check_inputs(source, model.input_shape, "data", changes)
        return _same_everywhere("array", x, task, changes, labelled=False)
    arrays = data_arrays.load_arrays(source, model.input_shape, changes)
    name = str(source)
    if "y" not in arrays and "y_train" not in arrays:
        return _same_everywhere(name, arrays["x"], task, changes, labelled=False)
    if task == "multi-output":
        raise BadInput(f"{name}: labels for a model with {len(model.outputs)} outputs are not read yet; give its "
                       "inputs only (x), which still verify every output")
    task = labelled_task(model, task, arrays.get("y", arrays.get("y_train")))
    if "x_train" in arrays and "x_val" not in arrays:
        arrays["x_val"], arrays["y_val"] = arrays["x_test"], arrays["y_test"]
        changes.append(f"{name}: no x_val / y_val: validation uses the test split")
    splits = arrays if "x_train" in arrays else _split(arrays["x"], arrays["y"], seed, changes)
    y = {s: _targets(splits[f"y_{s}"], model, task, f"{name}: array 'y_{s}'" if "x_train" in arrays
                     else f"{name}: array 'y'", len(splits[f"x_{s}"])) for s in SPLITS}
    classes = [str(i) for i in range(_units(model))] if task == "classification" else None
    return Dataset(name, "generic", task, **{f"x_{s}": splits[f"x_{s}"] for s in SPLITS},
                   **{f"y_{s}": y[s] for s in SPLITS}, classes=classes, sample_rate=0, frontend={},
                   changes=changes, labelled=True)


def labelled_task(model, task, y) -> str:
    """The task the labels say, where the model's shapes alone are ambiguous: a linear output of several units with
    float targets of its shape is a regressor, not a classifier (class indices or one-hot rows say classifier)."""
    y = np.asarray(y)
    if task != "classification" or y.ndim < 2 or tuple(y.shape[1:]) != tuple(model.output_shape[1:]):
        return task
    one_hot = np.isin(y, (0, 1)).all() and np.allclose(y.sum(-1), 1)
    return task if one_hot else "regression"


def _same_everywhere(name, x, task, changes, labelled) -> Dataset:
    """Inputs without labels: every split is the same inputs (nothing trains on them); an autoencoder's targets are
    its inputs, so its reconstruction error is still measured."""
    y = x if task == "autoencoder" else np.zeros((len(x), 0), np.float32)
    return Dataset(name, "generic", task, x, y, x, y, x, y, classes=None, sample_rate=0, frontend={},
                   changes=changes, labelled=task == "autoencoder" or labelled)


def _split(x, y, seed, changes) -> dict:
    if len(x) != len(y):
        raise BadInput(f"data: x has {len(x)} examples, y has {len(y)}; they must pair up")
    if len(x) < 3:
        raise BadInput(f"data: {len(x)} labelled examples; at least 3 are needed (train, val, test)")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * FRACTIONS[1])))
    n_test = max(1, int(round(len(x) * FRACTIONS[2])))
    n_train = len(x) - n_val - n_test
    parts = np.split(order, [n_train, n_train + n_val])
    changes.append(f"split {len(x)} labelled examples by seed {seed}: {n_train} train, {n_val} val, {n_test} test")
    return {k: a for s, idx in zip(SPLITS, parts) for k, a in ((f"x_{s}", x[idx]), (f"y_{s}", y[idx]))}


def _units(model) -> int:
    return int(model.output_shape[-1])


def _targets(y, model, task, where, n) -> np.ndarray:
    """Labels as the task's family reads them: class indices for a classifier, float targets shaped like the output."""
    y = np.asarray(y)
    if y.dtype.kind not in data_arrays.NUMERIC_KINDS:
        raise BadInput(f"{where}: expected numbers, got dtype {y.dtype}")
    if len(y) != n:
        raise BadInput(f"{where}: {len(y)} labels for {n} inputs")
    if task == "classification":
        units = _units(model)
        if y.ndim == 2 and y.shape[1] == units:         # one-hot
            y = np.argmax(y, -1)
        if y.ndim != 1 or not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= units:
            raise BadInput(f"{where}: expected class indices 0..{units - 1} (the model has {units} outputs) or "
                           f"one-hot rows of {units}, got shape {tuple(y.shape)}"
                           + (f" with values {y.min():g}..{y.max():g}" if y.size else ""))
        return y.astype(np.float32)
    expected = tuple(model.output_shape[1:])
    if y.ndim == 1 and expected == (1,):                  # one target a row, stored flat
        y = y[:, None]
    if tuple(y.shape[1:]) != expected:
        raise BadInput(f"{where}: targets of shape {tuple(y.shape)} do not match the model output (N, "
                       + ", ".join(map(str, expected)) + ")")
    return data_arrays.check_inputs(y, (None, *expected), where)


# ---- a folder of audio ---------------------------------------------------------------------------------------

def frontend_spec(frontend) -> dict:
    """`--frontend`: a front end's name, or a YAML file {name: ..., <its parameters>}."""
    from .schema import load_yaml

    if frontend is None:
        return None
    if isinstance(frontend, dict):
        spec = dict(frontend)
    elif str(frontend).endswith((".yaml", ".yml")):
        if not Path(frontend).is_file():
            raise BadInput(f"--frontend {frontend}: no such file")
        spec = load_yaml(frontend)
        if not isinstance(spec, dict) or "name" not in spec:
            raise BadInput(f"--frontend {frontend}: expected a mapping with a 'name' (a front end) and its parameters")
    else:
        spec = {"name": str(frontend)}
    return spec


def _from_folder(folder, model, task, frontend, seed, quick) -> Dataset:
    from .audio import frontends

    spec = frontend_spec(frontend)
    if spec is None:
        raise BadInput(f"--data {folder}: a folder of audio needs a front end: --frontend NAME or a YAML naming one "
                       f"(known: {', '.join(frontends.FRONTENDS)})")
    name = spec.pop("name")
    params = frontends.describe(name, **spec)           # unknown names / parameters: one line naming them
    data_spec = DataSpec("generic", task, name, spec, layouts=("classes", "tau", "unlabeled"))
    data = load_data(folder, data_spec, quick=quick, seed=seed)
    x = _fit_to_model(data, model, params)
    if task == "classification":
        if data.classes is None:
            raise BadInput(f"--data {folder}: a classifier needs labelled audio (class folders or TAU), found a "
                           "flat folder of WAVs")
        if len(data.classes) != _units(model):
            raise BadInput(f"--data {folder}: {len(data.classes)} classes ({', '.join(data.classes[:6])}"
                           f"{' ...' if len(data.classes) > 6 else ''}) but the model has {_units(model)} outputs")
    data.x_train, data.x_val, data.x_test = x
    if task == "autoencoder":                           # it reconstructs its input
        data.y_train, data.y_val, data.y_test = x
    data.labelled = task == "autoencoder" or (task == "classification" and data.classes is not None)
    return data


def _fit_to_model(data, model, params) -> tuple:
    """The front end's output as the model takes it: a trailing channel axis of 1 added when the model has one;
    any other mismatch is one line naming both shapes."""
    expected = tuple(model.input_shape[1:])
    out = []
    for s in SPLITS:
        x = getattr(data, f"x_{s}")
        if x.shape[1:] != expected and tuple(x.shape[1:]) + (1,) == expected:
            x = x[..., None]
        if x.ndim != len(expected) + 1 or not data_arrays.shape_matches(x.shape[1:], expected):
            raise BadInput(f"--frontend {params['name']}: gives features of shape {tuple(x.shape[1:])} but the model "
                           f"takes {tuple(expected)} (choose the front end's parameters to match)")
        out.append(x)
    if tuple(data.x_train.shape[1:]) != tuple(out[0].shape[1:]):
        data.changes.append(f"added a channel axis to the front end's {tuple(data.x_train.shape[1:])} features "
                            f"(the model takes {tuple(expected)})")
    return tuple(out)
