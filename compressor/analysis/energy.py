"""Per-layer inference energy of a QKeras model by qkeras.qtools (Horowitz 45 nm process, SPEC 6).

QTools' figure compares architectures and quantizations (SPEC 1's "energy" column); it is not a board measurement.
"""

import contextlib
import io

from ..errors import BadInput
from ..figures import estimated

BY = "qkeras.qtools QTools pe() (Horowitz 45 nm, weights and activations in SRAM)"


def qtools_energy(qmodel, *, input_quantizer=None, reference=None, process="horowitz",
                  keras_quantizer="fp32", keras_accumulator="fp32") -> dict:
    """{"layers": [{name, class_name, energy_pj: {inputs, parameters, operations, outputs}}], "total_pj",
    "figure"}; with `reference` (another model), also reference_total_pj and relative (this / reference).

    input_quantizer: how the data enters (QTools needs it); default quantized_bits(8, 0, 1) as in SPEC 1.
    Unquantized layers are costed as keras_quantizer / keras_accumulator (fp32 by default)."""
    from qkeras import quantized_bits
    from qkeras.qtools import run_qtools
    from qkeras.qtools import settings as qtools_settings

    source = input_quantizer if input_quantizer is not None else quantized_bits(8, 0, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            q = run_qtools.QTools(qmodel, process=process, source_quantizers=[source], is_inference=True,
                                  weights_path=None, keras_quantizer=keras_quantizer,
                                  keras_accumulator=keras_accumulator, for_reference=False)
            energy = q.pe(weights_on_memory="sram", activations_on_memory="sram", min_sram_size=8 * 16 * 1024 * 1024,
                          rd_wr_on_io=False)
            # QTools' own rule of which parts of which layer count (e.g. an activation only for its outputs)
            total = q.extract_energy_sum(qtools_settings.cfg.include_energy, energy)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise BadInput(f"model '{qmodel.name}': qkeras.qtools cannot cost it ({type(e).__name__}: {e})") from None
    layers = []
    for name, entry in energy.items():
        if not isinstance(entry, dict) or "energy" not in entry:
            continue
        e = entry["energy"]
        split = {"inputs": e.get("inputs"), "parameters": e.get("parameters"), "operations": e.get("op_cost"),
                 "outputs": e.get("outputs")}
        layers.append({"name": name, "class_name": entry.get("class_name"),
                       "energy_pj": {k: float(v or 0.0) for k, v in split.items()}})
    out = {"layers": layers, "total_pj": float(total), "process": process, "by": BY,
           "figure": estimated(float(total), "pJ", BY)}
    if reference is not None:
        ref = qtools_energy(reference, input_quantizer=input_quantizer, process=process,
                            keras_quantizer=keras_quantizer, keras_accumulator=keras_accumulator)
        out["reference_total_pj"] = ref["total_pj"]
        out["relative"] = float(total) / ref["total_pj"] if ref["total_pj"] else None
        out["relative_figure"] = estimated(out["relative"], "ratio", BY + f", relative to '{reference.name}'")
    return out
