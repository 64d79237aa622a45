"""A user's recurrent Keras model (LSTM / GRU / SimpleRNN layers) as a microcontroller runs it: one time step per
call, the recurrent state carried by the firmware.

The TFLite converter cannot export the sequence model itself for TFLite Micro: the RNN's while-loop needs a
TensorList with a static element shape ('tf.TensorListReserve' ...), and with unroll=True the zero initial state
becomes a FILL that TFLite Micro has no kernel for. The one-step model calls each RNN layer's cell once (plain
MatMul / Add / Mul / Logistic / Tanh, as the effects family's streaming model does), takes the states as inputs and
gives the new states as outputs, packed with the frame into one tensor each way (export/streaming.py says why):

    step, x_cal, x_verify, note = one_step_form(model, x)          # x: the user's sequences (N, T, F)
    rows = recurrent_checks(model, step, x, tflite_bytes)          # after int8_export(step, x_cal, x_verify, ...)

packed input  [frame (F), state of the 1st RNN layer (h; h, c for an LSTM), of the 2nd ...]
packed output [model output for this step (O), the new states in the same order]

The firmware zeroes the state part once, then for each frame writes the frame into the input, invokes, reads the
output part and copies the state part of the output back into the input (requantizing: the two tensors have scales
of their own). A layer after the RNNs runs per step; with return_sequences=False the output of the last step is the
sequence model's output.
"""

import numpy as np

from ..errors import BadInput

RNN_CELLS = ("LSTMCell", "GRUCell", "SimpleRNNCell")
STEP_MAX_ABS_ERROR = 1e-4   # float one-step model run step by step vs the sequence model: float32 rounding only
VERIFY_STEPS = 256          # packed step inputs kept for verification (at least)
CALIBRATION_STEPS = 4096    # packed step inputs streamed for calibration: the converter takes 200, extremes first

# layers whose math on a (batch, time, features) tensor is the same at every time step, on the feature axis alone
PER_STEP = {"Dense", "Activation", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
            "ActivityRegularization", "BatchNormalization", "LayerNormalization", "UnitNormalization", "Normalization",
            "Rescaling", "Identity", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
            "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU", "TimeDistributed"}
