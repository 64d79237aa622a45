"""Neural audio-effect emulators (SPEC 3): sample-by-sample recurrent models of a fuzz / overdrive pedal.

Sequence model (offline use and training): input (batch, time, 1) dry samples -> RNN (return_sequences) ->
Dense 1 per step -> + input sample (residual) -> (batch, time, 1) wet samples.
Teacher: LSTM hidden 64 (16,961 Keras parameters; PyTorch's two bias vectors make it 17,217).
Students: GRU with reset_after=True (PyTorch's layout): hidden 64 / 16 / 8 -> 12,929 / 929 / 273 parameters.

State-passing model (training with truncated backprop through time): the sequence model with its state in and out.

Streaming model (device use): one step, inputs [sample (1, 1), state (1, hidden) ...] -> outputs
[sample (1, 1), state ...], built by calling the sequence model's own cell and Dense layers (shared weights), so
the graph is plain MatMul / Add / Mul / Logistic / Tanh and converts to TFLite builtin ops (no TensorList loop).
"""

from __future__ import annotations

from tensorflow import keras

from compressor.errors import BadInput

L = keras.layers
CELLS = ("lstm", "gru")


def build(cell: str = "gru", hidden: int = 64, residual: bool = True) -> keras.Model:
    if cell not in CELLS:
        raise BadInput(f"effects cell {cell!r}: expected one of {', '.join(CELLS)}")
    if int(hidden) < 1:
        raise BadInput(f"effects hidden={hidden!r}: expected a positive integer")
    x = keras.Input((None, 1), name="dry")
    if cell == "lstm":
        rnn = L.LSTM(int(hidden), return_sequences=True, name="rnn")
    else:
        rnn = L.GRU(int(hidden), return_sequences=True, reset_after=True, name="rnn")
    y = L.Dense(1, name="out_dense")(rnn(x))
    if residual:
        y = L.Add(name="residual")([y, x])
    return keras.Model(x, y, name=f"effects_{cell}{hidden}")


def build_lstm(hidden: int = 64, residual: bool = True) -> keras.Model:
    return build("lstm", hidden, residual)


def build_gru(hidden: int = 64, residual: bool = True) -> keras.Model:
    return build("gru", hidden, residual)


def state_sizes(seq_model: keras.Model) -> list[int]:
    """Sizes of the recurrent state vectors: [h, c] for an LSTM, [h] for a GRU."""
    size = _rnn(seq_model).cell.state_size
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


def streaming_model(seq_model: keras.Model) -> keras.Model:
    """The one-step model sharing seq_model's weights: [sample, *states] -> [sample, *new_states]."""
    rnn, dense, residual = _parts(seq_model)
    sample = keras.Input((1,), batch_size=1, name="sample")
    states = [keras.Input((n,), batch_size=1, name=f"state{i}") for i, n in enumerate(state_sizes(seq_model))]
    # calling the cell on one step is the RNN's own math, without the while-loop around it
    h, new_states = rnn.cell(sample, states if len(states) > 1 else states[0])
    if not isinstance(new_states, (list, tuple)):
        new_states = [new_states]
    y = dense(h)
    if residual:
        y = L.Add(name="residual_step")([y, sample])
    outputs = [y] + [L.Identity(name=f"new_state{i}")(s) for i, s in enumerate(new_states)]
    return keras.Model([sample] + states, outputs, name=f"{seq_model.name}_streaming")


def state_passing_model(seq_model: keras.Model) -> keras.Model:
    """[dry (batch, time, 1), *states] -> [wet (batch, time, 1), *final states], sharing seq_model's weights: the
    sequence model with its recurrent state passed in and out (truncated backprop through time, methods.tbptt)."""
    rnn, dense, residual = _parts(seq_model)
    dry = keras.Input((None, 1), name="dry")
    states = [keras.Input((n,), name=f"state{i}") for i, n in enumerate(state_sizes(seq_model))]
    # the same cell in an RNN that also returns its last state (the model's own layer returns the sequence only)
    out = L.RNN(rnn.cell, return_sequences=True, return_state=True, name="rnn_passing_state")(
        dry, initial_state=states)
    y = dense(out[0])
    if residual:
        y = L.Add(name="residual_passing_state")([y, dry])
    return keras.Model([dry] + states, [y] + list(out[1:]), name=f"{seq_model.name}_passing_state")


def _parts(seq_model):
    """(the recurrent layer, the output Dense, whether the input is added back): what the other forms are built of."""
    return (_rnn(seq_model), seq_model.get_layer("out_dense"),
            any(layer.name == "residual" for layer in seq_model.layers))


def plain_rnn(seq_model):
    """The model's recurrent layer: a plain Keras RNN layer named 'rnn', or None (a user's own model, or the layer in
    a pruning wrapper)."""
    layer = next((layer for layer in seq_model.layers if layer.name == "rnn"), None)
    return layer if isinstance(layer, keras.layers.RNN) else None


def _rnn(seq_model):
    layer = plain_rnn(seq_model)
    if layer is None:
        raise BadInput(f"model {seq_model.name!r}: expected an effects model with a Keras RNN layer named 'rnn'")
    return layer
