"""Truncated backpropagation through time (TBPTT) for sample-by-sample recurrent models (SPEC 3).

The source trains its effect emulators with TBPTT, "an update every 2048 samples", after the PyTorch code of Alec
Wright's Automated-GuitarAmpModelling (dist_model_recnet.py): the training audio is cut into 0.5 s clips; for each
batch of clips the state starts at zero, the first 200 samples only set it (no loss, no update), then the weights
are updated after every `update_every` samples and the state is carried on to the next stretch with its gradient
cut. Keras has no TBPTT - its fit takes one optimizer step a batch, and its stateful RNN layers need a fixed batch
size and a data order made for them - so `Trainer` is a Keras model whose train_step takes those steps inside the
batch; Keras' fit, callbacks and checkpoints work on it as on any model.
"""

from dataclasses import dataclass

import tensorflow as tf

from compressor.errors import BadInput

WARMUP = 200            # samples that only set the state at a clip's start (Wright's init_len)
UPDATE_EVERY = 2048     # samples between two weight updates (seeds/002: "un step de actualización de 2048")


@dataclass(frozen=True)
class Truncation:
    """How a recurrent model is trained with TBPTT. `passing_state` is the model with its state passed in and out,
    [x, *states] -> [y, *final states], sharing the trained model's weights; `state_sizes` the state vectors."""
    passing_state: tf.keras.Model
    state_sizes: tuple
    warmup: int = WARMUP
    update_every: int = UPDATE_EVERY

    def updates(self, clip_length: int) -> int:
        """Weight updates for one batch of clips of `clip_length` samples."""
        return max(0, -(-(clip_length - self.warmup) // self.update_every))

    def zero_states(self, batch):
        return [tf.zeros((batch, n)) for n in self.state_sizes]

    def run(self, x, states, training):
        out = self.passing_state([x, *states], training=training)
        return out[0], list(out[1:])

    def train_on_clips(self, optimizer, variables, x, y, stretch_loss):
        """The updates of one batch of clips (x, y: (batch, time, channels), time known when traced); returns
        the mean of the stretches' losses. `stretch_loss(y, yhat, start, stop)` is the loss of one stretch."""
        length = x.shape[1]
        if length is None or length <= self.warmup:
            raise BadInput(f"truncated backprop: clips of {length} samples; they must be of a fixed length longer than "
                           f"the {self.warmup} warm-up samples")
        _, states = self.run(x[:, :self.warmup], self.zero_states(tf.shape(x)[0]), training=False)
        losses = []
        for start in range(self.warmup, length, self.update_every):   # a Python loop: unrolled when traced
            stop = min(start + self.update_every, length)
            states = [tf.stop_gradient(s) for s in states]             # the truncation
            with tf.GradientTape() as tape:
                yhat, states = self.run(x[:, start:stop], states, training=True)
                loss = stretch_loss(y[:, start:stop], yhat, start, stop)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            losses.append(loss)
        return tf.add_n(losses) / len(losses)

    def warm_loss(self, y, yhat, loss_fn):
        """A whole clip's loss after its warm-up samples (validation: the state carried through the clip)."""
        return loss_fn(y[:, self.warmup:], yhat[:, self.warmup:])


class Trainer(tf.keras.Model):
    """`model` trained with TBPTT under Keras' fit: compile it with the loss and optimizer, fit it on clips
    (x, y: (n, time, channels)). The weights trained are `model`'s own."""

    def __init__(self, model, truncation: Truncation, **kwargs):
        super().__init__(name=f"{model.name}_tbptt", **kwargs)
        self.model, self.truncation = model, truncation
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        return self.model(x, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        x, y = data
        loss = self.truncation.train_on_clips(
            self.optimizer, self.model.trainable_variables, x, y,
            lambda y_, yhat, start, stop: self.compiled_loss(y_, yhat))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, y = data
        self.loss_tracker.update_state(self.truncation.warm_loss(y, self.model(x, training=False),
                                                                 self.compiled_loss))
        return {"loss": self.loss_tracker.result()}
