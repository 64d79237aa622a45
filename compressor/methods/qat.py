"""Quantization-aware training for the int8 TFLite path: tfmot's default 8-bit scheme (the one the TFLite
converter reads), on a copy of the model."""

from ..errors import BadInput
from ..graph import fresh_copy


def quantize_aware(model):
    """A tfmot QAT copy of `model` (fake-quant nodes where TFLite int8 quantizes); BadInput naming what tfmot
    cannot quantize."""
    import tensorflow_model_optimization as tfmot

    try:
        return tfmot.quantization.keras.quantize_model(fresh_copy(model))
    except (ValueError, RuntimeError, TypeError, KeyError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"tfmot quantization-aware training does not support this model: {first}") from None
