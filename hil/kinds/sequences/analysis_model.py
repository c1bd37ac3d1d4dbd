"""Plan section of ``reliability_analysis``: the failures of the run's sequences as life data."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hil.core.plan import TEST_ID_PATTERN
from hil.core.plan import PlanSection as _Model


class AccelerationOption(_Model):
    """Test → use conditions (standards.md §8): Arrhenius, or Peck with humidity, for a life in hours (time at a
    steady temperature); Coffin–Manson, per cycle, for a life in cycles (AF = (ΔT_test/ΔT_use)^n)."""

    model: Literal["arrhenius", "peck", "coffin_manson"] = "arrhenius"
    activation_energy_ev: float = Field(0.7, ge=0)
    humidity_exponent: float = Field(2.66, ge=0)  # Peck's fit (standards.md §8)
    use_temperature_c: float | None = None  # Arrhenius, Peck: required
    use_humidity_pct: float | None = Field(None, gt=0, le=100)
    test_temperature_c: float | None = None  # None: the analysed sequence's temperature
    test_humidity_pct: float | None = Field(None, gt=0, le=100)  # None: the analysed sequence's humidity
    #: Coffin–Manson exponent n; None: standards.md §8's ≈ 1.9 for SnPb solder (hil.reliability.COFFIN_MANSON_N_SNPB)
    exponent: float | None = Field(None, gt=0)
    use_delta_t_k: float | None = Field(None, gt=0)  # Coffin–Manson: the temperature swing in use (required)
    #: Coffin–Manson: the swing per test cycle; None: the analysed thermal cycling's high_c − low_c
    test_delta_t_k: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _fields_of_the_model(self) -> AccelerationOption:
        given = self.model_fields_set
        thermal = {"activation_energy_ev", "humidity_exponent", "use_temperature_c", "use_humidity_pct",
                   "test_temperature_c", "test_humidity_pct"}
        cycling = {"exponent", "use_delta_t_k", "test_delta_t_k"}
        if self.model == "coffin_manson":
            if self.use_delta_t_k is None:
                raise ValueError("the Coffin–Manson model needs use_delta_t_k (the temperature swing in use, K)")
            wrong = sorted(given & thermal)
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: not a Coffin–Manson parameter (exponent, use_delta_t_k, "
                                 "test_delta_t_k)")
            return self
        if self.use_temperature_c is None:
            raise ValueError(f"the {self.model} model needs use_temperature_c")
        wrong = sorted(given & cycling)
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: a Coffin–Manson parameter (model: coffin_manson)")
        if self.model == "peck" and self.use_humidity_pct is None:
            raise ValueError("the Peck model needs use_humidity_pct")
        return self


class ReliabilityAnalysisTest(_Model):
    """Analyse the failures of this run's sequences (Weibull with censoring, MTBF bound, acceleration).

    Life is in hours for burn-in and the environmental kinds, in thermal cycles for thermal cycling, in power cycles
    for power cycling (hil.kinds.sequences.task.life_unit); the analysed sequences must share one unit."""

    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["reliability_analysis"]
    of: list[str] | None = None  # ids of sequence tests of this plan, before this one; None: all of them
    confidence: float = Field(0.9, gt=0.5, lt=1)
    acceleration: AccelerationOption | None = None
    #: verdict: the MTBF lower bound at ``confidence``, in use hours, must reach this (None: report only); a life
    #: in cycles needs use_cycles_per_day for it
    target_mtbf_h: float | None = Field(None, gt=0)
    #: life in cycles: cycles per day in use, to state the bound in use hours and years
    use_cycles_per_day: float | None = Field(None, gt=0)
    #: life in cycles: verdict on the mean-cycles-between-failures lower bound, in use cycles
    target_mcbf_cycles: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_target(self) -> ReliabilityAnalysisTest:
        if self.target_mtbf_h is not None and self.target_mcbf_cycles is not None:
            raise ValueError("give one target: target_mtbf_h or target_mcbf_cycles")
        return self
