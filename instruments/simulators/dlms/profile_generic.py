"""Profile Generic IC 7 version 1 (Blue Book 4.3.6) over entries the world captured: the load profile and the
event logs share it. An entry is anything with ``posix`` (the meter's clock when it was captured, UTC POSIX); a row
function turns it into the structure of its capture objects' values. Selective access by range (the clock column
restricts, both ends inclusive; selected_values picks columns) and by entry (1-based, 0 = the last).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import Data
from instruments.dlms.cosem import CosemDateTime, Obis
from instruments.simulators.dlms.objects import AccessError, Attribute, Caller, CosemObject, Method

CLOCK = Obis(0, 0, 1, 0, 0, 255)
#: a capture object: class id, logical name, attribute index
Column = tuple[int, Obis, int]
#: sort_method fifo (Blue Book 4.3.6)
SORT_FIFO = 1


class Stamped(Protocol):
    @property
    def posix(self) -> float: ...


E = TypeVar("E", bound=Stamped)


def by_range(entries: Sequence[E], p: Data, columns: list[Column]) -> tuple[list[E], list[int]]:
    """range_descriptor {restricting_object, from_value, to_value, selected_values} (Blue Book 4.3.6): the
    clock column restricts, both ends inclusive; selected_values picks columns (empty: all)."""
    try:
        restricting, low, high, selected = p.items
        ric, rln = int(restricting[0].value), Obis.from_bytes(restricting[1].value)
        if (ric, rln) != (8, CLOCK):
            raise AccessError(DataAccessResult.OTHER_REASON, f"restricting object IC {ric} {rln}: only the"
                              " clock column restricts a range")
        t_from = CosemDateTime.from_data(low).to_datetime().timestamp()
        t_to = CosemDateTime.from_data(high).to_datetime().timestamp()
        cols: list[int] = []
        for sv in selected.items:
            key = (int(sv[0].value), Obis.from_bytes(sv[1].value), int(sv[2].value))
            if key not in columns:
                raise AccessError(DataAccessResult.OTHER_REASON, f"selected value {key} is not a capture object")
            cols.append(columns.index(key))
    except (TypeError, ValueError, IndexError) as exc:
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"range_descriptor: {exc}") from None
    chosen = [e for e in entries if t_from <= e.posix <= t_to]
    return chosen, cols or list(range(len(columns)))


def by_entry(entries: Sequence[E], p: Data, ncols: int) -> tuple[Sequence[E], int, int]:
    """entry_descriptor {from_entry, to_entry, from_selected_value, to_selected_value}, 1-based, 0 = the last
    (Blue Book 4.3.6)."""
    try:
        first, last, c_first, c_last = (int(x.value) for x in p.items)
    except (TypeError, ValueError) as exc:
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"entry_descriptor: {exc}") from None
    last = len(entries) if last == 0 else min(last, len(entries))
    c_last = ncols if c_last == 0 else min(c_last, ncols)
    if first < 1 or c_first < 1 or first > last + 1 or c_first > c_last:
        raise AccessError(DataAccessResult.OTHER_REASON, f"entry_descriptor {first}…{last} columns"
                          f" {c_first}…{c_last} is out of range")
    return entries[first - 1:last], c_first - 1, c_last


def buffer(entries: Sequence[E], sel: Selection | None, columns: list[Column], row: Callable[[E], Data]) -> Data:
    """Attribute 2 (buffer), all of it or as the selective access asks."""
    first_col, last_col = 0, len(columns)
    if sel is not None and sel.selector == 1:
        chosen, cols = by_range(entries, sel.parameters, columns)
        return Data.array(Data.structure(row(e).items[i] for i in cols) for e in chosen)
    if sel is not None and sel.selector == 2:
        entries, first_col, last_col = by_entry(entries, sel.parameters, len(columns))
    return Data.array(Data.structure(row(e).items[first_col:last_col]) for e in entries)


def capture_objects_data(columns: list[Column]) -> Data:
    """Attribute 3: {class_id, logical_name, attribute_index, data_index} per column."""
    return Data.array(Data.structure([Data.uint16(ic), Data.octets(bytes(ln)), Data.int8(attr), Data.uint16(0)])
                      for ic, ln, attr in columns)


def profile_generic(ln: Obis, columns: list[Column], entries: Callable[[], Sequence[E]], row: Callable[[E], Data],
                    capture_period_s: Callable[[], int], depth: Callable[[], int],
                    reset: Callable[[], None]) -> CosemObject:
    """The object: buffer (selective access 1 and 2), capture_objects, capture_period (0: asynchronous, an event
    log), sort_method fifo, sort_object none, entries_in_use, profile_entries; method 1 reset."""
    sort_object = Data.structure([Data.uint16(0), Data.octets(bytes(6)), Data.int8(0), Data.uint16(0)])

    def call_reset(_c: Caller, _v: Data | None) -> None:
        reset()

    return CosemObject(7, 1, ln, {
        2: Attribute(get=lambda _c, sel: buffer(list(entries()), sel, columns, row), selectors=(1, 2)),
        3: Attribute(get=lambda _c, _s: capture_objects_data(columns)),
        4: Attribute(get=lambda _c, _s: Data.uint32(capture_period_s())),
        5: Attribute(get=lambda _c, _s: Data.enum(SORT_FIFO)),
        6: Attribute(get=lambda _c, _s: sort_object),
        7: Attribute(get=lambda _c, _s: Data.uint32(len(entries()))),
        8: Attribute(get=lambda _c, _s: Data.uint32(depth())),
    }, {
        1: Method(call_reset),
    })
