"""Keras graph housekeeping shared by the zoo, the steps and the exporters."""


def fresh_copy(model):
    """The same model (architecture and weights) as a graph of its own. Layers shared with other models, or left
    with extra nodes by tfmot's strip_pruning, have several call sites; QTools, hls4ml's probes and tfmot need one."""
    import tensorflow as tf

    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
