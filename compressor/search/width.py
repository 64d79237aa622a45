"""A width multiplier for a Keras model whose builder has none: every Conv / Dense layer's filters or units scaled
(rounded, at least 1), except the class head - the layers as wide as the model's output - so the output is unchanged.
Fresh weights: the plan trains the model from the start, as the engine trains a zoo slot."""


def scaled(model, width: float):
    import tensorflow as tf

    if width == 1.0:
        return model
    out_width = int(model.output_shape[-1])

    def clone(layer):
        config = layer.get_config()
        key = next((k for k in ("filters", "units") if isinstance(config.get(k), int)), None)
        if key is not None and config[key] != out_width:
            config[key] = max(1, int(round(config[key] * width)))
        return layer.__class__.from_config(config)

    return tf.keras.models.clone_model(model, clone_function=clone)
