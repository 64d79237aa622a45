"""The convolutional autoencoder on spectrograms (whale-like calls).

Data: x = y = log spectrogram (n, 128, 196, 1) in [0, 1]; long recordings are cut into front-end windows.
"""

from ..audio import builtin
from ..audio.dataset import SPLITS, DataSpec, assemble, split_seeds
from ..errors import BadInput
from ..graph import fresh_copy
from . import register
from .base import Autoencoder, small_picture


def _builtin(params, quick, seed):
    rate = params["sample_rate"]
    audio = {s: builtin.whale_calls(n, sd, rate) for s, n, sd in zip(SPLITS, DATA.sizes[quick], split_seeds(seed))}
    return assemble("builtin:cae", DATA, params, audio)


DATA = DataSpec("cae", "autoencoder", "cae_log_spectrogram",
                sizes={True: (160, 40, 40), False: (2000, 250, 250)}, generate=_builtin,
                layouts=("unlabeled", "classes"), windowed=True, channel_axis=True)


@register
class Cae(Autoencoder):
    name = "cae"
    data_spec = DATA
    expected_views = ("spectrograms", "weight_histograms")

    def submodel(self, model, data, name):
        """The whole model, or its encoder (on the test spectrograms) or decoder (on their latents)."""
        if name in (None, "model"):
            return model, data.x_test
        if name not in ("decoder", "encoder"):
            raise BadInput(f"a cae model has parts 'model', 'encoder' and 'decoder', not {name!r}")
        from ..zoo import cae
        # the split parts share layers with the whole model, and QTools / hls4ml want a graph of their own
        encoder, decoder = fresh_copy(cae.encoder_of(model)), fresh_copy(cae.decoder_of(model))
        if name == "encoder":
            return encoder, data.x_test
        return decoder, encoder.predict(data.x_test, verbose=0)

    def before_quantize(self, model, data):
        # the float reconstruction, for the report's pictures
        return {"float_reconstruction": small_picture(model.predict(data.x_test[:1], verbose=0)[0])}

    def views(self, models, deliver, data, state):
        model = models[deliver]
        spect = {"original": small_picture(data.x_test[0]),
                 "compressed": small_picture(model.predict(data.x_test[:1], verbose=0)[0])}
        if "float_reconstruction" in state:
            spect["float"] = state["float_reconstruction"]
        if "generated" in state:
            spect["generated"] = state["generated"]
        return {"spectrograms": spect, **super().views(models, deliver, data, state)}
