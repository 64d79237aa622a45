"""The four FPGA boards load through the target schema with their datasheet resources."""

import pytest

from compressor.targets import FPGA_RESOURCES, load_target


@pytest.mark.parametrize("name, part, dsp, bram18", [
    ("pynq-z2", "xc7z020", 220, 280), ("arty-a7-100t", "xc7a100t", 240, 270),
    ("zcu104", "xczu7ev", 1728, 624), ("alveo-u250", "xcu250", 12288, 5376)])
def test_fpga_targets_load_with_their_resources(name, part, dsp, bram18):
    t = load_target(name)
    assert t.kind == "fpga" and t.part.startswith(part)
    assert t.resources["DSP"] == dsp and t.resources["BRAM_18K"] == bram18
    assert set(t.resources) == set(FPGA_RESOURCES) and t.clock_mhz > 0
    assert t.backend in ("Vivado", "Vitis")


def test_ultrascale_boards_have_uram_and_seven_series_do_not():
    assert load_target("zcu104").resources["URAM"] == 96 and load_target("alveo-u250").resources["URAM"] == 1280
    assert load_target("arty-a7-100t").resources["URAM"] == 0
