"""Charts for report.html: each function takes plain record data and returns a PNG data URI, or None when the data
is absent or empty. matplotlib's object API (no pyplot) so rendering never touches global state or a display."""

import base64
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
