"""The reports of a run, rendered from its record only (never a figure of their own): report.json (write.py),
report.html (html.py, with blocks, views, charts and templates) and summary.md (summary.py)."""
