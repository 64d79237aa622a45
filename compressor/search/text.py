"""Figures as the search prints them: plain digits, never scientific notation (a flash size reads 26,816, a latency
0.04512, not 2.682e+04 or 4.512e-02)."""

import math


def readable(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return str(value)
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))     # four significant digits
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:,.0f}"
