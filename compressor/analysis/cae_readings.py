"""The source's Table II (SPEC 1: the CAE's seven quantized variants and their QTools energy relative to Model 1),
and the readings of its two activation names that QTools prices - the data the energy step and its test share.

"binary relu" and "adaptive relu" are not QKeras names; a reading says what each becomes for QTools:
- spec7 (default): SPEC 7's reading, the one that reproduces the whole energy column (RMS 0.009 on the paper CAE):
  both 8-bit - "binary relu" as `quantized_relu(8)` set as the layer's activation, "adaptive relu" as a
  `QAdaptiveActivation("quantized_relu", total_bits=8)` layer after the layer (the layer itself then linear).
- turn1: the quantize step's aliases, what the recipes train and hls4ml converts (methods/quantize.py ALIASES):
  `binary(alpha=1)` (1-bit) and `quantized_relu(4,2)`. Its column is 0.56 / 2.63 / 1.0 / 0.85 / 1 / 0.845 (SPEC 7):
  with 1-bit inputs the convolutions are already cheap muxes, so ternary kernels gain little. The source's Table III
  (`smux_8_1`) fits this reading, its energy column the other: the source is inconsistent, so both are kept.

    qmodel = read(float_model, rules, "spec7")     # rules as the quantize step takes them, Table II names allowed
"""

import contextlib
import fnmatch
import io

from ..errors import BadInput

# number -> (conv kernel, conv bias, activation, dense kernel, dense bias, energy relative to Model 1)
TABLE_II = {
    1: ("quantized_bits(8,0,1)", "quantized_po2(4)", "binary relu", "quantized_bits(4,0,1)", "quantized_bits(4)", 1.0),
    2: ("stochastic_ternary", "quantized_po2(4)", "binary relu", "quantized_bits(4,0,1)", "quantized_bits(4)", 0.278),
    3: ("quantized_bits(8,0,1)", "quantized_po2(4)", "adaptive relu", "quantized_bits(4,0,1)", "quantized_bits(4)",
        1.04),
    4: ("quantized_bits(8,0,1)", "quantized_po2(4)", "binary relu", "stochastic_ternary", "quantized_bits(4)", 0.995),
    5: ("stochastic_ternary", "quantized_po2(4)", "adaptive relu", "quantized_bits(4,0,1)", "quantized_bits(4)", 0.3),
    6: ("quantized_bits(8,0,1)", "quantized_po2(4)", "binary relu", "quantized_bits(4,0,1)", "quantized_po2(4)", 1.0),
    7: ("stochastic_ternary", "quantized_po2(4)", "adaptive relu", "stochastic_ternary", "quantized_po2(4)", 0.3),
}

# reading -> Table II activation name -> {"activation": QKeras string} (the layer's activation quantizer) or
# {"after": (QAdaptiveActivation activation, total_bits)} (a layer inserted after it); "says": for the report
READINGS = {
    "spec7": {"binary relu": {"activation": "quantized_relu(8)"},
              "adaptive relu": {"after": ("quantized_relu", 8)},
              "says": "SPEC 7 reading: binary relu = quantized_relu(8), adaptive relu = QAdaptiveActivation"
                      "(quantized_relu, 8 bits) after the layer"},
    "turn1": {"binary relu": {"activation": "binary(alpha=1)"},
              "adaptive relu": {"activation": "quantized_relu(4,2)"},
              "says": "turn-1 reading (as trained): binary relu = binary(alpha=1), adaptive relu = "
                      "quantized_relu(4,2)"},
}
DEFAULT = "spec7"


def table_name(text):
    """"binary relu" / "adaptive relu" for either spelling (space or underscore), else None."""
    name = " ".join(str(text).replace("_", " ").lower().split())
    return name if name in ("binary relu", "adaptive relu") else None


