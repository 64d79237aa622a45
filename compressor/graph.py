"""Keras graph housekeeping shared by the zoo, the steps, the analyses and the exporters."""


def fresh_copy(model):
    """The same model (architecture and weights) as a graph of its own. Layers shared with other models, or left
    with extra nodes by tfmot's strip_pruning, have several call sites; QTools, hls4ml's probes and tfmot need one."""
    import tensorflow as tf

    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def leaf_layers(model):
    """The layers of `model` with nested models (Functional, Sequential) flattened into theirs; InputLayers dropped.
    The one walker for counting, hls4ml's layer checks and its per-layer config."""
    for layer in model.layers:
        if hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential", "Model"):
            yield from leaf_layers(layer)
        elif type(layer).__name__ != "InputLayer":
            yield layer


def model_task(model) -> str:
    """What a model of the user's does, read off its shapes: autoencoder (output shaped like the input),
    classification (one vector of several outputs), regression (anything else) or multi-output."""
    if len(model.outputs) > 1:   # output_shape is then a list of shapes
        return "multi-output"
    out, inp = tuple(model.output_shape[1:]), tuple(model.input_shape[1:])
    if out == inp:
        return "autoencoder"
    return "classification" if len(out) == 1 and out[0] and out[0] > 1 else "regression"
