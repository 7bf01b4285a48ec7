"""The demo fab's three products and their test programs.

Each product is a die (size, process, probe card and handler) and a test program: tests in
execution order with limits, units and the bins a failure lands in. A test's value is a
function of the die's latent process parameters (:data:`LATENT`), so tests sharing a
parameter are correlated as on real silicon: a slow die (long channel, high Vth) draws less
current, oscillates slower and has longer propagation delays.

=============  ==============================  ====================================================
``SLC-TV100``  TV display (source) driver      110 nm HV CMOS, 7.0 x 5.0 mm, 8-site probe, 8-site FT
``SLC-MC200``  appliance motor controller      180 nm CMOS, 5.0 x 5.0 mm, 4-site probe, 4-site FT
``SLC-PM300A`` automotive PMIC, AEC-Q100 G1    180 nm BCD, 6.5 x 6.0 mm, 4-site probe, 4-site FT hot
=============  ==============================  ====================================================

Die sizes are realistic for the functions but on the large side, so a 200 mm wafer holds
500-1100 dies and a demo lot stays a few megabytes per wafer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LATENT", "PRODUCTS", "Product", "Test", "product"]

#: Latent process parameters of a die, in standard deviations of the process window:
#: threshold voltage, effective channel length, sheet / contact resistance, junction leakage.
LATENT = ("vth", "leff", "rs", "leak")

PASS_BIN = 1
#: Hard bins, shared by the three products: number -> name.
HARD_BINS = {
    1: "PASS",
    2: "OPEN_SHORT",
    3: "SUPPLY_CURRENT",
    4: "LEAKAGE",
    5: "ANALOG",
    6: "POWER_STAGE",
    7: "TIMING_CLOCK",
    8: "FUNCTIONAL",
}


@dataclass(frozen=True)
class Test:
    """One test of a program.

    ``kind`` "linear": value = typical + sigma * z; "log": value = typical * exp(sigma * z)
    (currents that spread log-normally: IDDQ); "functional": an FTR, pass or fail. ``z`` is
    the die's ``loadings`` . latent parameters plus independent noise. ``radial`` is the
    shift, in sigmas, of a die at the wafer edge against one at the centre (grows as r^2).
    Limits are None where the test has none. A low fail lands in ``low_bin`` when given
    (continuity: open below, short above).
    """

    number: int
    name: str
    units: str
    scale: int  # RES_SCAL / LLM_SCAL / HLM_SCAL: 3 shows milli, 6 micro, 9 nano
    kind: str
    typical: float
    sigma: float
    low: float | None
    high: float | None
    loadings: tuple[float, float, float, float]
    radial: float
    soft_bin: int
    soft_bin_name: str
    hard_bin: int
    low_bin: tuple[int, str] | None = None
    final_test: bool = True
    ft_shift: float = 0.0  # shift at final test (temperature, package), in sigmas
    pat_candidate: bool = False  # spec limits far from the population: outliers pass spec
    group: str = ""

    @property
    def functional(self) -> bool:
        return self.kind == "functional"


@dataclass(frozen=True)
class Product:
    part_type: str
    description: str
    family: str
    process: str
    package: str
    die_width: float  # mm
    die_height: float
    scribe: float  # mm
    probe_sites: tuple[int, int]  # probe card layout: columns x rows of dies touched at once
    ft_sites: int
    tester: str
    tester_exec: str
    exec_version: str
    ws_temperature: str
    ft_temperature: str
    program: str
    revision: str
    touchdown_seconds: float
    ft_seconds: float
    d0: float  # random killer defect density, per cm^2
    tests: tuple[Test, ...]
    excursion_group: str  # test group shifted in the excursion lot
    excursion_sigmas: float
    probe_card: str
    prober: str
    handler: str
    bad_site: int | None = None  # probe card site with a worn needle: more opens
    hard_bins: dict[int, str] = field(default_factory=lambda: dict(HARD_BINS))

    @property
    def probe_site_count(self) -> int:
        return self.probe_sites[0] * self.probe_sites[1]

    @property
    def soft_bins(self) -> dict[int, str]:
        names = {PASS_BIN: "PASS"}
        for t in self.tests:
            names[t.soft_bin] = t.soft_bin_name
            if t.low_bin:
                names[t.low_bin[0]] = t.low_bin[1]
        return dict(sorted(names.items()))

    @property
    def soft_to_hard(self) -> dict[int, int]:
        mapping = {PASS_BIN: PASS_BIN}
        for t in self.tests:
            mapping[t.soft_bin] = t.hard_bin
            if t.low_bin:
                mapping[t.low_bin[0]] = t.hard_bin
        return mapping

    def group(self, name: str) -> tuple[Test, ...]:
        return tuple(t for t in self.tests if t.group == name)


class _Program:
    """Collects tests block by block; numbers run from a block's base in steps of 1."""

    def __init__(self) -> None:
        self.tests: list[Test] = []

    def block(
        self,
        base: int,
        names: list[str],
        units: str,
        scale: int,
        typical: float | list[float],
        sigma: float | list[float],
        low: float | list[float] | None,
        high: float | list[float] | None,
        *,
        loadings: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        radial: float = 0.0,
        kind: str = "linear",
        bin: tuple[int, str, int],
        low_bin: tuple[int, str] | None = None,
        ft_every: int = 1,
        ft_shift: float = 0.0,
        pat_candidate: bool = False,
        group: str = "",
    ) -> None:
        soft, soft_name, hard = bin
        for i, name in enumerate(names):

            def pick(v, i=i):
                return v[i] if isinstance(v, list) else v

            self.tests.append(
                Test(
                    number=base + i,
                    name=name,
                    units=units,
                    scale=scale,
                    kind=kind,
                    typical=pick(typical),
                    sigma=pick(sigma),
                    low=pick(low),
                    high=pick(high),
                    loadings=loadings,
                    radial=radial,
                    soft_bin=soft,
                    soft_bin_name=soft_name,
                    hard_bin=hard,
                    low_bin=low_bin,
                    final_test=ft_every > 0 and i % ft_every == 0,
                    ft_shift=ft_shift,
                    pat_candidate=pat_candidate,
                    group=group or soft_name,
                )
            )

    def continuity(self, base: int, pins: list[str]) -> None:
        # Forced -100 uA through each pin's ESD diode: an open reads at the clamp, a short near 0 V.
        self.block(base, [f"CONT_{p}" for p in pins], "V", 3, -0.62, 0.018, -0.9, -0.35,
                   loadings=(0.25, 0.0, 0.2, 0.0), bin=(11, "CONT_SHORT", 2), low_bin=(10, "CONT_OPEN"),
                   group="CONTINUITY")  # fmt: skip

    def leakage(self, base: int, pins: list[str], soft: int = 30) -> None:
        # Datasheet limits of +-1 uA against a spread of a few nA: a die at 100 nA passes the
        # specification and is exactly what PAT is for. IIL is negative: leakage makes it more so.
        for i, pin in enumerate(pins):
            for j, (kind, sign) in enumerate((("IIH", 1.0), ("IIL", -1.0))):
                self.block(base + 2 * i + j, [f"{kind}_{pin}"], "A", 9, sign * 1.5e-9, 2.5e-9, -1e-6, 1e-6,
                           loadings=(-0.2 * sign, 0.0, 0.0, 0.6 * sign), radial=0.8 * sign,
                           bin=(soft, "LEAKAGE", 4), pat_candidate=True, group="LEAKAGE")  # fmt: skip

    def functional(self, base: int, names: list[str], soft: int, soft_name: str) -> None:
        self.block(base, names, "", 0, 0.0, 1.0, None, None, kind="functional",
                   bin=(soft, soft_name, 8), group="FUNCTIONAL")  # fmt: skip


