"""Charts for report.html: each function takes plain record data and returns a PNG data URI, or None when the data
is absent or empty. matplotlib's object API (no pyplot) so rendering never touches global state or a display.

The search's Pareto plot (pareto_svg) is inline SVG written here instead: each trial is an element of its own with its
plan in a tooltip and its trial number in an attribute, which a PNG cannot carry; matplotlib still picks its ticks."""

import base64
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator

from .summary import format_value

DPI = 72                  # small PNGs keep the self-contained page light
MAX_SPEC = (64, 128)      # spectrograms are downsampled to at most this many rows x columns
MAX_WAVE_POINTS = 2000    # waveforms are decimated to at most this many points
SPLIT_COLORS = {"inputs": "#4e79a7", "parameters": "#f28e2b", "operations": "#59a14f", "outputs": "#b07aa1"}


def _data_uri(fig) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _numeric(value):
    """A number from a plain number or a figure dict; None otherwise."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _array2d(value):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr if arr.ndim == 2 and arr.size else None


def _downsample(arr, max_shape):
    """Block-average a 2-D array to at most max_shape (rows, cols) so the inlined picture stays small."""
    rows = max(1, math.ceil(arr.shape[0] / max_shape[0]))
    cols = max(1, math.ceil(arr.shape[1] / max_shape[1]))
    h, w = arr.shape[0] // rows * rows, arr.shape[1] // cols * cols
    if h == 0 or w == 0:
        return arr
    return arr[:h, :w].reshape(h // rows, rows, w // cols, cols).mean(axis=(1, 3))


def energy_split(layers):
    """Horizontal stacked bars: each layer's energy split into inputs / parameters / operations (/ outputs), in pJ."""
    rows = [(str(layer.get("name", "?")), layer["energy_pj"]) for layer in layers or []
            if isinstance(layer, dict) and isinstance(layer.get("energy_pj"), dict)]
    parts = [p for p in SPLIT_COLORS if any(_numeric(e.get(p)) for _, e in rows)]
    if not rows or not parts:
        return None
    fig = Figure(figsize=(8, 0.35 * len(rows) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    split = {part: np.array([_numeric(e.get(part)) or 0.0 for _, e in rows]) for part in parts}
    largest = max(sum(split.values()).max(), 1.0)
    scale, unit = next((s, u) for s, u in ((1e6, "µJ"), (1e3, "nJ"), (1, "pJ")) if largest >= s or s == 1)
    left = np.zeros(len(rows))
    for part in parts:
        ax.barh(y, split[part] / scale, left=left, color=SPLIT_COLORS[part], label=part)
        left += split[part] / scale
    ax.set_yticks(y, [name for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"energy per inference ({unit})")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _data_uri(fig)


def step_metrics(steps, max_panels=6):
    """One small bar chart per metric that at least two steps report: how each step moved it (before vs after)."""
    series = {}
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        for key, value in (step.get("metrics") or {}).items():
            number = _numeric(value)
            if number is not None:
                unit = value.get("unit", "") if isinstance(value, dict) else ""
                series.setdefault(key, {"unit": unit, "points": []})["points"].append(
                    (str(step.get("name", "?")), number))
    series = {k: v for k, v in series.items() if len(v["points"]) >= 2}
    if not series:
        return None
    keys = list(series)[:max_panels]
    cols = min(3, len(keys))
    nrows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.6 * nrows))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, cols, i + 1)
        names, values = zip(*series[key]["points"])
        ax.bar(range(len(values)), values, color="#4e79a7")
        ax.set_xticks(range(len(values)), names, rotation=30, ha="right", fontsize=8)
        unit = series[key]["unit"]
        ax.set_title(f"{key} ({unit})" if unit else key, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _data_uri(fig)


def weight_histograms(histograms, max_panels=8):
    """Histogram of each quantized layer's weights (edges + counts as recorded): shows the levels the quantizer left."""
    items = []
    for layer, hist in (histograms or {}).items():
        if not isinstance(hist, dict):
            continue
        edges, counts = np.asarray(hist.get("edges", []), float), np.asarray(hist.get("counts", []), float)
        if counts.ndim == 1 and edges.ndim == 1 and len(edges) == len(counts) + 1 and len(counts):
            items.append((str(layer), edges, counts))
    if not items:
        return None
    items = items[:max_panels]
    cols = min(4, len(items))
    nrows = math.ceil(len(items) / cols)
    fig = Figure(figsize=(2.6 * cols, 2.2 * nrows))
    for i, (layer, edges, counts) in enumerate(items):
        ax = fig.add_subplot(nrows, cols, i + 1)
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#f28e2b", edgecolor="none")
        ax.set_title(layer, fontsize=9)
        ax.set_xlabel("weight value", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _data_uri(fig)


SPECTROGRAM_TITLES = {"original": "original", "float": "float reconstruction",
                      "compressed": "compressed reconstruction", "generated": "generated"}


def spectrograms(specs):
    """Side-by-side spectrogram panels on one colour scale (frequency up, time right)."""
    panels = [(SPECTROGRAM_TITLES.get(k, k), _array2d(v)) for k, v in (specs or {}).items()]
    panels = [(t, _downsample(a, MAX_SPEC)) for t, a in panels if a is not None]
    if not panels:
        return None
    lo = min(float(np.nanmin(a)) for _, a in panels)
    hi = max(float(np.nanmax(a)) for _, a in panels)
    fig = Figure(figsize=(2.8 * len(panels) + 0.6, 2.8))
    axes = [fig.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]
    for ax, (title, arr) in zip(axes, panels):
        image = ax.imshow(arr, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("frame", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("frequency bin", fontsize=8)
    fig.colorbar(image, ax=axes, fraction=0.02, pad=0.02).ax.tick_params(labelsize=7)
    return _data_uri(fig)


WAVE_STYLES = {"input": ("#bbbbbb", 1.0), "target": ("#222222", 1.4), "teacher": ("#4e79a7", 1.0),
               "student": ("#e15759", 1.0)}


def waveforms(waves):
    """Overlay of the dry input, the target (the real device) and the models' outputs over time."""
    waves = waves or {}
    rate = _numeric(waves.get("sample_rate"))
    lines = []
    for key, (color, width) in WAVE_STYLES.items():
        if not isinstance(waves.get(key), (list, tuple)):
            continue
        try:
            signal = np.asarray(waves.get(key), dtype=float).ravel()
        except (TypeError, ValueError):
            continue
        if signal.size > 1:
            lines.append((key, signal, color, width))
    if not lines:
        return None
    fig = Figure(figsize=(8, 2.8))
    ax = fig.add_subplot()
    for key, signal, color, width in lines:
        step = max(1, math.ceil(signal.size / MAX_WAVE_POINTS))
        x = np.arange(0, signal.size, step)
        ax.plot(x / rate * 1000 if rate else x, signal[::step], color=color, lw=width, label=key)
    ax.set_xlabel("time (ms)" if rate else "sample")
    ax.set_ylabel("amplitude")
    ax.legend(loc="upper right", fontsize=8, ncol=len(lines))
    ax.grid(alpha=0.3)
    return _data_uri(fig)


def esr(target, prediction):
    """Error-to-signal ratio sum (y - yhat)^2 / sum y^2 of the excerpt shown (SPEC 3), None if not computable."""
    try:
        y, yhat = np.asarray(target, float).ravel(), np.asarray(prediction, float).ravel()
    except (TypeError, ValueError):
        return None
    if not y.size or y.shape != yhat.shape or not np.any(y):
        return None
    return float(np.sum((y - yhat) ** 2) / np.sum(y ** 2))


def confusion(conf):
    """Confusion matrices (rows true class, columns predicted), one panel per model (float, int8 ...), in counts."""
    conf = conf or {}
    classes = [str(c) for c in conf.get("classes") or []]
    panels = [(k, _array2d(v)) for k, v in conf.items() if k != "classes"]
    panels = [(k, a) for k, a in panels if a is not None and a.shape[0] == a.shape[1]]
    if not panels:
        return None
    n = panels[0][1].shape[0]
    labels = classes if len(classes) == n else [str(i) for i in range(n)]
    size = min(2.2 + 0.32 * n, 7.0)  # many classes (speech: 248) get a fixed size and no per-class labels
    fig = Figure(figsize=(size * len(panels), size))
    for i, (name, matrix) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(matrix, cmap="Blues")
        total = matrix.sum()
        accuracy = np.trace(matrix) / total if total else float("nan")
        ax.set_title(f"{name}: accuracy {accuracy:.1%}", fontsize=9)
        if n <= 30:
            ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=7)
            ax.set_yticks(range(n), labels if i == 0 else [""] * n, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        if i == 0:
            ax.set_ylabel("true", fontsize=8)
        if n <= 12:
            top = matrix.max() or 1
            for r in range(n):
                for c in range(n):
                    ax.text(c, r, f"{matrix[r, c]:g}", ha="center", va="center", fontsize=6,
                            color="white" if matrix[r, c] > top / 2 else "black")
    fig.tight_layout()
    return _data_uri(fig)


def probe(probe_view):
    """Linear-probe accuracy before and after compression: one pair of bars per task (or one pair overall)."""
    probe_view = probe_view or {}
    before, after = probe_view.get("before"), probe_view.get("after")
    if isinstance(before, dict) or isinstance(after, dict):
        tasks = list(dict.fromkeys(list(before or {}) + list(after or {})))
        pairs = [(t, _numeric((before or {}).get(t)), _numeric((after or {}).get(t))) for t in tasks]
    else:
        pairs = [("probe", _numeric(before), _numeric(after))]
    pairs = [p for p in pairs if p[1] is not None or p[2] is not None]
    if not pairs:
        return None
    fig = Figure(figsize=(1.4 * len(pairs) + 2.5, 2.8))
    ax = fig.add_subplot()
    x = np.arange(len(pairs))
    for offset, idx, label, color in ((-0.2, 1, "before", "#4e79a7"), (0.2, 2, "after", "#e15759")):
        vals = [p[idx] if p[idx] is not None else 0.0 for p in pairs]
        bars = ax.bar(x + offset, vals, width=0.4, label=label, color=color)
        ax.bar_label(bars, [f"{v:.1%}" if p[idx] is not None else "" for v, p in zip(vals, pairs)], fontsize=7)
    ax.set_xticks(x, [p[0] for p in pairs], fontsize=8)
    ax.set_ylabel("probe accuracy")
    ax.set_ylim(0, 1.2)
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    return _data_uri(fig)


# --- the search's Pareto plot (inline SVG) ------------------------------------------------------------------------

SVG_SIZE = (720, 400)
SVG_MARGIN = {"left": 86, "right": 26, "top": 40, "bottom": 58}
PARETO_COLORS = {"fits": "#4e79a7", "front": "#1a7f37", "nofit": "#8c959f", "budget": "#cf222e",
                 "delivered": "#bf8700", "ink": "#1f2328", "grid": "#eaeef2"}


def _esc(value) -> str:
    from html import escape
    return escape("" if value is None else str(value))


class _Axis:
    """One axis of the Pareto plot: a domain covering the points and the budget limits near them, logarithmic when
    it spans more than a decade, mapped onto [start, end] pixels."""

    def __init__(self, values, limits, start, end):
        lo, hi = min(values), max(values)
        positive = lo > 0 and all(v > 0 for v in limits)
        # a limit far from every point would squash them into a corner: it is said at the edge instead. Near: within
        # the points' own span of them (in decades when all is positive, and at least one decade)
        if positive:
            reach = max(math.log10(hi / lo), 1.0)
            self.shown = [v for v in limits if math.log10(lo) - reach <= math.log10(v) <= math.log10(hi) + reach]
        else:
            reach = (hi - lo) or abs(hi) * 0.1 or 1.0
            self.shown = [v for v in limits if lo - reach <= v <= hi + reach]
        lo, hi = min([lo, *self.shown]), max([hi, *self.shown])
        self.log = positive and hi / lo >= 10
        f = math.log10 if self.log else (lambda v: v)
        flo, fhi = f(lo), f(hi)
        pad = ((fhi - flo) or abs(fhi) * 0.1 or 1.0) * 0.06
        self.lo, self.hi, self.f, self.start, self.end = flo - pad, fhi + pad, f, start, end

    def __call__(self, value) -> float:
        return self.start + (self.f(value) - self.lo) / (self.hi - self.lo) * (self.end - self.start)

    def inside(self, value) -> bool:
        return value > 0 if self.log else True

    def ticks(self):
        lo, hi = (10 ** self.lo, 10 ** self.hi) if self.log else (self.lo, self.hi)
        locator = LogLocator(base=10, subs=(1.0, 2.0, 5.0)) if self.log else MaxNLocator(nbins=6)
        ticks = [float(t) for t in locator.tick_values(lo, hi) if lo <= t <= hi]
        return ticks[:: max(1, math.ceil(len(ticks) / 8))]


def pareto_svg(points, x_axis, y_axis, limits=(), delivered=None):
    """The search's trials as inline SVG: `points` [{trial, x, y, fits, pareto, tip}] (x the cost, y the metric);
    `x_axis` / `y_axis` {title, unit}; `limits` [{axis: "x" | "y", value, op, text}] drawn as dashed budget lines
    with the side that breaks them shaded; `delivered` the trial number to ring. The Pareto trials are joined by
    their attainment staircase. None when no point has two finite numbers."""
    points = [p for p in points or [] if _numeric(p.get("x")) is not None and _numeric(p.get("y")) is not None]
    if not points:
        return None
    width, height = SVG_SIZE
    m = SVG_MARGIN
    left, right, top, bottom = m["left"], width - m["right"], m["top"], height - m["bottom"]
    limits = [lim for lim in limits or [] if _numeric(lim.get("value")) is not None and lim.get("axis") in "xy"]
    x = _Axis([p["x"] for p in points], [lim["value"] for lim in limits if lim["axis"] == "x"], left, right)
    y = _Axis([p["y"] for p in points], [lim["value"] for lim in limits if lim["axis"] == "y"], bottom, top)
    c = PARETO_COLORS
    out = [f'<svg class="pareto" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'font-family="system-ui, sans-serif" font-size="11">',
           f"<title>{_esc(y_axis.get('title'))} against {_esc(x_axis.get('title'))}, one point per trial</title>",
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="#fff" '
           f'stroke="{c["ink"]}" stroke-width="1"/>']
    for axis, name in ((x, "x"), (y, "y")):
        unit = (x_axis if name == "x" else y_axis).get("unit") or ""
        for t in axis.ticks():
            if not axis.inside(t):
                continue
            p = axis(t)
            text = _esc(format_value(t, unit))
            if name == "x":
                out.append(f'<line x1="{p:.1f}" y1="{top}" x2="{p:.1f}" y2="{bottom}" stroke="{c["grid"]}"/>'
                           f'<text x="{p:.1f}" y="{bottom + 15}" text-anchor="middle">{text}</text>')
            else:
                out.append(f'<line x1="{left}" y1="{p:.1f}" x2="{right}" y2="{p:.1f}" stroke="{c["grid"]}"/>'
                           f'<text x="{left - 6}" y="{p + 4:.1f}" text-anchor="end">{text}</text>')
    out.append(f'<text class="axis" x="{(left + right) / 2:.0f}" y="{height - 12}" text-anchor="middle" '
               f'font-size="12">{_esc(x_axis.get("title"))}{" (log scale)" if x.log else ""}</text>')
    out.append(f'<text class="axis" transform="translate(16 {(top + bottom) / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">{_esc(y_axis.get("title"))}{" (log scale)" if y.log else ""}'
               "</text>")
    out += _budget_lines(limits, x, y, (left, right, top, bottom))
    front = sorted((p for p in points if p.get("pareto")), key=lambda p: (p["x"], p["y"]))
    if len(front) > 1:
        steps = [f"M{x(front[0]['x']):.1f},{y(front[0]['y']):.1f}"]
        for p in front[1:]:
            steps.append(f"H{x(p['x']):.1f}V{y(p['y']):.1f}")
        out.append(f'<path class="front" d="{"".join(steps)}" fill="none" stroke="{c["front"]}" '
                   'stroke-width="2" stroke-linejoin="round"/>')
    labels = {}         # trials on the same spot (same metric and cost) share one label: "1, 5"
    for p in points:
        labels.setdefault((round(x(p["x"])), round(y(p["y"]))), []).append(str(p.get("trial")))
    for p in sorted(points, key=lambda p: bool(p.get("pareto"))):     # the Pareto trials on top
        kind = "pareto" if p.get("pareto") else "fits" if p.get("fits") else "nofit"
        cx, cy = x(p["x"]), y(p["y"])
        fill = "#fff" if kind == "nofit" else c["front" if kind == "pareto" else "fits"]
        stroke = c["nofit"] if kind == "nofit" else "#fff"
        classes = " ".join(["pt", "fits" if p.get("fits") else "nofit"] + (["pareto"] if p.get("pareto") else []))
        out.append(f'<circle class="{classes}" data-trial="{_esc(p.get("trial"))}" cx="{cx:.1f}" cy="{cy:.1f}" '
                   f'r="5.5" fill="{fill}" stroke="{stroke}" stroke-width="{2 if kind == "nofit" else 1}">'
                   f"<title>{_esc(p.get('tip'))}</title></circle>")
        label = labels.pop((round(cx), round(cy)), None)
        if label:
            out.append(f'<text class="ptlabel" x="{cx + 7:.1f}" y="{cy - 6:.1f}" font-size="9" fill="{c["ink"]}">'
                       f"{_esc(', '.join(label))}</text>")
    chosen = next((p for p in points if delivered is not None and p.get("trial") == delivered), None)
    if chosen is not None:
        cx, cy = x(chosen["x"]), y(chosen["y"])
        anchor = "end" if cx > (left + right) / 2 else "start"
        out.append(f'<g class="delivered-mark" data-trial="{_esc(delivered)}"><circle cx="{cx:.1f}" cy="{cy:.1f}" '
                   f'r="11" fill="none" stroke="{c["delivered"]}" stroke-width="3"/>'
                   f'<text x="{cx + (-15 if anchor == "end" else 15):.1f}" y="{cy + 18:.1f}" text-anchor="{anchor}" '
                   f'font-weight="600" fill="{c["delivered"]}">delivered: trial {_esc(delivered)}</text></g>')
    out.append(_pareto_legend(width))
    out.append("</svg>")
    return "".join(out)


def _budget_lines(limits, x, y, box):
    """A dashed line at each limit on the plot, the side that breaks it lightly shaded; a limit too far from the
    points to draw is said in the plot's corner."""
    left, right, top, bottom = box
    color, out, off = PARETO_COLORS["budget"], [], []
    for lim in limits:
        axis = x if lim["axis"] == "x" else y
        value = float(lim["value"])
        attrs = f'class="budget" data-budget="{_esc(lim.get("name"))}" data-axis="{lim["axis"]}"'
        if value not in axis.shown or not axis.inside(value):
            off.append(lim)
            continue
        p = axis(value)
        floor = lim.get("op") == ">="
        if lim["axis"] == "x":     # a ceiling on the cost breaks to the right of it, a floor to the left
            x0, x1 = (left, p) if floor else (p, right)
            out.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(0.0, x1 - x0):.1f}" height="{bottom - top}" '
                       f'fill="{color}" fill-opacity="0.06"/>'
                       f'<line {attrs} x1="{p:.1f}" y1="{top}" x2="{p:.1f}" y2="{bottom}" stroke="{color}" '
                       'stroke-width="1.5" stroke-dasharray="6 4"/>'
                       f'<text transform="translate({p + (-5 if floor else 5):.1f} {top + 6}) rotate(90)" '
                       f'text-anchor="start" dominant-baseline="{"hanging" if floor else "auto"}" fill="{color}">'
                       f"{_esc(lim.get('text'))}</text>")
        else:                      # a floor on the metric breaks below it (pixels grow downwards), a ceiling above
            y0, y1 = (p, bottom) if floor else (top, p)
            out.append(f'<rect x="{left}" y="{y0:.1f}" width="{right - left}" height="{max(0.0, y1 - y0):.1f}" '
                       f'fill="{color}" fill-opacity="0.06"/>'
                       f'<line {attrs} x1="{left}" y1="{p:.1f}" x2="{right}" y2="{p:.1f}" stroke="{color}" '
                       'stroke-width="1.5" stroke-dasharray="6 4"/>'
                       f'<text x="{right - 4}" y="{p - 4:.1f}" text-anchor="end" fill="{color}">'
                       f"{_esc(lim.get('text'))}</text>")
    for i, lim in enumerate(off):
        out.append(f'<text class="budget-off" data-budget="{_esc(lim.get("name"))}" x="{right - 4}" '
                   f'y="{bottom - 8 - 14 * i}" text-anchor="end" fill="{color}">{_esc(lim.get("text"))}: '
                   "off this chart, no trial near it</text>")
    return out


def _pareto_legend(width):
    c = PARETO_COLORS
    items = [(f'<circle cx="6" cy="-4" r="5" fill="{c["fits"]}"/>', "fits every budget"),
             (f'<circle cx="6" cy="-4" r="5" fill="#fff" stroke="{c["nofit"]}" stroke-width="2"/>',
              "a budget or check fails"),
             (f'<line x1="0" y1="-4" x2="14" y2="-4" stroke="{c["front"]}" stroke-width="2"/>'
              f'<circle cx="7" cy="-4" r="4" fill="{c["front"]}"/>', "Pareto set"),
             (f'<circle cx="7" cy="-4" r="7" fill="none" stroke="{c["delivered"]}" stroke-width="3"/>', "delivered"),
             (f'<line x1="0" y1="-4" x2="16" y2="-4" stroke="{c["budget"]}" stroke-dasharray="4 3" '
              'stroke-width="1.5"/>', "budget")]
    parts, at = [], SVG_MARGIN["left"]
    for mark, text in items:        # SVG has no text metrics: a slot by the label's length (11 px: ~6.3 px a letter)
        parts.append(f'<g transform="translate({at:.0f} 20)">{mark}<text x="20" y="0">{text}</text></g>')
        at += 20 + 6.3 * len(text) + 18
    return '<g class="legend">' + "".join(parts) + "</g>"
