"""The effects model as a microcontroller runs it: one step per audio sample, the recurrent state carried by the
firmware. The one-step model's inputs and outputs are packed into one tensor, [sample, state...], so the int8
model has a single input and output (one scale: samples and GRU/LSTM states both live in about [-1, 1]) and the
firmware copies the output's state part back into the input after each sample."""

import numpy as np


def packed_streaming_model(seq_model):
    """[sample, *states] packed (1, 1 + state sizes) -> [sample, *new states] packed, sharing seq_model's weights."""
    from ..zoo import effects

    return pack_step(effects.streaming_model(seq_model), input_name="sample_and_state",
                     output_name="sample_and_new_state", name=f"{seq_model.name}_packed_step")


def pack_step(step, *, input_name, output_name, name):
    """A one-step model with inputs [x, *states] and outputs [y, *new states] (each (1, size)) as one with a single
    packed (1, sum of sizes) tensor each way, in that order, calling `step` (shared weights)."""
    import tensorflow as tf

    sizes = [int(t.shape[-1]) for t in step.inputs]
    packed = tf.keras.Input((sum(sizes),), batch_size=1, name=input_name)
    parts, start = [], 0
    for i, size in enumerate(sizes):    # named slices: op names in the flatbuffer must not depend on how many
        parts.append(tf.keras.layers.Lambda(    # models the process built before (Keras' global name counter)
            lambda t, a=start, b=start + size: t[:, a:b], name=f"part_{i}")(packed))
        start += size
    outputs = step(parts)
    return tf.keras.Model(packed, tf.keras.layers.Concatenate(name=output_name)(outputs), name=name)


def stream(step_fn, signal, width):
    """Run a packed one-step function over a 1-D signal from a zero state: (outputs, the packed inputs it saw)."""
    outputs, seen = stream_frames(step_fn, np.asarray(signal, np.float32).reshape(-1, 1), width, 1)
    return outputs[:, 0], seen


def stream_frames(step_fn, frames, width, n_out):
    """Run a packed one-step function over frames (T, F) from a zero state: the packed input is [frame, state], the
    packed output [output (n_out), new state]. Returns (outputs (T, n_out), the packed inputs it saw (T, width))."""
    frames = np.asarray(frames, np.float32)
    n_in = frames.shape[1]
    x = np.zeros((1, width), np.float32)
    outputs, seen = np.empty((len(frames), n_out), np.float32), np.empty((len(frames), width), np.float32)
    for i, frame in enumerate(frames):
        x[0, :n_in] = frame
        seen[i] = x[0]
        y = step_fn(x)
        outputs[i] = y[0, :n_out]
        x[0, n_in:] = y[0, n_out:]
    return outputs, seen


def collect_packed_inputs(packed_model, segments, steps=256) -> np.ndarray:
    """Packed [sample, state] vectors met while streaming the first `steps` samples of each segment: the
    representative set for the converter (real states, not zeros)."""
    width = packed_model.input_shape[-1]
    call = packed_model.__call__
    seen = [stream(lambda x: call(x, training=False).numpy(), np.ravel(s)[:steps], width)[1] for s in segments]
    return np.concatenate(seen)


def run_int8_streaming(tflite_bytes, signal) -> np.ndarray:
    """Stream a signal through the int8 packed model in the TFLite interpreter, quantizing at its edges as the
    firmware would; returns the float output samples."""
    from ..analysis.counts import interpreter
    from .tflite import dequantize, quantize_input

    interp = interpreter(tflite_bytes)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]

    def step(x):
        interp.set_tensor(inp["index"], quantize_input(x, inp))
        interp.invoke()
        return dequantize(interp.get_tensor(out["index"]), out)

    return stream(step, signal, inp["shape"][-1])[0]
