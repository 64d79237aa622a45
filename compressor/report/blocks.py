"""The small HTML pieces every report.html section is made of: escaping, tolerant readers of record fields (a
malformed field reads as empty), provenance tags, figures, pictures and the section frame."""

from html import escape

from .summary import PROVENANCE_WORDS, figure_parts, format_figure


def _e(value) -> str:
    return escape("" if value is None else str(value))


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _number(value):
    number = figure_parts(value)[0]
    return None if isinstance(number, bool) or not isinstance(number, (int, float)) else number


def tag(provenance, by=None) -> str:
    """A small coloured provenance tag with the method in its tooltip."""
    if not provenance:
        return ""
    kind = provenance if provenance in PROVENANCE_WORDS else "other"
    tip = f"{provenance} by {by}" if by else str(provenance)
    return f'<span class="tag {kind}" title="{_e(tip)}">{_e(provenance)}</span>'


FIGURE_LABELS = {"params": "parameters", "macs": "MACs per inference", "weights_bytes": "weights",
                 "flash_bytes": "flash", "arena_bytes": "RAM (tensor arena)", "latency_s": "latency per inference",
                 "energy_j": "energy per inference", "energy_pj": "energy per inference",
                 "BRAM_18K": "BRAM (18 Kb blocks)", "LUT": "LUTs", "FF": "flip-flops", "DSP": "DSP slices"}


def label(name) -> str:
    """A plain name for a figure key, with the key itself kept in the tooltip (it is what --budget takes)."""
    text = FIGURE_LABELS.get(name, str(name).replace("_", " "))
    return f'<span title="{_e(name)}">{_e(text)}</span>'


def figure_html(value) -> str:
    """A figure's value in units, its provenance tag next to it."""
    _, _, provenance, by = figure_parts(value)
    return f'<span class="num">{_e(format_figure(value))}</span> {tag(provenance, by)}'


def picture(uri, alt) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}">' if uri else ""


def section(title, body, section_id=None, note=None) -> str:
    if not body:
        return ""
    ident = f' id="{_e(section_id)}"' if section_id else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f"<section{ident}><h2>{_e(title)}</h2>{note_html}{body}</section>"