def _tv100() -> Product:
    p = _Program()
    p.continuity(1000, ["VDD", "VDDA", "HVDD", "VSS", "RX0P", "RX0N", "RX1P", "RX1N", "STB", "POL"])
    p.block(
        2000,
        ["IDDQ_VDD", "IDDQ_VDDA", "IDDQ_HVDD", "IDDQ_STBY"],
        "A",
        6,
        2.0e-6,
        0.32,
        None,
        18e-6,
        kind="log",
        loadings=(-0.35, 0.0, 0.0, 0.75),
        radial=0.6,
        bin=(20, "IDDQ", 3),
    )
    p.block(
        2010,
        ["IDD_ACT_VDD", "IDD_ACT_VDDA", "IDD_ACT_HVDD", "IDD_DISP_VDD"],
        "A",
        3,
        [45e-3, 12e-3, 28e-3, 61e-3],
        [1.2e-3, 0.6e-3, 0.9e-3, 1.3e-3],
        [38e-3, 8e-3, 22e-3, 54e-3],
        [52e-3, 16e-3, 34e-3, 68e-3],
        loadings=(-0.5, -0.5, 0.0, 0.1),
        radial=-0.5,
        bin=(21, "IDD_ACTIVE", 3),
    )
    p.leakage(2100, ["STB", "POL", "CLK", "DIO"])
    gamma = [round(15.0 - 1.4 * i, 3) for i in range(10)]
    p.block(
        3000,
        [f"VGMA_{i:02d}" for i in range(1, 11)],
        "V",
        3,
        gamma,
        0.005,
        [g - 0.04 for g in gamma],
        [g + 0.04 for g in gamma],
        loadings=(0.3, 0.0, 0.55, 0.0),
        radial=-0.9,
        bin=(40, "GAMMA_REF", 5),
        group="GAMMA",
    )
    p.block(
        3100,
        [f"VOD_CH{c:03d}" for c in range(1, 65)],
        "V",
        3,
        0.0,
        0.0032,
        -0.02,
        0.02,
        loadings=(0.35, 0.0, 0.15, 0.0),
        radial=0.3,
        bin=(41, "OUTPUT_DEVIATION", 5),
        ft_every=8,
        group="OUTPUT",
    )
    p.block(
        3200,
        ["VOH_HV", "VOL_HV", "VOH_LV", "VOL_LV"],
        "V",
        3,
        [17.85, 0.15, 3.25, 0.05],
        0.012,
        [17.75, 0.0, 3.15, 0.0],
        [18.0, 0.25, 3.35, 0.12],
        loadings=(-0.3, 0.0, 0.4, 0.0),
        bin=(42, "OUTPUT_SWING", 5),
    )
    p.block(
        4000,
        [f"LVDS_VTH_RX{i}" for i in range(6)],
        "V",
        3,
        0.01,
        0.008,
        -0.05,
        0.05,
        loadings=(0.2, 0.0, 0.0, 0.0),
        bin=(50, "INTERFACE", 6),
    )
    p.block(
        5000,
        ["OSC_FREQ"],
        "Hz",
        6,
        36e6,
        0.55e6,
        33e6,
        39e6,
        loadings=(-0.45, -0.7, 0.0, 0.0),
        radial=-1.0,
        bin=(60, "OSCILLATOR", 7),
    )
    p.block(
        5010,
        ["TPD_CLK_DIO", "TPD_STB_OUT", "TSU_DIO", "TH_DIO"],
        "s",
        9,
        [12e-9, 18e-9, 2.5e-9, 1.5e-9],
        [0.45e-9, 0.5e-9, 0.35e-9, 0.25e-9],
        [8e-9, 14e-9, 0.5e-9, 0.2e-9],
        [16e-9, 22e-9, 4.5e-9, 3.0e-9],
        loadings=(0.45, 0.7, 0.0, 0.0),
        radial=1.0,
        bin=(61, "TIMING", 7),
    )
    p.functional(
        6000, ["FUNC_REG_RW", "FUNC_LINE_LATCH", "FUNC_SCAN_CHAIN", "FUNC_TEST_PATTERN"], 70, "FUNCTIONAL"
    )
    return Product(
        part_type="SLC-TV100", description="TV display source driver, 64 channels, mini-LVDS", family="TV100",
        process="HV110-CMOS", package="COF", die_width=7.0, die_height=5.0, scribe=0.08, probe_sites=(4, 2),
        ft_sites=8, tester="93000", tester_exec="SmarTest", exec_version="8.4.2", ws_temperature="25",
        ft_temperature="25", program="TV100_PROD", revision="C.03", touchdown_seconds=1.1, ft_seconds=0.9,
        d0=0.14, tests=tuple(p.tests), excursion_group="GAMMA", excursion_sigmas=3.0,
        probe_card="PC-TV100-8S", prober="TEL P-12XLn", handler="Cohu MATRIX",
    )  # fmt: skip


