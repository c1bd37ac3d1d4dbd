"""AC mains voltage dips and short interruptions as data: the OIML D 11 level-2 test (reference/standards.md §9).

Each row carries its source and status (confirmed in a public source, derived, unconfirmed). The durations are
given in cycles of the mains frequency, as the standard states them, for 50 Hz and 60 Hz. Pure data: imports
nothing from the bench (hil.standards boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.standards.model import Status

#: OIML D 11, the designation shared by every table that cites it (environmental.py too). The edition is not named
#: here on purpose: reference/standards.md gives none, so it is not confirmed (see D11_EDITION_NOTE)
D11 = "OIML D 11"
D11_EDITION_NOTE = "edition not confirmed (reference/standards.md names none)"
_CLAUSE = "AC mains voltage dips and short interruptions, level 2"
_SOURCE = "reference/standards.md §9"


#: the two mains frequencies the standard states durations for
MAINS_50_HZ, MAINS_60_HZ = 50.0, 60.0


def mains_cycles(frequency_hz: float, cycles_50hz: float, cycles_60hz: float) -> float:
    """A duration given for 50 Hz and 60 Hz supplies, for a supply at ``frequency_hz`` (the nearer of the two)."""
    nearer_60 = abs(frequency_hz - MAINS_60_HZ) < abs(frequency_hz - MAINS_50_HZ)
    return cycles_60hz if nearer_60 else cycles_50hz


@dataclass(frozen=True)
class DipRow:
    """One dip or short interruption: residual voltage ``level_pct`` % of the test voltage (0 % = short
    interruption) for ``cycles_50hz`` / ``cycles_60hz`` cycles of the mains frequency."""

    id: str
    level_pct: float
    cycles_50hz: float
    cycles_60hz: float
    status: Status
    standard: str = D11
    clause: str = _CLAUSE
    source: str = _SOURCE

    def cycles(self, frequency_hz: float) -> float:
        """The duration in cycles for a 50 Hz or 60 Hz supply (the nearer of the two)."""
        return mains_cycles(frequency_hz, self.cycles_50hz, self.cycles_60hz)

    def label(self) -> str:
        return (f"{self.level_pct:g} % for {self.cycles_50hz:g}/{self.cycles_60hz:g} cycles (50/60 Hz) "
                f"({self.standard}, {self.clause}, {self.status})")


@dataclass(frozen=True)
class DipTable:
    """A dip test: its rows, how often each is applied, and the least time between two of them."""

    name: str
    rows: tuple[DipRow, ...]
    repeat: int
    min_interval_s: float
    status: Status
    standard: str = D11
    clause: str = _CLAUSE
    source: str = _SOURCE
    note: str = ""


#: OIML D 11 level 2 (standards.md §9, C): 0 % for 0.5 cycle; 0 % for 1 cycle; 40 % for 10/12 cycles; 70 % for
#: 25/30 cycles; 80 % for 250/300 cycles (50/60 Hz); each repeated 10 times at least 10 s apart, measuring throughout
OIML_D11_LEVEL2 = DipTable(
    name="oiml_d11_level2",
    rows=(
        DipRow("interruption-0.5", 0.0, 0.5, 0.5, "confirmed"),
        DipRow("interruption-1", 0.0, 1.0, 1.0, "confirmed"),
        DipRow("dip-40", 40.0, 10.0, 12.0, "confirmed"),
        DipRow("dip-70", 70.0, 25.0, 30.0, "confirmed"),
        DipRow("dip-80", 80.0, 250.0, 300.0, "confirmed"),
    ),
    repeat=10,
    min_interval_s=10.0,
    status="confirmed",
    note=f"repeat 10 times, at least 10 s apart, measuring throughout; {D11_EDITION_NOTE}",
)

#: presets a plan may name (``dips: {preset: …}``)
DIP_PRESETS: dict[str, DipTable] = {OIML_D11_LEVEL2.name: OIML_D11_LEVEL2}