def cae_rules(number, variant="fpga"):
    """The quantize rules of Table II's Model `number` for the zoo CAE's layer names (as recipes/fpga_cae_*.yaml
    write them). The paper decoder's Conv2DTranspose has no working QKeras twin (zoo/cae.py): its layers get only
    the activation, which a reading can place after them; the output layer keeps its sigmoid."""
    if number not in TABLE_II:
        raise BadInput(f"Table II has Models 1..7, not {number!r}")
    ck, cb, act, dk, db, _ = TABLE_II[number]
    rules = {"enc_conv*": {"kernel": ck, "bias": cb, "activation": act}, "enc_dense": {"kernel": dk, "bias": db},
             "dec_dense": {"kernel": dk, "bias": db, "activation": act}}
    if variant == "paper":
        rules["dec_conv[0-2]"] = {"activation": act}
    else:
        rules["dec_conv[0-2]"] = {"kernel": ck, "bias": cb, "activation": act}
        rules["dec_conv3"] = {"kernel": ck, "bias": cb}
    return rules


def read(model, rules, reading=DEFAULT, default=None):
    """The QKeras model QTools prices: float `model` quantized by `rules` (the quantize step's rules) with Table II's
    activation names read as `reading` says. Structure only: the weights are the float model's, untrained or not."""
    import tensorflow as tf

    from ..methods.quantize import _quantizable, quantize_model

    if reading not in READINGS:
        raise BadInput(f"energy reading {reading!r}: expected one of {', '.join(READINGS)}")
    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    merged = {layer.name: {k: v for k, v in default.items() if v is not None}
              for layer in layers if default and _quantizable(layer)}
    for pattern, rule in (rules or {}).items():
        matched = [layer.name for layer in layers if fnmatch.fnmatchcase(layer.name, pattern)]
        if not matched:
            raise BadInput(f"quantize rule {pattern!r} matches no layer of model '{model.name}'")
        for name in matched:
            merged.setdefault(name, {}).update({k: v for k, v in (rule or {}).items() if v is not None})
    after, per_layer = {}, {}
    for layer in layers:
        rule = dict(merged.get(layer.name, {}))
        name = table_name(rule.get("activation", ""))
        if name:
            entry = READINGS[reading][name]
            if "after" in entry:
                after[layer.name] = entry["after"]
                rule.pop("activation")
            else:
                rule["activation"] = entry["activation"]
        if not _quantizable(layer):
            rule = {}                 # no QKeras twin (the paper decoder's Conv2DTranspose): it stays float
        if rule:
            per_layer[layer.name] = rule
    if after:
        model = _with_layers_after(model, layers, after)
    with _quiet():
        return quantize_model(model, per_layer)[0]


def _with_layers_after(model, layers, after):
    """A copy of chain `model` with a QAdaptiveActivation after each layer of `after` (that layer made linear)."""
    import tensorflow as tf
    from qkeras import QAdaptiveActivation

    for prev, layer in zip([model.layers[0]] + layers[:-1], layers):
        nodes = layer.inbound_nodes
        if len(model.inputs) != 1 or len(nodes) != 1 or nodes[0].inbound_layers is not prev:
            raise BadInput(f"model '{model.name}': this reading inserts an activation layer after "
                           f"{', '.join(after)}, which needs a chain of layers; layer '{layer.name}' is not one")
    x = inp = tf.keras.Input(model.input_shape[1:], name=model.layers[0].name)
    with _quiet():
        for layer in layers:
            config = layer.get_config()
            if layer.name in after and "activation" in config:
                config["activation"] = "linear"
            twin = layer.__class__.from_config(config)
            x = twin(x)
            if layer.weights:
                twin.set_weights(layer.get_weights())
            if layer.name in after:
                activation, bits = after[layer.name]
                x = QAdaptiveActivation(activation, bits, name=f"{layer.name}_adaptive")(x)
    return tf.keras.Model(inp, x, name=model.name)


@contextlib.contextmanager
def _quiet():
    """QAdaptiveActivation prints training-step warnings to stderr on every construction: not ours to show."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
