"""Write a run record as report.json, report.html and summary.md in the output folder, each atomically."""

import json
from pathlib import Path

from .. import atomic
from ..jsonable import plain


def write_json(record: dict, out_dir) -> Path:
    return atomic.write_text(Path(out_dir) / "report.json", json.dumps(record, indent=2, default=plain) + "\n")


def write_reports(record: dict, out_dir) -> dict:
    """Write all three renderings; returns role -> path."""
    from . import html, summary  # renderers import plotting code; only load them when writing

    out_dir = Path(out_dir)
    paths = {"report_json": write_json(record, out_dir),
             "report_html": atomic.write_text(out_dir / "report.html", html.render(record)),
             "summary_md": atomic.write_text(out_dir / "summary.md", summary.render(record))}
    return paths

