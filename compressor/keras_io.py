"""Reading a Keras model file (QKeras and tfmot layers included), refused in one line when it is not a usable model.

Below the steps and the exporters (they load models too: a recipe's model slot, the int8 converter's child
process), so it imports only errors, TensorFlow, tfmot and QKeras.
"""

import re
import zipfile
from pathlib import Path

import numpy as np

from .errors import BadInput


def model_and_source(model_or_path):
    """(the Keras model, the file it came from or None): a path is loaded, an in-memory model used as it is."""
    if isinstance(model_or_path, (str, Path)):
        return load_model(model_or_path), model_or_path
    import tensorflow as tf
    if not isinstance(model_or_path, tf.keras.Model):
        raise BadInput(f"expected a Keras model or a model file, got {type(model_or_path).__name__}")
    return model_or_path, None


def load_model(path):
    """A Keras model from a .keras / .h5 file or SavedModel folder, QKeras and tfmot layers included."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: no such model file")
    if path.suffix == ".keras" and path.is_file() and not zipfile.is_zipfile(path):
        # Keras would fall back to reading it as HDF5 and report "file signature not found"
        raise BadInput(f"{path}: not a Keras model (a .keras file is a zip archive; this one is truncated or "
                       "not a zip)")
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    from qkeras.utils import _add_supported_quantized_objects

    custom = {}
    _add_supported_quantized_objects(custom)
    try:
        with tfmot.sparsity.keras.prune_scope():
            model = tf.keras.models.load_model(path, custom_objects=custom, compile=False)
    except Exception as e:
        raise BadInput(f"{path}: not a Keras model ({_first_sentences(str(e)) or type(e).__name__})") from None
    if not isinstance(model, tf.keras.Model):
        raise BadInput(f"{path}: not a Keras model")
    # a corrupt file can load with NaN weights: every figure after that would be meaningless
    bad = {w.name: int(np.size(v) - np.isfinite(v).sum()) for w in model.weights for v in [w.numpy()]
           if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()}
    if bad:
        raise BadInput(f"{path}: {sum(bad.values())} NaN or infinite weight value(s), first in "
                       f"'{next(iter(bad))}'; the file is corrupt or the training diverged")
    return model


def _first_sentences(text, limit=300) -> str:
    """`text` on one line, cut after the last whole sentence within `limit` characters (a single longer sentence:
    at a word boundary, with "..."), so a Keras message is never cut mid-word."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    shown = sentences[0]
    for sentence in sentences[1:]:
        if len(shown) + 1 + len(sentence) > limit:
            break
        shown += " " + sentence
    if len(shown) > limit:
        shown = shown[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return shown