def _mc200() -> Product:
    p = _Program()
    p.continuity(1000, ["VM", "VCC", "GND", "GHA", "GHB", "GHC", "SH_A", "PWM"])
    p.block(
        2000,
        ["IDDQ_VCC", "IDDQ_VM", "IDDQ_VREG"],
        "A",
        6,
        1.2e-6,
        0.3,
        None,
        10e-6,
        kind="log",
        loadings=(-0.35, 0.0, 0.0, 0.75),
        radial=0.6,
        bin=(20, "IDDQ", 3),
    )
    p.block(
        2010,
        ["IDD_RUN", "IDD_SLEEP", "IDD_GATE"],
        "A",
        3,
        [8.5e-3, 0.9e-3, 14e-3],
        [0.3e-3, 0.1e-3, 0.35e-3],
        [7.0e-3, 0.3e-3, 12.5e-3],
        [10.0e-3, 1.5e-3, 15.5e-3],
        loadings=(-0.5, -0.5, 0.0, 0.1),
        radial=-0.4,
        bin=(21, "IDD_ACTIVE", 3),
    )
    p.leakage(2100, ["PWM_IN", "FAULTN", "EN"])
    legs = ["HS_A", "LS_A", "HS_B", "LS_B", "HS_C", "LS_C"]
    p.block(
        3000,
        [f"ISRC_{g}" for g in legs],
        "A",
        3,
        0.25,
        0.007,
        0.20,
        0.30,
        loadings=(-0.45, -0.55, 0.0, 0.0),
        radial=-0.6,
        bin=(45, "GATE_DRIVE", 6),
        group="GATE_DRIVE",
    )
    p.block(
        3010,
        [f"ISNK_{g}" for g in legs],
        "A",
        3,
        0.5,
        0.012,
        0.42,
        0.58,
        loadings=(-0.45, -0.55, 0.0, 0.0),
        radial=-0.6,
        bin=(45, "GATE_DRIVE", 6),
        group="GATE_DRIVE",
    )
    p.block(
        3020,
        [f"RDSON_PD_{g}" for g in legs],
        "Ohm",
        0,
        4.2,
        0.09,
        3.6,
        4.8,
        loadings=(0.4, 0.3, 0.45, 0.0),
        radial=0.5,
        bin=(46, "PULLDOWN", 6),
    )
    p.block(
        3100,
        [f"CSA_GAIN_{ph}" for ph in "ABC"],
        "",
        0,
        20.0,
        0.05,
        19.6,
        20.4,
        loadings=(0.0, 0.0, 0.5, 0.0),
        bin=(47, "CURRENT_SENSE", 5),
    )
    p.block(
        3110,
        [f"CSA_OFFSET_{ph}" for ph in "ABC"],
        "V",
        3,
        0.0,
        0.4e-3,
        -3e-3,
        3e-3,
        loadings=(0.3, 0.0, 0.0, 0.0),
        bin=(47, "CURRENT_SENSE", 5),
    )
    p.block(
        3200,
        ["ADC_OFFSET", "ADC_GAIN_ERR", "ADC_INL", "ADC_DNL"],
        "LSB",
        0,
        [0.3, 0.0, 0.6, 0.25],
        0.15,
        [-2.0, -2.0, -1.5, -0.9],
        [2.0, 2.0, 1.5, 0.9],
        loadings=(0.2, 0.0, 0.2, 0.0),
        bin=(48, "ADC", 5),
    )
    p.block(
        3210,
        [f"ADC_CH{c}_ERR" for c in range(8)],
        "LSB",
        0,
        0.0,
        0.3,
        -3.0,
        3.0,
        loadings=(0.2, 0.0, 0.2, 0.0),
        bin=(48, "ADC", 5),
        ft_every=4,
    )
    p.block(
        3300,
        ["OCP_THR_A", "OCP_THR_B", "OCP_THR_C", "UVLO_RISE", "UVLO_FALL", "OVP_THR"],
        "V",
        3,
        [0.5, 0.5, 0.5, 8.2, 7.6, 28.5],
        [0.006, 0.006, 0.006, 0.05, 0.05, 0.12],
        [0.46, 0.46, 0.46, 7.9, 7.3, 27.8],
        [0.54, 0.54, 0.54, 8.5, 7.9, 29.2],
        loadings=(0.25, 0.0, 0.45, 0.0),
        radial=-0.5,
        bin=(49, "PROTECTION", 5),
    )
    p.block(
        3400,
        ["VREF_1V2", "VREG_5V", "VDD_3V3", "VDD_1V8"],
        "V",
        3,
        [1.2, 5.0, 3.3, 1.8],
        [0.003, 0.02, 0.01, 0.006],
        [1.185, 4.9, 3.25, 1.77],
        [1.215, 5.1, 3.35, 1.83],
        loadings=(0.3, 0.0, 0.5, 0.0),
        radial=-0.8,
        bin=(40, "REFERENCE", 5),
        group="REFERENCE",
    )
    p.block(
        3500,
        ["VF_BOOT_A", "VF_BOOT_B", "VF_BOOT_C"],
        "V",
        3,
        0.72,
        0.012,
        0.6,
        0.85,
        loadings=(0.2, 0.0, 0.35, 0.0),
        bin=(46, "PULLDOWN", 6),
    )
    p.block(
        5000,
        ["OSC_FREQ", "PWM_FREQ"],
        "Hz",
        6,
        [16e6, 20e3],
        [0.2e6, 0.2e3],
        [15e6, 19e3],
        [17e6, 21e3],
        loadings=(-0.45, -0.7, 0.0, 0.0),
        radial=-1.0,
        bin=(60, "OSCILLATOR", 7),
    )
    p.block(
        5010,
        ["T_DEADTIME", "TPD_HS", "TPD_LS"],
        "s",
        9,
        [250e-9, 60e-9, 55e-9],
        4e-9,
        [220e-9, 40e-9, 35e-9],
        [280e-9, 80e-9, 75e-9],
        loadings=(0.45, 0.7, 0.0, 0.0),
        radial=1.0,
        bin=(61, "TIMING", 7),
    )
    p.functional(6000, ["FUNC_SPI", "FUNC_SCAN", "FUNC_FSM", "FUNC_FAULT_LOGIC"], 70, "FUNCTIONAL")
    return Product(
        part_type="SLC-MC200", description="Three-phase BLDC gate driver with current sense, for appliances",
        family="MC200", process="CMOS180", package="QFN40", die_width=5.0, die_height=5.0, scribe=0.08,
        probe_sites=(2, 2), ft_sites=4, tester="J750", tester_exec="IG-XL", exec_version="3.60.12",
        ws_temperature="25", ft_temperature="25", program="MC200_PROD", revision="B.11", touchdown_seconds=0.7,
        ft_seconds=0.6, d0=0.12, tests=tuple(p.tests), excursion_group="GATE_DRIVE", excursion_sigmas=-3.0,
        probe_card="PC-MC200-4S", prober="Accretech UF3000EX", handler="Seiko Epson NS-8160", bad_site=3,
    )  # fmt: skip


