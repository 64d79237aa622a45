"""Turn a float Keras model into its QKeras twin, layer by layer, from rules keyed by layer-name patterns.

    qmodel, assigned = quantize_model(model, {
        "conv*":  {"kernel": "stochastic_ternary", "bias": "quantized_po2(4)"},
        "act*":   {"activation": "adaptive_relu"},
        "dense*": {"kernel": "quantized_bits(4,0,1)", "bias": "quantized_bits(4)"},
    })

Rules
- Patterns are shell-style globs (`fnmatch.fnmatchcase` on the layer name: "conv*", "dense_?", "*"); globs read
  well in YAML and need no escaping. A layer matched by several rules gets their keys merged in rule order (later
  wins) over `default`. A pattern that matches no layer, or only layers without a QKeras twin, is an error.
- Keys: kernel (the depthwise kernel for DepthwiseConv2D), bias, activation. For Conv/Dense the activation
  quantizer replaces the layer's activation; Activation and ReLU layers become QActivation.
- Quantizer strings are QKeras' own (`quantized_bits(8,0,1)`, `stochastic_ternary`, `quantized_po2(4)`,
  `quantized_relu(4)`, `binary`, `ternary` ...), parsed by QKeras (`qkeras.quantizers.get_quantizer`) after the
  name is checked against QKeras' quantizer classes; the arguments are checked by constructing the quantizer.

The two activations of SPEC 1 Table II have no QKeras name; they map to:
- "binary relu"   -> `binary(alpha=1)`: a 1-bit (+-1) activation. QTools then counts the next layer's products as
  `smux_8_1`, the op type of the source's Table III, and hls4ml converts it (as binary_tanh). `binary(use_01=True)`
  ({0,1}, closer to a ReLU) would also give smux_8_1, but hls4ml's QKeras reader turns every `binary` activation
  into binary_tanh (+-1), so the FPGA model would not match the trained one.
- "adaptive relu" -> `quantized_relu(4,2)`: a 4-bit ReLU on [0, 4). QKeras' only adaptive-range activation,
  QAdaptiveActivation (EMA of the range), has no hls4ml converter, so the range is fixed instead, wide enough for
  the activations of a [0, 1]-scaled spectrogram model. 4 bits, not 8: with 8-bit activations QTools prices
  Model 7 above Model 1 (ratio 1.09), against the source's 0.3; with 4 bits it is 0.61 (the source does not give
  the width). Override it with an explicit quantized_relu string.

A `default` rule applies to every layer with a twin; its activation quantizer only to layers that apply a ReLU
(a user's softmax, sigmoid or linear output keeps its function). A rule by name sets any activation.

BatchNormalization is kept as a float layer (not folded): hls4ml folds/merges it into fixed point itself, and
QKeras' folded layers (QConv2DBatchnorm) are not what the FPGA converter expects for every layer type.
Layers no rule (nor `default`) touches stay float. Biases quantized to po2 are a known hls4ml C-sim problem
(SPEC 0); this module keeps them (the source's Table II) and the FPGA export converts them.
"""

import fnmatch
import inspect

import qkeras
import qkeras.quantizers as qq
import tensorflow as tf

from compressor.errors import BadInput

ALIASES = {
    "binary relu": "binary(alpha=1)",
    "binary_relu": "binary(alpha=1)",
    "adaptive relu": "quantized_relu(4,2)",
    "adaptive_relu": "quantized_relu(4,2)",
}
QUANTIZER_NAMES = sorted(n for n, o in vars(qq).items()
                         if inspect.isclass(o) and issubclass(o, qq.BaseQuantizer) and o is not qq.BaseQuantizer)
RULE_KEYS = ("kernel", "bias", "activation")

# float layer class -> (QKeras class, config key for each rule key)
_TWINS = {
    tf.keras.layers.Conv1D: (qkeras.QConv1D, {"kernel": "kernel_quantizer", "bias": "bias_quantizer"}),
    tf.keras.layers.Conv2D: (qkeras.QConv2D, {"kernel": "kernel_quantizer", "bias": "bias_quantizer"}),
    tf.keras.layers.Dense: (qkeras.QDense, {"kernel": "kernel_quantizer", "bias": "bias_quantizer"}),
    tf.keras.layers.DepthwiseConv2D: (qkeras.QDepthwiseConv2D,
                                      {"kernel": "depthwise_quantizer", "bias": "bias_quantizer"}),
}
_ACTIVATION_LAYERS = (tf.keras.layers.Activation, tf.keras.layers.ReLU)


def canonical(text: str) -> str:
    """The QKeras string for `text` (aliases resolved, spaces trimmed)."""
    text = " ".join(str(text).split())
    return ALIASES.get(text.lower(), text.replace(" ", ""))


