"""Accuracy limits per range, PF and load, against reference/standards.md §3 (numbers typed from the reference;
range bounds computed by hand from the rating)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.standards import (
    AmbiguousLimitError,
    MeterRating,
    NoLimitError,
    StandardsError,
    StandardsLibrary,
    limit_for,
)
from tests.standards.ratings import make_rating

# default meter 0.25-0.5(60) A: Imin 0.25, Itr 0.5, 2 Itr 1.0, Imax 60
IMIN, ITR, IMAX = 0.25, 0.5, 60.0


@pytest.mark.parametrize(
    ("current", "pf", "expected"),
    [
        (IMIN, "1", 1.5), (0.4, "1", 1.5), (ITR * 0.999, "1", 1.5),  # Imin ≤ I < Itr
        (ITR, "1", 1.0), (5.0, "1", 1.0), (IMAX, "1", 1.0),  # Itr ≤ I ≤ Imax
        (ITR, "0.5L", 1.5), (2 * ITR * 0.999, "0.5L", 1.5), (ITR, "0.8C", 1.5),  # Itr ≤ I < 2 Itr
        (2 * ITR, "0.5L", 1.0), (IMAX, "0.5L", 1.0), (2 * ITR, "0.8C", 1.0), (IMAX, "0.8C", 1.0),
    ],
)
def test_2020_class1_balanced(default_meter: MeterRating, current: float, pf: str, expected: float) -> None:
    lim = limit_for(default_meter, current, pf)
    assert lim.limit_pct == expected
    assert (lim.provenance.standard, lim.provenance.edition, lim.provenance.status) == (
        "IEC 62053-21", "2020", "derived"
    )


@pytest.mark.parametrize(
    ("current", "pf", "expected"),
    [(ITR, "1", 2.0), (IMAX, "1", 2.0), (2 * ITR, "0.5L", 2.0), (IMAX, "0.5L", 2.0)],
)
def test_2020_class1_single_element(default_meter: MeterRating, current: float, pf: str, expected: float) -> None:
    for element in (1, 2, 3):
        assert limit_for(default_meter, current, pf, element).limit_pct == expected


@pytest.mark.parametrize(
    ("current", "pf", "element"),
    [
        (0.4, "0.5L", None),  # no 0.5L limit below Itr
        (0.4, "0.8C", None),
        (ITR, "0.5L", 1),  # single element 0.5L only from 2 Itr
        (0.4, "1", 2),  # single element only from Itr
        (ITR, "0.8C", 1),  # no single-element 0.8C row
        (0.2, "1", None),  # below Imin
        (IMAX * 1.01, "1", None),  # above Imax
    ],
)
def test_2020_class1_no_limit(default_meter: MeterRating, current: float, pf: str, element: int | None) -> None:
    with pytest.raises(NoLimitError):
        limit_for(default_meter, current, pf, element)


def test_no_limit_message_names_the_lowest_defined_current(default_meter: MeterRating) -> None:
    with pytest.raises(NoLimitError, match=r"0\.5L limits apply from 0\.5 A \(Itr\)"):
        limit_for(default_meter, 0.3, "0.5L")


def test_element_must_exist(default_meter: MeterRating) -> None:
    with pytest.raises(StandardsError, match="element 4"):
        limit_for(default_meter, 5.0, "1", 4)


def test_single_phase_meter_element_uses_balanced_rows() -> None:
    single = make_rating(elements=1)
    assert limit_for(single, 5.0, "1", 1).limit_pct == 1.0


@pytest.mark.parametrize(
    ("cls", "current", "pf", "element", "expected", "status"),
    [
        ("2", 0.3, "1", None, 2.5, "derived"), ("2", 5.0, "1", None, 2.0, "derived"),
        ("2", 0.7, "0.5L", None, 2.5, "derived"), ("2", 5.0, "0.8C", None, 2.0, "derived"),
        ("2", 5.0, "1", 1, 3.0, "derived"), ("2", 5.0, "0.5L", 2, 3.0, "derived"),
        ("0.5", 0.3, "1", None, 1.0, "unconfirmed"), ("0.5", 5.0, "1", None, 0.5, "unconfirmed"),
        ("0.5", 0.7, "0.5L", None, 1.0, "unconfirmed"), ("0.5", 5.0, "0.8C", None, 0.6, "unconfirmed"),
        ("0.5", 5.0, "1", 3, 0.6, "unconfirmed"), ("0.5", 5.0, "0.5L", 3, 1.0, "unconfirmed"),
    ],
)
def test_2020_classes_2_and_05(
    cls: str, current: float, pf: str, element: int | None, expected: float, status: str
) -> None:
    # class 0.5 has no Ist/Imin in the reference: they come from the nameplate
    rating = make_rating(class_index=cls)
    lim = limit_for(rating, current, pf, element)
    assert (lim.limit_pct, lim.provenance.status) == (expected, status)


# IEC 62053-21:2003 class 2, direct, Ib 10 A: 0.05 Ib = 0.5 A, 0.1 Ib = 1 A, 0.2 Ib = 2 A
@pytest.mark.parametrize(
    ("current", "pf", "element", "expected", "status"),
    [
        (0.5, "1", None, 2.5, "unconfirmed"), (0.99, "1", None, 2.5, "unconfirmed"),
        (1.0, "1", None, 2.0, "unconfirmed"), (60.0, "1", None, 2.0, "unconfirmed"),
        (1.0, "0.5L", None, 2.5, "unconfirmed"), (1.99, "0.8C", None, 2.5, "unconfirmed"),
        (2.0, "0.5L", None, 2.0, "unconfirmed"), (60.0, "0.8C", None, 2.0, "unconfirmed"),
        (1.0, "1", 1, 3.0, "confirmed"), (2.0, "0.5L", 3, 3.0, "confirmed"),
    ],
)
def test_2003_class2_ib_rows(current: float, pf: str, element: int | None, expected: float, status: str) -> None:
    rating = make_rating(edition="2003", class_index="2", ib_a=10.0, itr_a=None, imin_a=None, ist_a=None)
    lim = limit_for(rating, current, pf, element)
    assert (lim.limit_pct, lim.provenance.status) == (expected, status)
    assert lim.provenance.edition == "2003"


def test_2003_no_05L_limit_below_01_ib() -> None:
    rating = make_rating(edition="2003", class_index="2", ib_a=10.0, itr_a=None, imin_a=None, ist_a=None)
    with pytest.raises(NoLimitError):
        limit_for(rating, 0.9, "0.5L")
    with pytest.raises(NoLimitError):  # single element 0.5L from 0.2 Ib
        limit_for(rating, 1.5, "0.5L", 1)


# IEC 62053-21:2003 class 1, CT operated, In 5 A: 0.02 In = 0.1 A, 0.05 In = 0.25 A, 0.1 In = 0.5 A
@pytest.mark.parametrize(
    ("current", "pf", "element", "expected"),
    [
        (0.1, "1", None, 1.5), (0.25, "1", None, 1.0), (0.25, "0.5L", None, 1.5), (0.5, "0.8C", None, 1.0),
        (0.25, "1", 1, 2.0), (0.5, "0.5L", 2, 2.0),
    ],
)
def test_2003_class1_ct_rows(current: float, pf: str, element: int | None, expected: float) -> None:
    rating = make_rating(
        edition="2003", connection="ct", in_a=5.0, imax_a=10.0, itr_a=None, imin_a=None, ist_a=None
    )
    assert limit_for(rating, current, pf, element).limit_pct == expected


def test_2003_on_request_row() -> None:
    c1 = make_rating(edition="2003", ib_a=5.0, itr_a=None, imin_a=None, ist_a=None)
    lim = limit_for(c1, 5.0, "0.25L")  # 0.2 Ib ≤ I ≤ Ib at 0.25L: ±3.5, on request
    assert lim.limit_pct == 3.5 and lim.row.on_request
    with pytest.raises(NoLimitError):  # the on-request range ends at Ib
        limit_for(c1, 6.0, "0.25L")
    c2 = make_rating(edition="2003", class_index="2", ib_a=5.0, itr_a=None, imin_a=None, ist_a=None)
    with pytest.raises(NoLimitError):  # no class 2 value
        limit_for(c2, 5.0, "0.25L")


# IEC 62053-22:2003, In 5 A, Imax 10 A: 0.01 In = 0.05 A, 0.02 In = 0.1 A, 0.05 In = 0.25 A, 0.1 In = 0.5 A
@pytest.mark.parametrize(
    ("cls", "current", "pf", "expected", "status"),
    [
        ("0.5S", 0.05, "1", 1.0, "confirmed"), ("0.5S", 0.25, "1", 0.5, "confirmed"),
        ("0.5S", 0.1, "0.5L", 1.0, "confirmed"), ("0.5S", 0.49, "0.8C", 1.0, "confirmed"),
        ("0.5S", 0.5, "0.5L", 0.6, "confirmed"), ("0.5S", 10.0, "0.8C", 0.6, "confirmed"),
        ("0.2S", 0.05, "1", 0.4, "unconfirmed"), ("0.2S", 0.25, "1", 0.2, "unconfirmed"),
        ("0.2S", 0.1, "0.5L", 0.5, "unconfirmed"), ("0.2S", 0.5, "0.8C", 0.3, "unconfirmed"),
    ],
)
def test_62053_22_rows(cls: str, current: float, pf: str, expected: float, status: str) -> None:
    rating = make_rating(
        standard="IEC 62053-22", edition="2003", class_index=cls, connection="ct", in_a=5.0, imax_a=10.0,
        itr_a=None, imin_a=None, ist_a=None,
    )
    lim = limit_for(rating, current, pf)
    assert (lim.limit_pct, lim.provenance.status) == (expected, status)


def test_62053_22_no_05L_below_002_in() -> None:
    rating = make_rating(
        standard="IEC 62053-22", edition="2003", class_index="0.5S", connection="ct", in_a=5.0, imax_a=10.0,
        itr_a=None, imin_a=None, ist_a=None,
    )
    with pytest.raises(NoLimitError):
        limit_for(rating, 0.09, "0.5L")


MID_B = {"standard": "EN 50470-3", "edition": "2022", "class_index": "B"}


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (None, 2.0), (23.0, 2.0), (5.0, 2.0), (30.0, 2.0),  # +5…+30 °C (30 °C is on both bands' edge: tighter)
        (35.0, 2.5), (0.0, 2.5), (-10.0, 2.5),  # −10…+5 or +30…+40 °C
        (45.0, 3.5), (-20.0, 3.5),  # −25…−10 or +40…+55 °C
        (60.0, 4.0), (-30.0, 4.0), (70.0, 4.0),  # −40…−25 or +55…+70 °C
    ],
)
def test_mid_class_b_bands(temperature: float | None, expected: float) -> None:
    rating = make_rating(**MID_B)
    for current, pf in ((0.3, "1"), (5.0, "1"), (0.3, "0.5L"), (60.0, "0.8C")):  # both load ranges, all PFs
        assert limit_for(rating, current, pf, temperature_c=temperature).limit_pct == expected


@pytest.mark.parametrize(
    ("cls", "temperature", "low", "high"),
    [("A", 23.0, 3.5, 3.5), ("A", 35.0, 5.0, 4.5), ("C", 23.0, 1.0, 0.7), ("C", 60.0, 2.0, 1.5)],
)
def test_mid_classes_a_c(cls: str, temperature: float, low: float, high: float) -> None:
    rating = make_rating(standard="EN 50470-3", edition="2022", class_index=cls, ist_a=0.01)
    assert limit_for(rating, 0.3, "1", temperature_c=temperature).limit_pct == low  # Imin ≤ I < Itr
    assert limit_for(rating, 0.5, "1", temperature_c=temperature).limit_pct == high  # Itr ≤ I ≤ Imax
    assert limit_for(rating, 0.5, "1", temperature_c=temperature).provenance.status == "confirmed"


def test_mid_outside_the_temperature_bands() -> None:
    with pytest.raises(NoLimitError):
        limit_for(make_rating(**MID_B), 5.0, "1", temperature_c=75.0)


def test_ansi_test_points() -> None:
    rating = make_rating(
        standard="ANSI C12.20", edition="2015", class_index="0.2", ta_a=30.0, imax_a=200.0,
        itr_a=None, imin_a=None, ist_a=None,
    )
    fl, ll, pf = limit_for(rating, 30.0, "1"), limit_for(rating, 3.0, "1"), limit_for(rating, 30.0, "0.5L")
    assert (fl.limit_pct, ll.limit_pct, pf.limit_pct) == (0.2, 0.2, 0.2)
    assert {fl.provenance.status, ll.provenance.status, pf.provenance.status} == {"unconfirmed"}
    with pytest.raises(NoLimitError):  # not an ANSI test point
        limit_for(rating, 15.0, "1")


def test_reactive_62053_23() -> None:
    # Ib 10 A: sin φ 0.5 from 0.1 Ib = 1 A, tighter from 0.2 Ib = 2 A
    rating = make_rating(
        standard="IEC 62053-23", edition="2003", class_index="3", ib_a=10.0, itr_a=None, imin_a=None, ist_a=None
    )
    assert limit_for(rating, 1.5, "0.5C").limit_pct == 4.0
    assert limit_for(rating, 2.0, "0.5L").limit_pct == 3.0
    assert limit_for(rating, 2.0, "0.5L").energy == "reactive"
    assert limit_for(rating, 0.5, "1").limit_pct == 4.0


def test_ambiguous_rows_are_reported(tmp_path: Path) -> None:
    # a lab file that adds a row (new id) over a range a built-in row already covers
    p = tmp_path / "extra.yaml"
    p.write_text(
        "standard: IEC 62053-21\nedition: '2020'\ntable: limits of error due to variation of the current\n"
        "kind: accuracy\nbasis: Itr\nrows:\n"
        "  - {id: lab.extra, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: 0.9, status: confirmed}\n"
    )
    lib = StandardsLibrary.load([p])
    with pytest.raises(AmbiguousLimitError, match=r"cl1\.bal\.pf1 .*lab\.extra"):
        limit_for(make_rating(), 5.0, "1", library=lib)