DROPPED_AT_INFERENCE = {"Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                        "ActivityRegularization"}


def _recurrent_layers(model):
    """RNN and Bidirectional layers of `model`, nested models and wrappers included."""
    import tensorflow as tf

    kinds = (tf.keras.layers.RNN, tf.keras.layers.Bidirectional)
    return [m for m in [model, *model.submodules] if isinstance(m, kinds)]


def has_recurrent(model) -> bool:
    """True when `model` holds an LSTM / GRU / SimpleRNN (or any keras RNN) layer. A Bidirectional layer cannot run
    one step at a time (its backward half needs the whole sequence first): BadInput naming it."""
    import tensorflow as tf

    found = _recurrent_layers(model)
    for layer in found:
        if isinstance(layer, tf.keras.layers.Bidirectional):
            raise BadInput(f"model '{model.name}': layer '{layer.name}' (Bidirectional) cannot stream one step at a "
                           "time on a microcontroller (its backward half needs the whole sequence); use a "
                           "unidirectional layer")
    return bool(found)


# ---------------------------------------------------------------------------------------------------------------
# the one-step model

def one_step_model(model):
    """The unpacked one-step model: inputs [frame (1, F), *states], outputs [output (1, O), *new states], with
    weights copied from `model`. BadInput, naming the layer, for what cannot run one step at a time."""
    import tensorflow as tf

    has_recurrent(model)    # Bidirectional -> BadInput
    if not hasattr(model, "_nodes_by_depth") or not model.inputs:
        raise BadInput(f"model '{model.name}': a subclassed or unbuilt model has no layer graph to run one step at "
                       "a time; build it with the functional or Sequential API and an Input")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise BadInput(f"model '{model.name}': {len(model.inputs)} inputs and {len(model.outputs)} outputs; the "
                       "one-step export takes a model with one input and one output")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 3 or shape[-1] is None:
        raise BadInput(f"model '{model.name}': input shape {shape[1:]}; a recurrent model to stream takes "
                       "(time, features) frames")
    frame = tf.keras.Input((int(shape[-1]),), batch_size=1, name="step_frame")
    builder = _StepBuilder()
    (out,) = builder.run(model, [frame], [True])
    out_rank = len(model.outputs[0].shape)
    if out_rank > 3:
        raise BadInput(f"model '{model.name}': output shape {tuple(model.outputs[0].shape[1:])}; a streamed model "
                       "gives (time, features) or (features,)")
    if not builder.state_inputs:
        raise BadInput(f"model '{model.name}': no recurrent layer on the path from input to output")
    new_states = [tf.keras.layers.Identity(name=f"new_{i.name}")(s)
                  for i, s in zip(builder.state_inputs, builder.state_outputs)]
    step = tf.keras.Model([frame, *builder.state_inputs], [out, *new_states], name=f"{model.name}_step")
    for clone, weights in builder.weights:    # after the model is built: every clone has its variables
        clone.set_weights(weights)
    step.state_layout = tuple(builder.layout)   # ((rnn layer name, state name, size), ...) in packed order
    return step


class _StepBuilder:
    """Walks a functional graph node by node (as Keras' own Functional._run_internal_graph does), mapping each
    layer to its one-step form on the step tensors: RNN -> its cell with state inputs and outputs, a per-step layer
    -> a copy of itself on the feature axis, a layer after the time axis is gone -> a copy of itself."""

    def __init__(self):
        self.state_inputs, self.state_outputs, self.layout = [], [], []
        self.weights = []       # (cloned layer, weights to set once the step model is built)
        self.clones = {}        # id(user layer) -> its clone (a layer called twice shares its clone's weights)

    def run(self, model, step_inputs, timed):
        """Step tensors for model.outputs given step tensors for model.inputs; `timed[i]`: input i still has the
        time axis in the sequence model (its step tensor is one frame of it)."""
        values = {id(t): (s, tm) for t, s, tm in zip(model.inputs, step_inputs, timed)}
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                ins = node.keras_inputs
                if any(id(t) not in values for t in ins):
                    continue    # a node of another model sharing this layer
                args = [values[id(t)] for t in ins]
                outs = self.layer(model, node, [a[0] for a in args], any(a[1] for a in args))
                for t, value in zip(_flatten(node.outputs), outs):
                    values[id(t)] = value
        return [values[id(t)][0] for t in model.outputs]

    def layer(self, model, node, xs, timed):
        """[(step tensor, still timed)] for each output of `node`."""
        import tensorflow as tf

        layer = node.layer
        kind = type(layer).__name__
        if isinstance(layer, tf.keras.Model) and hasattr(layer, "_nodes_by_depth"):   # a nested model: walk it
            return [(y, timed) for y in self.run(layer, xs, [timed] * len(xs))]
        if isinstance(layer, tf.keras.layers.Bidirectional):
            has_recurrent(model)
        if isinstance(layer, tf.keras.layers.RNN):
            if not timed:
                raise BadInput(f"model '{model.name}': recurrent layer '{layer.name}' runs on a sequence rebuilt "
                               "after an earlier recurrent layer's return_sequences=False; set return_sequences=True "
                               "on the earlier layer to stream both")
            return self.rnn(model, node, xs)
        x = xs if len(xs) > 1 else xs[0]
        if not timed:     # the time axis is gone (after a return_sequences=False RNN): the layer as it is
            if kind == "RepeatVector":
                raise BadInput(f"model '{model.name}': layer '{layer.name}' (RepeatVector) builds a sequence from "
                               "the recurrent layer's last output, which cannot stream one step at a time")
            return [(y, False) for y in _flatten(self.clone(layer, layer.get_config())(x))]
        if kind not in PER_STEP:
            raise BadInput(f"model '{model.name}': layer '{layer.name}' ({kind}) works across time steps (or is "
                           "unknown to the one-step export), so the model cannot stream one step at a time; use "
                           "per-step layers (Dense, activations, normalization over features) around the recurrent "
                           "layers")
        if kind in DROPPED_AT_INFERENCE:
            return [(x, True)]
        config = self.per_step_config(model, layer, kind, len(node.keras_inputs[0].shape))
        if kind == "TimeDistributed":
            inner = layer.layer
            clone = self.clone(inner, inner.get_config())
        else:
            clone = self.clone(layer, config)
        return [(y, True) for y in _flatten(clone(x))]

    def per_step_config(self, model, layer, kind, rank):
        """The layer's config for a (batch, features) input: its axis moved from the sequence's last to -1."""
        config = layer.get_config()
        if rank != 3:
            raise BadInput(f"model '{model.name}': layer '{layer.name}' ({kind}) gets a rank-{rank} tensor; the "
                           "one-step export streams (time, features) tensors")
        if kind == "PReLU" and 1 not in (config.get("shared_axes") or []):
            raise BadInput(f"model '{model.name}': layer '{layer.name}' (PReLU) has a slope per time step; set "
                           "shared_axes=[1] to stream it")
        if "axis" in config:
            axes = config["axis"] if isinstance(config["axis"], (list, tuple)) else [config["axis"]]
            if axes is None or any(a not in (-1, rank - 1) for a in axes):
                raise BadInput(f"model '{model.name}': layer '{layer.name}' ({kind}) works along axis "
                               f"{config['axis']}, across time steps; the one-step export streams layers that work "
                               "along the feature axis (-1)")
            config["axis"] = [-1] if isinstance(config["axis"], (list, tuple)) else -1
        return config

    def clone(self, layer, config):
        if id(layer) not in self.clones:
            try:
                clone = type(layer).from_config(config)
            except Exception as e:   # a custom layer without a complete get_config
                raise BadInput(f"layer '{layer.name}' ({type(layer).__name__}) cannot be rebuilt from its config "
                               f"for the one-step model: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                               ) from None
            self.clones[id(layer)] = clone
            self.weights.append((clone, layer.get_weights()))
        return self.clones[id(layer)]

    def rnn(self, model, node, xs):
        """The RNN layer as one call of a copy of its cell: state inputs in, new states out."""
        import tensorflow as tf

        layer = node.layer
        where = f"model '{model.name}': recurrent layer '{layer.name}'"
        cell = layer.cell
        if type(cell).__name__ not in RNN_CELLS:
            raise BadInput(f"{where} has a {type(cell).__name__}; the one-step export knows LSTM, GRU and SimpleRNN "
                           "cells")
        if len(xs) != 1 or node.call_kwargs.get("initial_state") is not None or \
                node.call_kwargs.get("constants") is not None:
            raise BadInput(f"{where} is called with an initial state or constants; the one-step export starts "
                           "from a zero state")
        if layer.go_backwards:
            raise BadInput(f"{where} has go_backwards=True: it needs the whole sequence first, so it cannot stream; "
                           "use a forward layer")
        if getattr(layer, "time_major", False):
            raise BadInput(f"{where} has time_major=True; use the default (batch, time, features) layout")
        if layer.return_state:
            raise BadInput(f"{where} has return_state=True; the one-step export carries the states itself")
        if id(layer) in self.clones:
            raise BadInput(f"{where} is called twice; each call needs a state of its own, so the one-step export "
                           "takes a recurrent layer called once")
        config = {**cell.get_config(), "name": f"{layer.name}_cell", "dropout": 0.0, "recurrent_dropout": 0.0}
        step_cell = type(cell).from_config(config)
        self.clones[id(layer)] = step_cell
        self.weights.append((step_cell, cell.get_weights()))
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        names = ["h", "c"] if type(cell).__name__ == "LSTMCell" else ["h"]
        states = [tf.keras.Input((int(n),), batch_size=1, name=f"{layer.name}_{s}") for n, s in zip(sizes, names)]
        h, new_states = step_cell(xs[0], states)
        new_states = _flatten(new_states)
        self.state_inputs += states
        self.state_outputs += new_states
        self.layout += [(layer.name, s, int(n)) for n, s in zip(sizes, names)]
        return [(h, bool(layer.return_sequences))]


def _flatten(x):
    import tensorflow as tf

    return tf.nest.flatten(x)


def packed_step_model(model):
    """The one-step model with [frame, *states] packed into one input tensor and [output, *new states] into one
    output tensor (streaming.pack_step), batch 1."""
    from . import streaming

    step = one_step_model(model)
    packed = streaming.pack_step(step, input_name="frame_and_state", output_name="output_and_new_state",
                                 name=f"{model.name}_packed_step")
    packed.state_layout = step.state_layout
    packed.frame_size = int(step.inputs[0].shape[-1])
    packed.output_size = int(step.outputs[0].shape[-1])
    return packed


# ---------------------------------------------------------------------------------------------------------------
# running it

def _sequences(model, x) -> np.ndarray:
    """The user's inputs as (N, T, F) float32 sequences; one (T, F) sequence is N = 1."""
    x = np.asarray(x, np.float32)
    if x.ndim == 2:
        x = x[None]
    features = int(model.inputs[0].shape[-1])
    if x.ndim != 3 or x.shape[-1] != features:
        raise BadInput(f"model '{model.name}': data of shape {x.shape}; the model takes (N, time, {features}) "
                       "sequences")
    return x


def _step_function(packed):
    """A traced call of the packed model on one (1, width) float32 array (eager calls cost ~10x more per step)."""
    import tensorflow as tf

    width = int(packed.inputs[0].shape[-1])
    call = tf.function(lambda t: packed(t, training=False),
                       input_signature=[tf.TensorSpec((1, width), tf.float32)])
    return lambda x: call(x).numpy()


def stream_sequences(step_fn, packed, sequences):
    """Each sequence streamed from a zero state: (outputs (N, T, O), the packed inputs met (N, T, width))."""
    from . import streaming

    width, out = int(packed.inputs[0].shape[-1]), packed.output_size
    results = [streaming.stream_frames(step_fn, s, width, out) for s in sequences]
    return np.stack([r[0] for r in results]), np.stack([r[1] for r in results])


def sequence_outputs(model, sequences) -> np.ndarray:
    """The sequence model's outputs; a model built with a fixed batch size runs on batches of that size (the last
    one padded), a stateful one from a zero state for each batch."""
    import tensorflow as tf

    batch = model.inputs[0].shape[0] or 32
    stateful = [layer for layer in _recurrent_layers(model)
                if isinstance(layer, tf.keras.layers.RNN) and layer.stateful]
    outputs = []
    for start in range(0, len(sequences), batch):
        chunk = sequences[start:start + batch]
        fed = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), 0)]) \
            if model.inputs[0].shape[0] else chunk
        for layer in stateful:
            layer.reset_states()
        outputs.append(np.asarray(model(fed, training=False))[:len(chunk)])
    return np.concatenate(outputs).astype(np.float32)


