"""TID (token identifier): the minutes from the base date to the token's issue, in 24 bits.

The base date is a property of the meter's decoder key: 1993-01-01 for the original keys, 2014-01-01 (and
2035-01-01) after a key change with the rollover bit set. With 24 bits a base date lasts 2²⁴ minutes (about 31.9
years): the 1993 base date's last minute was 2024-11-24 20:15, which is why meters were moved to base date 2014
before 2024-11-24 20:16 (the "TID rollover"). Seconds are dropped (the TID counts whole minutes).

Times are taken on the base date's own time scale: a naive ``datetime`` as given (the public vectors are written so),
an aware one converted to UTC first (U: IEC 62055-41 fixes the time scale; not confirmed here).
"""

from __future__ import annotations

import datetime as dt

from instruments.sts.errors import TokenError

TID_BITS = 24
TID_MAX = (1 << TID_BITS) - 1
#: base date (year) → its first minute
BASE_DATES: dict[int, dt.datetime] = {
    1993: dt.datetime(1993, 1, 1),
    2014: dt.datetime(2014, 1, 1),
    2035: dt.datetime(2035, 1, 1),
}
DEFAULT_BASE_DATE = 2014


def base_datetime(base_date: int) -> dt.datetime:
    try:
        return BASE_DATES[base_date]
    except KeyError:
        raise TokenError("base date", f"{base_date} is not one of {', '.join(map(str, BASE_DATES))}") from None


def rollover(base_date: int) -> dt.datetime:
    """The first minute a TID on ``base_date`` can no longer represent (1993 → 2024-11-24 20:16)."""
    return base_datetime(base_date) + dt.timedelta(minutes=TID_MAX + 1)


def _naive(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is not None and when.utcoffset() is not None:
        return when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.replace(tzinfo=None)


def tid_from_datetime(when: dt.datetime, base_date: int) -> int:
    """The TID of a token issued at ``when`` (whole minutes since the base date)."""
    base = base_datetime(base_date)
    moment = _naive(when)
    if moment < base:
        raise TokenError("issued", f"{moment.isoformat(timespec='minutes')} is before the base date "
                                   f"{base.date().isoformat()} (--base-date {base_date})")
    minutes = (moment - base) // dt.timedelta(minutes=1)
    if minutes > TID_MAX:
        later = [b for b in BASE_DATES if b > base_date]
        hint = f"; a meter on base date {later[0]} takes it" if later else ""
        raise TokenError("issued", f"{moment.isoformat(timespec='minutes')} is beyond the 24-bit TID of base date "
                                   f"{base_date}, which rolled over at "
                                   f"{rollover(base_date).isoformat(timespec='minutes')}{hint}")
    return minutes


def datetime_from_tid(tid: int, base_date: int) -> dt.datetime:
    """The issue minute a TID stands for."""
    if not 0 <= tid <= TID_MAX:
        raise TokenError("tid", f"a TID has 24 bits (0 … {TID_MAX}), got {tid}")
    return base_datetime(base_date) + dt.timedelta(minutes=tid)


def parse_issued(text: str) -> dt.datetime:
    """An ISO-8601 date-time (``2004-03-01T13:55``, ``2004-03-01 13:55:00``, ``…+02:00``, ``…Z``)."""
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise TokenError("issued", f"{text!r} is not an ISO-8601 date-time (e.g. 2024-05-01T13:55)") from None
