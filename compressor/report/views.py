"""report.html's family pictures: the sections drawn from record["views"] (weight histograms, spectrograms,
waveforms, confusion matrices, probe accuracy); each is empty when the record has no such view."""

from . import charts
from .blocks import _dict, picture, section


def _view_section(record, view, chart, title, alt, anchor, intro) -> str:
    """One of the record's views drawn by `chart` as a section; nothing when the record has no such view."""
    uri = chart(_dict(_dict(record.get("views")).get(view)))
    return section(title, picture(uri, alt), anchor, intro) if uri else ""


def histograms(record) -> str:
    return _view_section(record, "weight_histograms", charts.weight_histograms, "Weights of the quantized layers",
                         "weight histograms", "weights",
                         "Few distinct values mean the quantizer did its job (ternary layers show three bars).")


def spectrogram_block(record) -> str:
    return _view_section(record, "spectrograms", charts.spectrograms, "Spectrograms", "spectrograms",
                         "spectrograms",
                         "Same colour scale in every panel: the reconstructions should look like the original.")


def waveform_block(record) -> str:
    waves = _dict(_dict(record.get("views")).get("waveforms"))
    uri = charts.waveforms(waves)
    if not uri:
        return ""
    esr_rows = []
    for model in ("teacher", "student"):
        value = charts.esr(waves.get("target"), waves.get(model))
        if value is not None:
            esr_rows.append(f"<tr><th>{model}</th><td class=\"r\">{value:.4f}</td></tr>")
    esr_html = ('<table class="facts"><tr><th>model</th><th>ESR on this excerpt</th></tr>' + "".join(esr_rows)
                + "</table>") if esr_rows else ""
    return section("Waveforms", picture(uri, "waveform overlay") + esr_html, "waveforms",
                   "The emulators' output over the real device's (target). ESR = Σ(y − ŷ)² / Σy², lower is better; "
                   "computed here on the excerpt shown (the test-set ESR is in the step metrics).")


def confusion_block(record) -> str:
    return _view_section(record, "confusion", charts.confusion, "Confusion matrix", "confusion matrices",
                         "confusion", "Rows are the true class, columns the predicted one; a strong diagonal is good.")


def probe_block(record) -> str:
    return _view_section(record, "probe", charts.probe, "Probe accuracy", "probe accuracy before and after", "probe",
                         "A linear probe trained on frozen embeddings: how much of the representation survives "
                         "compression.")
