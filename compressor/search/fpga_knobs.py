"""The FPGA knobs of a search space, checked and applied to a recipe's own steps (no step is implemented twice):

    kernel        QKeras kernel quantizers of the quantize step's rules
    activation    QKeras activation quantizers of the same rules
    reuse_factor  hls4ml's reuse factor of the export_hls step (1: every product its own multiplier)
    strategy      hls4ml's strategy of the export_hls step: Latency or Resource
    io_type       hls4ml's io_type of the export_hls step: io_parallel or io_stream

`kernel` and `activation` take a list - one value for every rule of the delivered slot's quantize steps that sets
that key, and for its `default` rule - or a mapping layer-name glob -> list, one knob a block: the rule keyed by the
glob gets the value (a glob no rule has becomes a rule of its own, after the others, so it wins where it matches).
A value is a whole number of bits or a QKeras quantizer string passed as it is ("stochastic_ternary",
"quantized_po2(4)" ...):
    kernel b       -> quantized_bits(b,0,1): b bits on (-1, 1), symmetric, as the CAE recipes write their kernels
    activation b   -> quantized_relu(b,2): b bits on [0, 4), the range "adaptive relu" reads (methods/quantize.py)

A block's plan key is "<knob>:<glob>" (one sampler parameter each), a list's the knob's name."""

import copy

from ..errors import BadInput

FPGA_KNOBS = ("kernel", "activation", "reuse_factor", "strategy", "io_type")
SCHEDULE_KNOBS = ("reuse_factor", "strategy", "io_type")     # export_hls parameters of the same names
QUANTIZER_KNOBS = ("kernel", "activation")
STRATEGIES = ("Latency", "Resource")
IO_TYPES = ("io_parallel", "io_stream")
BITS = {"kernel": (2, 16), "activation": (2, 16)}
SEP = ":"


def quantizer_text(knob, value) -> str:
    """The QKeras string a knob's value becomes in a quantize rule."""
    if isinstance(value, str):
        return value
    return f"quantized_bits({value},0,1)" if knob == "kernel" else f"quantized_relu({value},2)"


def check_fpga_knob(knob, values, where, recipe, target_kind) -> dict:
    """{plan key: values} of one FPGA knob of the space, or BadInput naming the field."""
    if target_kind != "fpga":
        raise BadInput(f"{where}: an FPGA knob (QKeras quantizers, hls4ml schedule); the target is an {target_kind}")
    slot = recipe.deliver
    needs = "quantize" if knob in QUANTIZER_KNOBS else "export_hls"
    if not any(s.kind == needs and s.model == slot for s in recipe.steps):
        raise BadInput(f"{where}: the recipe has no {needs} step of '{slot}' for it to change")
    if knob in QUANTIZER_KNOBS and isinstance(values, dict):
        if not values:
            raise BadInput(f"{where}: expected a mapping layer-name glob -> list of values")
        out = {}
        for glob, block_values in values.items():
            if not isinstance(glob, str) or not glob or SEP in glob:
                raise BadInput(f"{where}: {glob!r} is not a layer-name glob")
            out[f"{knob}{SEP}{glob}"] = _values(knob, block_values, f"{where}.{glob}")
        return out
    return {knob: _values(knob, values, where)}


def _values(knob, values, where) -> list:
    if not isinstance(values, list) or not values:
        raise BadInput(f"{where}: expected a non-empty list of values")
    for v in values:
        if not _ok(knob, v):
            raise BadInput(f"{where}: value {v!r} is out of range ({_expected(knob)})")
    return list(values)


def _ok(knob, v) -> bool:
    whole = isinstance(v, int) and not isinstance(v, bool)
    if knob == "reuse_factor":
        return whole and v >= 1
    if knob == "strategy":
        return v in STRATEGIES
    if knob == "io_type":
        return v in IO_TYPES
    if isinstance(v, str):
        from ..methods.quantize import parse_quantizer
        try:
            parse_quantizer(v)
        except BadInput:
            return False
        return True
    low, high = BITS[knob]
    return whole and low <= v <= high


def _expected(knob) -> str:
    if knob == "reuse_factor":
        return "a whole number, at least 1"
    if knob == "strategy":
        return " or ".join(STRATEGIES)
    if knob == "io_type":
        return " or ".join(IO_TYPES)
    low, high = BITS[knob]
    return f"{low}-{high} bits or a QKeras quantizer string"


def apply_fpga(steps, slot, plan) -> list:
    """`steps` (recipe.Step) with the plan's FPGA knobs set in the slot's quantize and export_hls steps."""
    from ..recipe import Step

    out = []
    for s in steps:
        params = s.params
        if s.model == slot and s.kind == "quantize":
            params = _quantize_params(params, plan)
        elif s.model == slot and s.kind == "export_hls":
            params = {**params, **{k: plan[k] for k in SCHEDULE_KNOBS if k in plan}}
        out.append(Step(s.name, s.kind, s.model, s.teacher, params) if params is not s.params else s)
    return out


def _quantize_params(params, plan) -> dict:
    chosen = {k: v for k, v in plan.items() if k.split(SEP, 1)[0] in QUANTIZER_KNOBS}
    if not chosen:
        return params
    params = copy.deepcopy(params)
    rules = params.setdefault("rules", {})
    for key, value in chosen.items():
        knob, _, glob = key.partition(SEP)
        text = quantizer_text(knob, value)
        if glob:
            rules[glob] = {**(rules.get(glob) or {}), knob: text}
            continue
        for rule in [*rules.values(), params.get("default")]:     # every rule already setting the key
            if rule and rule.get(knob) is not None:
                rule[knob] = text
    return params