def _pm300a() -> Product:
    p = _Program()
    pins = ["VBAT", "VIN1", "VIN2", "VIN3", "VIN4", "SW1", "SW2", "SW3", "SW4", "FB1", "FB2", "FB3", "FB4",
            "LDO1", "LDO2", "LDO3", "LDO4", "LDO5", "LDO6", "PGND", "AGND", "NRST", "WDI", "SDA"]  # fmt: skip
    p.continuity(1000, pins)
    p.block(
        2000,
        [f"IDDQ_{r}" for r in ("VBAT", "VIN1", "VIN2", "VIN3", "VIN4", "VDDIO")],
        "A",
        6,
        1.5e-6,
        0.3,
        None,
        12e-6,
        kind="log",
        loadings=(-0.35, 0.0, 0.0, 0.75),
        radial=0.6,
        bin=(20, "IDDQ", 3),
        ft_shift=2.0,
    )
    p.block(
        2010,
        ["IQ_SLEEP", "IQ_STANDBY", "IQ_ACTIVE", "IQ_LDO_ONLY"],
        "A",
        6,
        [12e-6, 45e-6, 950e-6, 180e-6],
        [0.6e-6, 1.5e-6, 14e-6, 4e-6],
        [8e-6, 38e-6, 880e-6, 160e-6],
        [16e-6, 52e-6, 1020e-6, 200e-6],
        loadings=(-0.5, -0.5, 0.0, 0.2),
        radial=-0.4,
        bin=(21, "QUIESCENT", 3),
    )
    p.leakage(2100, ["EN1", "EN2", "EN3", "EN4", "NRST", "WDI", "SDA", "SCL", "INTN", "PGOOD"])
    p.block(
        2200,
        ["VBG", "VBG_TRIMMED", "IREF"],
        "V",
        3,
        [1.21, 1.2, 1.0],
        [0.002, 0.001, 0.0025],
        [1.19, 1.194, 0.985],
        [1.23, 1.206, 1.015],
        loadings=(0.3, 0.0, 0.4, 0.0),
        radial=-0.6,
        bin=(40, "REFERENCE", 5),
    )
    # Four bucks: output at three loads, regulation, switches, current limit, switching, protection.
    vout = {1: 3.3, 2: 1.8, 3: 1.2, 4: 5.0}
    for b, v in vout.items():
        base = 3000 + 100 * (b - 1)
        p.block(
            base,
            [f"BUCK{b}_VOUT_{load}" for load in ("10MA", "500MA", "2A")],
            "V",
            3,
            [v * 1.002, v, v * 0.997],
            v * 0.0018,
            v * 0.97,
            v * 1.03,
            loadings=(0.3, 0.0, 0.45, 0.0),
            radial=-0.7,
            bin=(50 + b, f"BUCK{b}_VOUT", 5),
            group="BUCK_VOUT",
        )
        p.block(
            base + 10,
            [f"BUCK{b}_LOAD_REG", f"BUCK{b}_LINE_REG"],
            "%",
            0,
            [0.3, 0.05],
            0.04,
            [-1.0, -0.5],
            [1.0, 0.5],
            loadings=(0.0, 0.0, 0.5, 0.0),
            bin=(50 + b, f"BUCK{b}_VOUT", 5),
            ft_every=0,
        )
        p.block(
            base + 20,
            [f"BUCK{b}_RDSON_HS", f"BUCK{b}_RDSON_LS"],
            "Ohm",
            3,
            [0.085, 0.06],
            0.0022,
            [0.06, 0.04],
            [0.11, 0.08],
            loadings=(0.4, 0.3, 0.5, 0.0),
            radial=0.5,
            bin=(55, "POWER_SWITCH", 6),
            ft_shift=1.5,
        )
        p.block(
            base + 30,
            [f"BUCK{b}_ILIM"],
            "A",
            3,
            3.2,
            0.06,
            2.8,
            3.6,
            loadings=(-0.3, -0.4, 0.2, 0.0),
            bin=(55, "POWER_SWITCH", 6),
        )
        p.block(
            base + 31,
            [f"BUCK{b}_FSW"],
            "Hz",
            6,
            2.2e6,
            25e3,
            2.05e6,
            2.35e6,
            loadings=(-0.45, -0.7, 0.0, 0.0),
            radial=-0.8,
            bin=(60, "OSCILLATOR", 7),
        )
        p.block(
            base + 32,
            [f"BUCK{b}_SS_TIME", f"BUCK{b}_PG_DELAY"],
            "s",
            6,
            [1.0e-3, 0.5e-3],
            [15e-6, 8e-6],
            [0.85e-3, 0.4e-3],
            [1.15e-3, 0.6e-3],
            loadings=(0.45, 0.6, 0.0, 0.0),
            radial=0.6,
            bin=(61, "TIMING", 7),
            ft_every=0,
        )
        p.block(
            base + 34,
            [f"BUCK{b}_OVP", f"BUCK{b}_UVP"],
            "V",
            3,
            [v * 1.1, v * 0.9],
            v * 0.003,
            [v * 1.07, v * 0.87],
            [v * 1.13, v * 0.93],
            loadings=(0.3, 0.0, 0.45, 0.0),
            bin=(50 + b, f"BUCK{b}_VOUT", 5),
            ft_every=2,
        )
        p.block(
            base + 36,
            [f"BUCK{b}_IQ"],
            "A",
            6,
            55e-6,
            2.0e-6,
            40e-6,
            70e-6,
            loadings=(-0.5, -0.5, 0.0, 0.2),
            bin=(21, "QUIESCENT", 3),
        )
    for ldo in range(1, 7):
        base = 3500 + 10 * (ldo - 1)
        v = [3.3, 2.5, 1.8, 1.2, 5.0, 0.9][ldo - 1]
        p.block(
            base,
            [f"LDO{ldo}_VOUT", f"LDO{ldo}_DROPOUT", f"LDO{ldo}_EN_THR"],
            "V",
            3,
            [v, 0.18, 0.9],
            [v * 0.002, 0.012, 0.008],
            [v * 0.98, 0.1, 0.8],
            [v * 1.02, 0.28, 1.0],
            loadings=(0.3, 0.0, 0.45, 0.0),
            radial=-0.6,
            bin=(58, "LDO", 5),
        )
        p.block(
            base + 3,
            [f"LDO{ldo}_LOAD_REG", f"LDO{ldo}_LINE_REG"],
            "%",
            0,
            [0.25, 0.05],
            [0.04, 0.01],
            [-1.0, -0.2],
            [1.0, 0.2],
            loadings=(0.0, 0.0, 0.5, 0.0),
            bin=(58, "LDO", 5),
            ft_every=0,
        )
        p.block(
            base + 5,
            [f"LDO{ldo}_ILIM"],
            "A",
            3,
            0.42,
            0.012,
            0.36,
            0.5,
            loadings=(-0.3, -0.4, 0.2, 0.0),
            bin=(58, "LDO", 5),
        )
        p.block(
            base + 6,
            [f"LDO{ldo}_RDIS"],
            "Ohm",
            0,
            85.0,
            2.5,
            60.0,
            110.0,
            loadings=(0.2, 0.0, 0.6, 0.0),
            radial=0.5,
            bin=(58, "LDO", 5),
            ft_every=0,
        )
    rails = ["VBAT", "BUCK1", "BUCK2", "BUCK3", "BUCK4", "LDO1", "LDO2", "LDO3", "LDO4", "LDO5"]
    p.block(4000, [f"{kind}_{r}" for r in rails for kind in ("UV_THR", "OV_THR")], "%", 0,
            [-6.0 if i % 2 == 0 else 6.0 for i in range(20)], 0.25, [-8.0 if i % 2 == 0 else 4.0 for i in range(20)],
            [-4.0 if i % 2 == 0 else 8.0 for i in range(20)], loadings=(0.25, 0.0, 0.4, 0.0),
            bin=(59, "SUPERVISOR", 5), ft_every=2)  # fmt: skip
    p.block(4100, ["T_RST_DELAY", "T_WDT_OPEN", "T_WDT_CLOSE", "T_WDT_TIMEOUT", "T_DEGLITCH_UV", "T_DEGLITCH_OV"],
            "s", 6, [10e-3, 20e-3, 30e-3, 50e-3, 20e-6, 20e-6], [0.15e-3, 0.3e-3, 0.45e-3, 0.7e-3, 0.3e-6, 0.3e-6],
            [9e-3, 18e-3, 27e-3, 45e-3, 15e-6, 15e-6], [11e-3, 22e-3, 33e-3, 55e-3, 25e-6, 25e-6],
            loadings=(0.45, 0.6, 0.0, 0.0), radial=0.8, bin=(61, "TIMING", 7))  # fmt: skip
    p.block(
        4200,
        [f"ADC_CH{c}_OFFSET" for c in range(10)],
        "LSB",
        0,
        0.0,
        0.35,
        -4.0,
        4.0,
        loadings=(0.2, 0.0, 0.2, 0.0),
        bin=(62, "ADC", 5),
        ft_every=5,
    )
    p.block(
        4220,
        [f"ADC_CH{c}_GAIN_ERR" for c in range(10)],
        "%",
        0,
        0.0,
        0.05,
        -0.8,
        0.8,
        loadings=(0.0, 0.0, 0.4, 0.0),
        bin=(62, "ADC", 5),
        ft_every=5,
    )
    p.block(
        4300,
        ["TSENSE_25C", "TSENSE_SLOPE"],
        "V",
        3,
        [0.75, -0.0021],
        [0.004, 0.00002],
        [0.72, -0.0023],
        [0.78, -0.0019],
        loadings=(0.35, 0.0, 0.2, 0.0),
        bin=(63, "THERMAL", 5),
        ft_every=0,
    )
    p.block(
        4400,
        ["OSC_FREQ", "OSC_SSC_DEV"],
        "Hz",
        6,
        [2.2e6, 44e3],
        [20e3, 4e3],
        [2.1e6, -10e3],
        [2.3e6, 100e3],
        loadings=(-0.45, -0.7, 0.0, 0.0),
        radial=-1.0,
        bin=(60, "OSCILLATOR", 7),
    )
    func = [f"SCAN_CHAIN_{i:02d}" for i in range(1, 17)] + [f"MBIST_RAM_{i:02d}" for i in range(1, 9)]
    func += ["SPI_RW", "SPI_CRC", "I2C_RW", "I2C_CRC", "OTP_READ", "OTP_CRC", "LBIST", "FSM_SAFE_STATE",
             "WDT_FUNC", "ABIST_01", "ABIST_02", "ABIST_03", "ABIST_04"]  # fmt: skip
    p.functional(6000, func, 70, "FUNCTIONAL")
    return Product(
        part_type="SLC-PM300A", description="Automotive PMIC, 4 bucks + 6 LDOs, AEC-Q100 grade 1",
        family="PM300", process="BCD180-AUTO", package="HTQFP48", die_width=6.5, die_height=6.0, scribe=0.1,
        probe_sites=(2, 2), ft_sites=4, tester="93000", tester_exec="SmarTest", exec_version="8.4.2",
        ws_temperature="25", ft_temperature="125", program="PM300A_AUTO", revision="D.07",
        touchdown_seconds=2.6, ft_seconds=2.2, d0=0.10, tests=tuple(p.tests), excursion_group="BUCK_VOUT",
        excursion_sigmas=3.0, probe_card="PC-PM300-4S", prober="TEL P-12XLn", handler="Cohu MATRIX",
    )  # fmt: skip


#: The three products of the demo fab, by part number.
PRODUCTS: dict[str, Product] = {p.part_type: p for p in (_tv100(), _mc200(), _pm300a())}


def product(part_type: str) -> Product:
    try:
        return PRODUCTS[part_type]
    except KeyError:
        raise ValueError(f"unknown product {part_type!r}; the demo fab makes {', '.join(PRODUCTS)}") from None


def _check(p: Product) -> None:
    numbers = [t.number for t in p.tests]
    assert len(numbers) == len(set(numbers)), f"{p.part_type}: duplicate test numbers"
    for t in p.tests:
        if t.kind == "linear" and t.low is not None and t.high is not None:
            assert t.low < t.typical < t.high, f"{p.part_type} {t.name}: typical outside its limits"
    assert np.isfinite([t.sigma for t in p.tests]).all()


for _p in PRODUCTS.values():
    _check(_p)
