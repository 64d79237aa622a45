"""Generic families for a user's own model, chosen by its task (families.for_task): the task's figures and the
weight histograms, the model as it is on the device, no data spec (the user's arrays are the data) and no
pictures a run must have."""

from .base import Autoencoder, Classifier, Regressor


class GenericClassifier(Classifier):
    name = "generic"


class GenericRegressor(Regressor):
    name = "generic"


class GenericAutoencoder(Autoencoder):
    name = "generic"


BY_TASK = {f.task: f for f in (GenericClassifier(), GenericRegressor(), GenericAutoencoder())}
