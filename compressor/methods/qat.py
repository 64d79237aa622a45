"""Quantization-aware training for the int8 TFLite path: tfmot's default 8-bit scheme (the one the TFLite
converter reads), on a copy of the model.

tfmot's registry has no Conv1D (the 1-D convolutions of audio models) and no recurrent layers. A Conv1D gets tfmot's
own 8-bit kernel-and-activation config (Default8BitQuantizeConfig, as its registry gives Conv2D minus per-channel);
layers tfmot cannot quantize at all (LSTM, GRU, custom layers) stay float during the fine-tune and are calibrated by
the converter, like PTQ. The report's qat step says which layers were which."""

from ..errors import BadInput
from ..graph import fresh_copy


def quantize_aware(model) -> tuple:
    """(a tfmot QAT copy of `model`: fake-quant nodes where TFLite int8 quantizes, the names of the layers left
    float); BadInput when tfmot cannot build it."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs, default_8bit_quantize_registry as registry)

    supported = registry.Default8BitQuantizeRegistry()
    left_float = []

    def annotate(layer):
        if isinstance(layer, tf.keras.layers.InputLayer):
            return layer
        if supported.supports(layer):
            return tfmot.quantization.keras.quantize_annotate_layer(layer)
        if isinstance(layer, tf.keras.layers.Conv1D) and not layer.get_config().get("groups", 1) > 1:
            return tfmot.quantization.keras.quantize_annotate_layer(
                layer, quantize_config=registry.Default8BitQuantizeConfig(["kernel"], ["activation"], False))
        left_float.append(layer.name)
        return layer

    try:
        annotated = tf.keras.models.clone_model(fresh_copy(model), clone_function=annotate)
        annotated.set_weights(model.get_weights())
        with tfmot.quantization.keras.quantize_scope({"Default8BitQuantizeConfig": registry.Default8BitQuantizeConfig,
                                                      "NoOpQuantizeConfig": configs.NoOpQuantizeConfig}):
            return tfmot.quantization.keras.quantize_apply(annotated), left_float
    except (ValueError, RuntimeError, TypeError, KeyError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"tfmot quantization-aware training cannot build this model: {first}") from None