def _steps_needed(sequences, steps):
    """How many sequences to stream for `steps` packed inputs."""
    return max(1, min(len(sequences), -(-steps // max(1, sequences.shape[1]))))


def one_step_form(model, x, x_verify=None):
    """(packed one-step Keras model, calibration inputs, verification inputs, note) for int8_export: the model as a
    microcontroller runs it (see the module's docstring), and the packed [frame, state] vectors met while streaming
    sequences (N, T, F) from a zero state - real states, not zeros.

    Calibration streams the sequences of `x` (up to CALIBRATION_STEPS steps); its rows holding an extreme value of a
    packed input or output come first, since the converter calibrates min / max ranges on the first 200 rows.
    Verification streams `x_verify` when given (a held-out split: an output beyond the calibrated range then clips
    and counts against the LSB check, as it would on the device), else the last sequences of `x` that make up
    VERIFY_STEPS steps (in the calibration set: the checks then measure int8 rounding, as the effects family's do).
    Verification rows are shuffled: int8_export checks the first 32, recurrent_checks all of them (>= 256)."""
    sequences = _sequences(model, x)
    packed = packed_step_model(model)
    step_fn = _step_function(packed)
    cal_seqs = sequences[:_steps_needed(sequences, CALIBRATION_STEPS)]
    held_out = x_verify is not None
    ver_seqs = _sequences(model, x_verify) if held_out else cal_seqs
    ver_seqs = ver_seqs[-_steps_needed(ver_seqs, VERIFY_STEPS):]
    rng = np.random.default_rng(0)
    width = int(packed.inputs[0].shape[-1])
    x_cal = stream_sequences(step_fn, packed, cal_seqs)[1].reshape(-1, width)
    x_ver = stream_sequences(step_fn, packed, ver_seqs)[1].reshape(-1, width)
    x_cal, x_ver = _extremes_first(step_fn, x_cal, rng), x_ver[rng.permutation(len(x_ver))]
    layout = ", ".join(f"{layer}.{s} {n}" for layer, s, n in packed.state_layout)
    note = (f"one-step streaming model: in [frame {packed.frame_size}, {layout}], out [output {packed.output_size}, "
            f"new states], one tensor each way; {len(x_cal)} calibration steps from {len(cal_seqs)} sequences, "
            f"{len(x_ver)} verification steps from {len(ver_seqs)} "
            + ("held-out sequences" if held_out else "of those sequences"))
    if len(x_ver) < VERIFY_STEPS:
        note += f" (the data has fewer than {VERIFY_STEPS} steps)"
    return packed, x_cal.astype(np.float32), x_ver.astype(np.float32), note


def _extremes_first(step_fn, rows, rng):
    """`rows` reordered: first each row holding the smallest or largest value of a packed input or output element,
    then the rest shuffled. The converter calibrates on the first CALIBRATION_SAMPLES rows with min / max ranges:
    this way those ranges are the ones of all the rows (measured: an output clipped 21 LSB below a peak that the
    first 200 shuffled steps had missed)."""
    outputs = np.concatenate([step_fn(r[None]) for r in rows])
    extremes = []
    for values in (rows, outputs):
        for index in (*np.argmin(values, 0), *np.argmax(values, 0)):
            if index not in extremes:
                extremes.append(int(index))
    chosen = set(extremes)
    rest = [i for i in rng.permutation(len(rows)) if i not in chosen]
    return rows[extremes + rest]


def step_vs_sequence_error(model, packed, x, steps=VERIFY_STEPS) -> float:
    """Max |one-step model streamed step by step - sequence model| over at least `steps` steps of `x` (or all of
    it): for return_sequences=True every step's output, otherwise the last step's."""
    sequences = _sequences(model, x)
    sequences = sequences[:_steps_needed(sequences, steps)]
    streamed, _ = stream_sequences(_step_function(packed), packed, sequences)
    reference = sequence_outputs(model, sequences)
    if reference.ndim == 3:
        got = streamed.reshape(reference.shape)
    else:
        got = streamed[:, -1].reshape(reference.shape)
    return float(np.max(np.abs(got - reference)))


# ---------------------------------------------------------------------------------------------------------------
# checks for the run record

def recurrent_checks(model, packed, x, tflite_bytes=None, x_verify=None) -> list:
    """Check rows (analysis.budgets.check_row) beside int8_export's, which verifies the first 32 packed steps:
    - step_vs_sequence_max_abs: the float one-step model streamed vs the user's sequence model (<= 1e-4, float
      rounding; a failure is a construction error of the one-step model);
    with the int8 flatbuffer and the verification steps (`x_verify`, one_step_form's), over all of them (>= 256):
    - int8_steps_max_error_lsb: Keras vs the TFLite interpreter, every step, same tolerance as int8_export;
    - tflm_steps_vs_tflite_lsb: TFLite Micro vs the TFLite interpreter, every step."""
    from ..analysis import budgets
    from ..figures import measured
    from . import int8, tflite, tflm

    error = step_vs_sequence_error(model, packed, x)
    sequences = _sequences(model, x)
    steps = _steps_needed(sequences, VERIFY_STEPS) * sequences.shape[1]
    rows = [budgets.check_row(
        "step_vs_sequence_max_abs", "one-step model streamed vs sequence model (float)",
        measured(error, "", f"max |difference| over {steps} steps of the data, Keras float"),
        STEP_MAX_ABS_ERROR, "<=")]
    if tflite_bytes is None or x_verify is None:
        return rows
    check, xq, yq = tflite.verify_against_keras(packed, tflite_bytes, x_verify, classifier=False)
    micro, _ = tflm.run_tflm(tflite_bytes, xq)
    diff = int(np.max(np.abs(micro.astype(np.int32) - yq.reshape(micro.shape).astype(np.int32))))
    by = f"{check['samples']} streamed steps"
    rows.append(budgets.check_row(
        "int8_steps_max_error_lsb", "int8 vs Keras, every verification step",
        measured(round(check["max_error_lsb"], 3), "LSB", f"Keras vs TFLite interpreter, {by}"),
        int8.MAX_ERROR_LSB, "<="))
    rows.append(budgets.check_row(
        "tflm_steps_vs_tflite_lsb", "TFLite Micro vs TFLite, every verification step",
        measured(diff, "LSB", f"TFLite Micro vs TFLite interpreter, {by}"), int8.TFLM_MAX_DIFF_LSB, "<="))
    return rows


def tflm_step_function(tflite_bytes):
    """The int8 packed model in TFLite Micro as a float step function (1, width) -> (1, width'), quantizing and
    dequantizing at its edges as the firmware does when it copies the new state back into the input."""
    from ..analysis.counts import interpreter
    from . import tflm
    from .tflite import dequantize, quantize_input

    details = interpreter(tflite_bytes)
    inp, out = details.get_input_details()[0], details.get_output_details()[0]
    micro = tflm.load(tflite_bytes)

    def step(x):
        micro.set_input(quantize_input(x, inp), 0)
        micro.invoke()
        return dequantize(np.array(micro.get_output(0)), out)

    return step, float(out["quantization"][0])


def int8_stream_error(model, packed, tflite_bytes, x, steps=VERIFY_STEPS) -> dict:
    """The int8 model as the firmware runs it: TFLite Micro streaming the sequences of `x` (at least `steps` steps)
    from a zero state, carrying its own int8 state, against the user's float sequence model. The error compounds
    over the steps, so it is a figure, not one of the per-step checks: {'max_error_lsb' (of the output scale),
    'max_abs_error', 'reference_max_abs', 'steps'}."""
    sequences = _sequences(model, x)
    sequences = sequences[:_steps_needed(sequences, steps)]
    step, scale = tflm_step_function(tflite_bytes)
    streamed, _ = stream_sequences(step, packed, sequences)
    reference = sequence_outputs(model, sequences)
    got = streamed.reshape(reference.shape) if reference.ndim == 3 else streamed[:, -1].reshape(reference.shape)
    error = float(np.max(np.abs(got - reference)))
    return {"max_error_lsb": error / scale, "max_abs_error": error,
            "reference_max_abs": float(np.max(np.abs(reference))), "steps": int(sequences.size // sequences.shape[-1])}
