"""Every figure the toolkit reports says whether it was measured in this run or estimated, and by what.

A figure is a plain dict so it lands in report.json as is:
    {"value": 68352, "unit": "bytes", "provenance": "measured", "by": "tflite-micro arena (print_allocations)"}
"""

MEASURED = "measured"
ESTIMATED = "estimated"
COUNTED = "counted"  # exact count from the model's structure (parameters, MACs): neither a measurement nor a guess


def figure(value, unit, provenance, by):
    if provenance not in (MEASURED, ESTIMATED, COUNTED):
        raise ValueError(f"unknown provenance {provenance!r}")
    return {"value": value, "unit": unit, "provenance": provenance, "by": by}


def measured(value, unit, by):
    return figure(value, unit, MEASURED, by)


def estimated(value, unit, by):
    return figure(value, unit, ESTIMATED, by)


def counted(value, unit, by):
    return figure(value, unit, COUNTED, by)
