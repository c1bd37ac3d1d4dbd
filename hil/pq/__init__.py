"""Power-quality measurements, pure numpy / scipy (IEC 61000-4-7 Ed. 2 + A1, IEC 61000-4-30 Ed. 3 + A1, IEC
61000-4-15 for flicker).

Entry points:

* harmonics (IEC 61000-4-7): :func:`harmonic_groups`, :func:`harmonic_subgroups`, :func:`interharmonic_groups`,
  :func:`interharmonic_centred_subgroups`, :func:`thd`, :func:`thd_from_groups`, :func:`spectrum_rms`;
* RMS (IEC 61000-4-30 5.2 / 5.4.1): :func:`rms_half_cycle` (Urms(1/2)), :func:`rms_10_12_cycle`;
* events (IEC 61000-4-30 5.4 / 5.5): :func:`detect_events` → :class:`Event`;
* unbalance (IEC 61000-4-30 5.7.1): :func:`unbalance`, :func:`phasors`, :func:`symmetrical_components`;
* aggregation (IEC 61000-4-30 4.5): :func:`aggregate` → :class:`Aggregate`, :func:`rms_aggregate`;
* flicker (IEC 61000-4-15, :mod:`hil.pq.flicker`): :func:`pst`, :func:`plt`, :func:`instantaneous_flicker`.

No frequency tracking anywhere: every window is synchronised to the *nominal* frequency (module docstrings).
This package imports nothing from the rest of ``hil`` or from ``instruments``.
"""

from hil.pq.aggregation import Aggregate, AggregationKind, aggregate, rms_aggregate
from hil.pq.events import Event, EventKind, detect_events
from hil.pq.flicker import instantaneous_flicker, plt, pst
from hil.pq.harmonics import (
    fundamental_phasors,
    harmonic_groups,
    harmonic_subgroups,
    interharmonic_centred_subgroups,
    interharmonic_groups,
    spectrum_rms,
    thd,
    thd_from_groups,
)
from hil.pq.rms import rms_10_12_cycle, rms_half_cycle
from hil.pq.unbalance import phasors, symmetrical_components, unbalance

__all__ = [
    "Aggregate",
    "AggregationKind",
    "Event",
    "EventKind",
    "aggregate",
    "detect_events",
    "fundamental_phasors",
    "harmonic_groups",
    "harmonic_subgroups",
    "instantaneous_flicker",
    "interharmonic_centred_subgroups",
    "interharmonic_groups",
    "phasors",
    "plt",
    "pst",
    "rms_10_12_cycle",
    "rms_aggregate",
    "rms_half_cycle",
    "spectrum_rms",
    "symmetrical_components",
    "thd",
    "thd_from_groups",
    "unbalance",
]
