"""The line simulator's pure models (no I/O but reading a file): degrading machines and C-MAPSS replay.

A `DegradingMachine` has a hidden damage level that grows each tick with its own random wear rate (and
the odd shock) until it reaches 1: the machine fails, stays down for a repair, and starts again as
new. Its five sensors share a load cycle (so they are correlated) and drift as damage grows, slowly at
first and steeply near the end, like a P-F curve: vibration and bearing temperature rise, motor current
rises, spindle speed sags, oil pressure drops. Time is compressed: a life is minutes of ticks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

SENSORS = ("vibration_rms", "bearing_temp_c", "motor_current_a", "spindle_speed_rpm", "oil_pressure_bar")
MEAN_LIFE_TICKS = 600  # 10 minutes at one reading a second
REPAIR_TICKS = 30


@dataclass(frozen=True)
class MachineKind:
    name: str
    vibration_mm_s: float
    temp_rise_c: float
    current_a: float
    speed_rpm: float
    oil_bar: float


KINDS = (
    MachineKind("press", 2.2, 28.0, 38.0, 900.0, 5.5),
    MachineKind("lathe", 1.4, 22.0, 14.0, 2400.0, 3.2),
    MachineKind("mill", 1.8, 25.0, 18.0, 6000.0, 3.8),
    MachineKind("pump", 2.8, 18.0, 24.0, 2950.0, 4.5),
    MachineKind("compressor", 3.1, 35.0, 52.0, 1480.0, 6.0),
)


@dataclass(frozen=True)
class Tick:
    """What a machine did in one tick: readings (None while it is down) and maybe an event."""

    values: dict[str, float] | None
    event: str | None = None  # "failure" or "maintenance"
    note: str = ""


@dataclass
class DegradingMachine:
    site: str
    line: str
    name: str
    kind: MachineKind
    rng: random.Random
    mean_life_ticks: float = MEAN_LIFE_TICKS
    repair_ticks: int = REPAIR_TICKS
    damage: float = 0.0
    down_for: int = 0  # ticks of repair left
    age: int = 0  # ticks since the machine was last new
    wear: float = field(init=False)
    _phase: float = field(init=False)

    def __post_init__(self) -> None:
        self._phase = self.rng.uniform(0, 2 * math.pi)
        self._new_life()
        # Machines start at a random point of their first life, so failures come soon, and spread out.
        self.age = int(self.rng.uniform(0.0, 0.9) / self.wear)
        self.damage = self.age * self.wear

    @property
    def path(self) -> str:
        return f"{self.site}/{self.line}/{self.name}"

    @property
    def health(self) -> float:
        return max(0.0, 1.0 - self.damage)

    def _new_life(self) -> None:
        self.wear = 1.0 / (self.mean_life_ticks * self.rng.uniform(0.6, 1.4))
        self.damage = 0.0
        self.age = 0

    def step(self) -> Tick:
        if self.down_for > 0:
            self.down_for -= 1
            if self.down_for == 0:
                self._new_life()
                return Tick(None, "maintenance", "simulated repair: bearings and seals replaced")
            return Tick(None)
        self.age += 1
        # Wear speeds up as damage accumulates; a rare shock (a jam, a bad part) takes a bite.
        self.damage += self.wear * self.rng.uniform(0.5, 1.5) * (1.0 + 0.5 * self.damage)
        if self.rng.random() < 0.002:
            self.damage += self.rng.uniform(0.02, 0.08)
        values = self.readings()
        if self.damage >= 1.0:
            self.down_for = max(1, round(self.repair_ticks * self.rng.uniform(0.5, 1.5)))
            note = (
                f"simulated failure after {self.age} ticks: vibration {values['vibration_rms']:.1f} mm/s, "
                f"bearing {values['bearing_temp_c']:.0f} °C"
            )
            return Tick(values, "failure", note)
        return Tick(values)

    def readings(self) -> dict[str, float]:
        k, d, noise = self.kind, min(self.damage, 1.0), self.rng.gauss
        load = 0.75 + 0.2 * math.sin(self._phase + self.age / 40.0) + noise(0, 0.02)
        vibration = k.vibration_mm_s * (0.8 + 0.4 * load) + 7.0 * d**2.5 + noise(0, 0.05 * k.vibration_mm_s)
        return {
            "vibration_rms": round(max(0.0, vibration), 4),
            "bearing_temp_c": round(
                22.0
                + k.temp_rise_c * load
                + 45.0 * d**2
                + 1.5 * vibration / k.vibration_mm_s
                + noise(0, 0.3),
                3,
            ),
            "motor_current_a": round(
                k.current_a * load * (1.0 + 0.3 * d**2) + noise(0, 0.01 * k.current_a), 3
            ),
            "spindle_speed_rpm": round(
                k.speed_rpm * (1.0 - 0.02 * load - 0.05 * d**2) + noise(0, 0.002 * k.speed_rpm), 1
            ),
            "oil_pressure_bar": round(
                max(0.0, k.oil_bar * (1.0 - 0.4 * d**3) + noise(0, 0.02 * k.oil_bar)), 4
            ),
        }


def build_fleet(
    sites: int,
    lines: int,
    machines: int,
    seed: int,
    *,
    mean_life_ticks: float = MEAN_LIFE_TICKS,
    repair_ticks: int = REPAIR_TICKS,
) -> list[DegradingMachine]:
    """site-1/line-1/press-01, site-1/line-1/lathe-02, …; each machine with its own seeded RNG."""
    fleet = []
    for s in range(1, sites + 1):
        for li in range(1, lines + 1):
            for m in range(1, machines + 1):
                kind = KINDS[(m - 1) % len(KINDS)]
                site, line, name = f"site-{s}", f"line-{li}", f"{kind.name}-{m:02d}"
                rng = random.Random(f"{seed}/{site}/{line}/{name}")
                fleet.append(DegradingMachine(site, line, name, kind, rng, mean_life_ticks, repair_ticks))
    return fleet


# --- C-MAPSS replay -------------------------------------------------------------------------------

CMAPSS_SENSORS = tuple([f"op_setting_{i}" for i in range(1, 4)] + [f"sensor_{i:02d}" for i in range(1, 22)])


@dataclass
class Engine:
    """One C-MAPSS engine: its cycles, each with 3 operating settings and 21 sensors."""

    unit: int
    cycles: list[tuple[int, tuple[float, ...]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"engine-{self.unit:03d}"


def read_cmapss(path: Path) -> list[Engine]:
    """Parse a C-MAPSS file (space-separated; unit, cycle, 3 settings, 21 sensors per row)."""
    engines: dict[int, Engine] = {}
    with path.open() as file:
        for number, line in enumerate(file, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 26:
                raise ValueError(f"{path}, line {number}: {len(fields)} columns, C-MAPSS rows have 26")
            try:
                unit, cycle = int(fields[0]), int(fields[1])
                values = tuple(float(f) for f in fields[2:])
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {error}") from None
            engines.setdefault(unit, Engine(unit)).cycles.append((cycle, values))
    for engine in engines.values():
        engine.cycles.sort()
    return [engines[unit] for unit in sorted(engines)]


def cmapss_line(path: Path) -> str:
    """The line an engine file becomes: train_FD001.txt → fd001, test_FD001.txt → fd001-test."""
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.stem.lower())
    if stem.startswith("train_"):
        return stem.removeprefix("train_")[:64]
    if stem.startswith("test_"):
        return f"{stem.removeprefix('test_')}-test"[:64]
    return stem[:64] or "cmapss"
