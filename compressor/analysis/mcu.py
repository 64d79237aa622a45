"""Latency and energy per inference on a microcontroller, estimated from MACs and the target's cycles per MAC.

A first-order model (MACs x cycles per MAC / clock; energy = latency x board power): the cycles per MAC come from
MLPerf Tiny results on the board (see hw_targets/*.yaml), so the estimate inherits their kernel library.
"""

from ..figures import estimated


def _by(target) -> str:
    return (f"{target.name}: MACs x {target.cycles_per_mac[target.kernels]} cycles/MAC ({target.kernels}) "
            f"/ {target.clock_hz / 1e6:g} MHz")


def latency_s(macs: int, target) -> dict:
    return estimated(macs / target.macs_per_second, "s", _by(target))


def energy_j(macs: int, target) -> dict:
    seconds = macs / target.macs_per_second
    return estimated(seconds * target.power_w, "J", f"{_by(target)} x {target.power_w * 1e3:g} mW")
