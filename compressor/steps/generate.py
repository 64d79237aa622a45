"""generate: new examples from the decoder alone, latents drawn from the distribution of the training latents
(the CAE's generation use)."""

from .. import figures
from .base import StepKind, StepResult, register


@register
class Generate(StepKind):
    name = "generate"
    params = {"samples": (int, 4)}
    needs_trained = True

    def run(self, ctx, step, params):
        from ..families import small_picture
        from ..zoo import cae

        model = ctx.models[step.model]
        encoder, decoder = cae.encoder_of(model), cae.decoder_of(model)
        sampler = cae.LatentSampler().fit(encoder.predict(ctx.data.x_train, verbose=0))
        z = sampler.sample(params["samples"], seed=ctx.seed)
        generated = decoder.predict(z, verbose=0)
        ctx.state["generated"] = [small_picture(g) for g in generated]
        return StepResult(
            metrics={"generated": figures.counted(len(generated), "spectrograms", "decoder on sampled latents"),
                     "generated_mean": figures.measured(float(generated.mean()), "[0,1]", "decoder output")},
            notes=[f"latent sampler: {sampler.kind}"])
