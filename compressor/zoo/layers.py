"""Layer settings the zoo's models share."""

from tensorflow import keras


def BatchNorm(name: str):
    """BatchNormalization with PyTorch's default running-average momentum (0.1 there is 0.9 here): the sources'
    models were trained in PyTorch, and Keras' 0.99 leaves the running variance far from the data's after a short
    training, so the model collapses to one class in inference mode."""
    return keras.layers.BatchNormalization(momentum=0.9, name=name)
