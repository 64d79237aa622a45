"""Hardware targets as data: `hw_targets/<name>.yaml`, one board each, validated here."""

from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .schema import Fields, load_yaml

TARGETS_DIR = Path(__file__).resolve().parent.parent / "hw_targets"
FPGA_RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
# kernel libraries the MCU cost model is calibrated for (analysis/mcu.py, data/mcu_cost.json)
KERNEL_LIBRARIES = ("tflm_cmsis_nn", "x_cube_ai", "plumerai")


@dataclass(frozen=True)
class McuTarget:
    name: str
    description: str
    clock_hz: float
    sram_bytes: int
    flash_bytes: int
    core: str                   # the Arm core the cost model's calibrations are keyed by, e.g. "cortex-m4"
    kernels: str                # default kernel library of the latency model (one of KERNEL_LIBRARIES)
    power_w: float              # board power while running inference, where the calibration measured none
    budgets: dict = field(default_factory=dict)   # optional extra limits, e.g. {"latency_s": 0.1}
    kind: str = field(default="mcu", init=False)


@dataclass(frozen=True)
class FpgaTarget:
    name: str
    description: str
    part: str
    clock_mhz: float
    resources: dict             # LUT, FF, DSP, BRAM_18K, URAM available on the part
    backend: str                # hls4ml backend: Vivado or Vitis
    static_power_w: float | None = None
    budgets: dict = field(default_factory=dict)
    kind: str = field(default="fpga", init=False)


def target_names() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))


def load_target(name_or_path):
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = TARGETS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise BadInput(f"unknown target '{name_or_path}' (known: {', '.join(target_names())})")
    f = Fields(load_yaml(path), str(path))
    kind = f.get("kind", str, choices=("mcu", "fpga"))
    budgets = f.get("budgets", dict, default={})
    for k, v in budgets.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise BadInput(f"{path}: field 'budgets.{k}': must be a positive number, got {v!r}")
    common = dict(name=f.get("name", str), description=f.get("description", str), budgets=dict(budgets))
    if kind == "mcu":
        target = McuTarget(**common, clock_hz=f.get("clock_hz", (int, float), positive=True),
                           sram_bytes=f.get("sram_bytes", int, positive=True),
                           flash_bytes=f.get("flash_bytes", int, positive=True),
                           core=f.get("core", str, choices=("cortex-m4", "cortex-m7", "cortex-m33")),
                           kernels=f.get("kernels", str, choices=KERNEL_LIBRARIES),
                           power_w=f.get("power_w", float, positive=True))
    else:
        res = f.sub("resources")
        resources = {r: res.get(r, int) for r in FPGA_RESOURCES}
        res.done()
        target = FpgaTarget(**common, part=f.get("part", str), clock_mhz=f.get("clock_mhz", float, positive=True),
                            resources=resources, backend=f.get("backend", str, choices=("Vivado", "Vitis")),
                            static_power_w=f.get("static_power_w", float, default=None))
    f.done()
    return target