def parse_quantizer(text):
    """A QKeras quantizer object from its string, e.g. "quantized_bits(8,0,1)"; BadInput naming the string when
    the name is not a QKeras quantizer or its arguments are wrong."""
    if not isinstance(text, str):
        raise BadInput(f"quantizer {text!r}: expected a string such as 'quantized_bits(8,0,1)'")
    qtext = canonical(text)
    name = qtext.split("(", 1)[0]
    if name not in QUANTIZER_NAMES:
        raise BadInput(f"quantizer {text!r}: unknown name {name!r}; expected one of "
                       f"{', '.join(QUANTIZER_NAMES + sorted(set(ALIASES) - {'binary relu', 'adaptive relu'}))}")
    if "(" in qtext and not qtext.endswith(")"):
        raise BadInput(f"quantizer {text!r}: unbalanced parentheses")
    try:
        return qq.get_quantizer(qtext)
    except Exception as e:  # QKeras raises TypeError/ValueError/SyntaxError for bad arguments
        raise BadInput(f"quantizer {text!r}: bad arguments for {name}: {e}") from e


def _check_rule(where, rule):
    if not isinstance(rule, dict) or set(rule) - set(RULE_KEYS):
        extra = sorted(set(rule) - set(RULE_KEYS)) if isinstance(rule, dict) else rule
        raise BadInput(f"quantize rule {where}: unexpected {extra!r}; expected a mapping with keys {list(RULE_KEYS)}")
    for key, text in rule.items():
        if text is not None:
            parse_quantizer(text)  # fail before building anything


def _quantizable(layer):
    return type(layer) in _TWINS or isinstance(layer, _ACTIVATION_LAYERS)


def _relu(layer) -> bool:
    if isinstance(layer, tf.keras.layers.ReLU):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def _default_for(layer, default) -> dict:
    """`default` for one layer; its activation quantizer only replaces a ReLU (a softmax, sigmoid or linear output
    of a user's model keeps its own function)."""
    rule = dict(default)
    if "activation" in rule and not _relu(layer):
        rule.pop("activation")
    return rule


def plan(model, rules: dict, default=None) -> dict:
    """layer name -> {kernel, bias, activation: QKeras string} for every layer that gets a QKeras twin."""
    if default is not None:
        _check_rule("default", default)
    layers = [l for l in model.layers if not isinstance(l, tf.keras.layers.InputLayer)]
    assigned = {l.name: _default_for(l, default) for l in layers if _quantizable(l) and default}
    for pattern, rule in (rules or {}).items():
        _check_rule(repr(pattern), rule)
        matched = [l for l in layers if fnmatch.fnmatchcase(l.name, pattern)]
        if not matched:
            raise BadInput(f"quantize rule {pattern!r} matches no layer; layers are: "
                           f"{', '.join(l.name for l in layers)}")
        usable = [l for l in matched if _quantizable(l)]
        if not usable:
            raise BadInput(f"quantize rule {pattern!r} matches only layers without a QKeras twin: "
                           f"{', '.join(f'{l.name} ({type(l).__name__})' for l in matched)}")
        for l in usable:
            assigned.setdefault(l.name, {}).update(rule)
    return {name: {k: canonical(v) for k, v in rule.items() if v is not None}
            for name, rule in assigned.items() if any(v is not None for v in rule.values())}


def _twin(layer, rule):
    """The QKeras layer for float `layer` with the quantizers of `rule`: its get_config() plus the quantizers."""
    config = layer.get_config()
    if isinstance(layer, _ACTIVATION_LAYERS):
        if "activation" not in rule:
            return layer.__class__.from_config(config)
        return qkeras.QActivation(parse_quantizer(rule["activation"]), name=layer.name)
    qclass, keys = _TWINS[type(layer)]
    config.pop("groups", None)  # Conv groups: Q-layers take only the default (1); checked below
    if getattr(layer, "groups", 1) != 1:
        raise BadInput(f"layer {layer.name!r}: grouped convolution (groups={layer.groups}) has no QKeras twin")
    for key, config_key in keys.items():
        if key in rule:
            config[config_key] = parse_quantizer(rule[key])
    if "activation" in rule:
        config["activation"] = parse_quantizer(rule["activation"])
    return qclass(**config)


def quantize_model(model, rules: dict, default=None):
    """The QKeras twin of `model` (clone_model: `qkeras.utils.model_quantize` fails on this stack, SPEC 0) with the
    float weights copied, and the plan: layer name -> {kernel, bias, activation: QKeras string} (for the report).
    Quantization-aware fine-tuning is then `compressor.methods.fit.fit(qmodel, ...)` at a low learning rate."""
    assigned = plan(model, rules, default)

    def clone(layer):
        if layer.name in assigned:
            return _twin(layer, assigned[layer.name])
        return layer.__class__.from_config(layer.get_config())

    qmodel = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in qmodel.layers:
        weights = model.get_layer(layer.name).get_weights()
        if weights:
            layer.set_weights(weights)
    return qmodel, assigned
