"""The sans-IO DLMS/COSEM codec against published vectors and by round trips.

Vectors:
- [GB40] DLMS UA 1000-2 Green Book ed. 8, Table 40 "Example of glo-get-request with the different security
  policies" (system title 4D4D4D0000BC614E, IC 01234567, EK 000102…0F, AK D0D1…DF, plaintext
  C0 01 00 00 08 00 00 01 00 00 FF 02 00): also reproduced in jDLMS (openmuc) and dlms-cosem's test suites.
- [GB43] Green Book ed. 8, Table 43 "HLS mechanism 5 (GMAC)": CtoS "K56iVagY", StoC "P6wRJ21F", client title
  4D4D4D0000000001 IC 1, server title 4D4D4D0000BC614E IC 01234567; also in jDLMS GmacTest.
- [GB-AARQ] the Green Book's AARQ for HLS-GMAC with CtoS "K56iVagY" (LN context, conformance 007E1F, max PDU
  0x04B0), as used by jDLMS and Gurux examples; [GB-AARE] the classic AARE accepting an LN association with
  conformance 00501F and max PDU 0x01F4.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.dlms import acse, apdu, axdr, security
from instruments.dlms.apdu import AttributeDescriptor, Conformance, DataAccessResult, Selection
from instruments.dlms.axdr import AxdrError, BitString, Data, Tag
from instruments.dlms.cosem import CosemDateTime, Obis, ScalerUnit
from instruments.dlms.wrapper import WrapperError, WrapperFrame, WrapperReader

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
KEYS = security.Keys(EK, AK)
GB_PLAIN = bytes.fromhex("C0010000080000010000FF0200")
GB_TITLE = bytes.fromhex("4D4D4D0000BC614E")
GB_IC = 0x01234567


# -- security suite 0 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sc", "expected"), [
    (0x10, "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516"),
    (0x20, "C8122001234567411312FF935A47566827C467BC"),
    (0x30, "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"),
])
def test_glo_get_request_reproduces_green_book_table_40(sc: int, expected: str) -> None:
    ciphered = security.protect(GB_PLAIN, KEYS, GB_TITLE, GB_IC, sc)
    assert ciphered.hex().upper() == expected
    opened = security.unprotect(ciphered, KEYS, GB_TITLE)
    assert (opened.plain, opened.security_control, opened.invocation_counter) == (GB_PLAIN, sc, GB_IC)


def test_hls_gmac_reproduces_green_book_table_43() -> None:
    client, server = bytes.fromhex("4D4D4D0000000001"), GB_TITLE
    f_stoc = security.gmac(KEYS, client, 1, b"P6wRJ21F")
    f_ctos = security.gmac(KEYS, server, GB_IC, b"K56iVagY")
    assert f_stoc.hex().upper() == "10000000011A52FE7DD3E72748973C1E28"
    assert f_ctos.hex().upper() == "1001234567FE1466AFB3DBCD4F9389E2B7"
    assert security.check_gmac(KEYS, client, b"P6wRJ21F", f_stoc) == 1
    with pytest.raises(security.SecurityError, match="does not match"):
        security.check_gmac(KEYS, client, b"P6wRJ21G", f_stoc)


def test_general_glo_ciphering_carries_the_sender_title() -> None:
    ciphered = security.protect_general(GB_PLAIN, KEYS, GB_TITLE, GB_IC)
    # DB, system title (length 8), then the ciphered content of Table 40 (length, SC, IC, ciphertext, tag)
    assert ciphered.hex().upper() == "DB08" + GB_TITLE.hex().upper() + "1E3001234567" \
        "411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"
    title, opened = security.unprotect_general(ciphered, KEYS)
    assert (title, opened.plain) == (GB_TITLE, GB_PLAIN)


@pytest.mark.parametrize("tamper", ["key", "tag", "title", "ciphertext", "length"])
def test_a_wrong_key_tag_or_title_is_refused(tamper: str) -> None:
    ciphered = bytearray(security.protect(GB_PLAIN, KEYS, GB_TITLE, GB_IC))
    keys, title = KEYS, GB_TITLE
    if tamper == "key":
        keys = security.Keys(bytes(16), AK)
    elif tamper == "tag":
        ciphered[-1] ^= 0x01
    elif tamper == "title":
        title = bytes.fromhex("4D4D4D0000BC614F")
    elif tamper == "ciphertext":
        ciphered[8] ^= 0x80
    else:
        ciphered[1] += 1
    with pytest.raises(security.SecurityError):
        security.unprotect(bytes(ciphered), keys, title)


# -- xDLMS APDUs ----------------------------------------------------------------------------------------
def test_green_book_get_request_decodes_and_encodes_back() -> None:
    req = apdu.decode(GB_PLAIN)
    assert req == apdu.GetRequestNormal(0x00, AttributeDescriptor(8, Obis(0, 0, 1, 0, 0, 255), 2))
    assert apdu.encode(req) == GB_PLAIN


GB_AARQ_HLS = bytes.fromhex(
    "6036A109060760857405080101" "8A020780" "8B0760857405080205" "AC0A80084B35366956616759"
    "BE10040E01000000065F1F0400007E1F04B0")
GB_AARE = bytes.fromhex(
    "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007")


def test_green_book_aarq_for_hls_gmac() -> None:
    aarq = acse.Aarq.decode(GB_AARQ_HLS)
    assert aarq.context is acse.ApplicationContext.LN
    assert aarq.mechanism is acse.Mechanism.HLS_GMAC
    assert aarq.authentication == b"K56iVagY"
    initiate = apdu.decode(aarq.user_information)
    assert initiate == apdu.InitiateRequest(Conformance(0x007E1F), 0x04B0)
    assert aarq.encode() == GB_AARQ_HLS


def test_classic_aare_accepting_an_ln_association() -> None:
    aare = acse.Aare.decode(GB_AARE)
    assert (aare.result, aare.diagnostic) == (acse.AssociationResult.ACCEPTED, 0)
    assert aare.user_information is not None
    response = apdu.decode(aare.user_information)
    assert response == apdu.InitiateResponse(Conformance(0x00501F), 0x01F4)
    assert Conformance.GET in response.conformance and Conformance.BLOCK_TRANSFER_WITH_GET in response.conformance
    assert aare.encode() == GB_AARE


def test_conformance_bits_sit_where_the_green_book_numbers_them() -> None:
    # 0x00501F = bits 9 (priority-mgmt), 11 (block-transfer-with-get), 19-23 (get, set, selective, event, action)
    assert Conformance(0x00501F) == (Conformance.PRIORITY_MGMT | Conformance.BLOCK_TRANSFER_WITH_GET
                                     | Conformance.GET | Conformance.SET | Conformance.SELECTIVE_ACCESS
                                     | Conformance.EVENT_NOTIFICATION | Conformance.ACTION)


CLOCK = AttributeDescriptor(8, Obis(0, 0, 1, 0, 0, 255), 2)
APDUS: list[apdu.Apdu] = [
    apdu.GetRequestNormal(0xC1, CLOCK),
    apdu.GetRequestNormal(0xC1, AttributeDescriptor(7, Obis(1, 0, 99, 1, 0), 2), Selection(2, Data.structure(
        [Data.uint32(1), Data.uint32(0), Data.uint16(1), Data.uint16(0)]))),
    apdu.GetRequestNext(0xC1, 7),
    apdu.GetRequestWithList(0xC2, ((CLOCK, None), (AttributeDescriptor(3, Obis(1, 0, 1, 8, 0), 3), None))),
    apdu.GetResponseNormal(0xC1, Data.uint32(123456)),
    apdu.GetResponseNormal(0xC1, DataAccessResult.OBJECT_UNDEFINED),
    apdu.GetResponseWithBlock(0xC1, False, 1, bytes(300)),
    apdu.GetResponseWithBlock(0xC1, True, 3, DataAccessResult.DATA_BLOCK_NUMBER_INVALID),
    apdu.GetResponseWithList(0xC1, (Data.int8(-3), DataAccessResult.READ_WRITE_DENIED)),
    apdu.SetRequestNormal(0xC1, CLOCK, Data.octets(bytes(12))),
    apdu.SetRequestFirstBlock(0xC1, CLOCK, False, 1, b"\x09\x0c" + bytes(5)),
    apdu.SetRequestBlock(0xC1, True, 2, bytes(7)),
    apdu.SetRequestWithList(0xC1, ((CLOCK, None),), (Data.octets(bytes(12)),)),
    apdu.SetResponseNormal(0xC1, DataAccessResult.SUCCESS),
    apdu.SetResponseBlock(0xC1, 1),
    apdu.SetResponseLastBlock(0xC1, DataAccessResult.TYPE_UNMATCHED, 2),
    apdu.SetResponseWithList(0xC1, (DataAccessResult.SUCCESS, DataAccessResult.OTHER_REASON)),
    apdu.ActionRequestNormal(0xC1, apdu.MethodDescriptor(70, Obis(0, 0, 96, 3, 10), 1), Data.int8(0)),
    apdu.ActionRequestNormal(0xC1, apdu.MethodDescriptor(70, Obis(0, 0, 96, 3, 10), 2)),
    apdu.ActionResponseNormal(0xC1, DataAccessResult.SUCCESS, Data.octets(b"\x10" + bytes(16))),
    apdu.ActionResponseNormal(0xC1, DataAccessResult.READ_WRITE_DENIED),
    apdu.ExceptionResponse(apdu.StateError.SERVICE_NOT_ALLOWED, apdu.ServiceError.INVOCATION_COUNTER_ERROR, 42),
    apdu.ExceptionResponse(apdu.StateError.SERVICE_UNKNOWN, apdu.ServiceError.OTHER_REASON),
    apdu.InitiateRequest(Conformance(0x007E1F), 0xFFFF, dedicated_key=bytes(16), quality_of_service=1),
    apdu.InitiateResponse(Conformance(0x00501F), 1024),
    apdu.ConfirmedServiceError(1, 6, 1),
]


@pytest.mark.parametrize("message", APDUS, ids=lambda a: type(a).__name__)
def test_every_apdu_round_trips(message: apdu.Apdu) -> None:
    assert apdu.decode(apdu.encode(message)) == message


@pytest.mark.parametrize("message", APDUS, ids=lambda a: type(a).__name__)
def test_a_truncated_apdu_is_a_named_error(message: apdu.Apdu) -> None:
    raw = apdu.encode(message)
    for cut in range(1, len(raw)):
        with pytest.raises(apdu.ApduError):
            apdu.decode(raw[:cut])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_never_escapes_as_anything_but_a_codec_error(raw: bytes) -> None:
    for decode in (apdu.decode, acse.Aarq.decode, acse.Aare.decode):
        with contextlib.suppress(apdu.ApduError, AxdrError):
            decode(raw)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([GB_AARQ_HLS, GB_AARE, acse.Rlrq(0).encode(), acse.Rlre(0).encode(), GB_PLAIN]),
       st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4), st.integers(0, 90),
       st.binary(max_size=6))
def test_mutated_valid_apdus_are_codec_errors_or_apdus(raw: bytes, edits: list[tuple[int, int]], cut: int,
                                                       tail: bytes) -> None:
    b = bytearray(raw)
    for pos, value in edits:
        b[pos % len(b)] = value
    mutated = bytes(b[:max(cut, 1)]) + tail
    decoders = {0x60: acse.Aarq.decode, 0x61: acse.Aare.decode, 0x62: acse.Rlrq.decode, 0x63: acse.Rlre.decode}
    with contextlib.suppress(apdu.ApduError, AxdrError):
        decoders.get(mutated[0], apdu.decode)(mutated)


# -- A-XDR data ----------------------------------------------------------------------------------------
def test_data_encodings_by_hand_from_the_blue_book() -> None:
    assert Data.uint32(0x01020304).encode() == bytes.fromhex("0601020304")
    assert Data.int16(-1).encode() == bytes.fromhex("10FFFF")
    assert Data.octets(b"\x01\x02").encode() == bytes.fromhex("09020102")
    assert Data.visible("AB").encode() == bytes.fromhex("0A024142")
    assert Data.boolean(True).encode() == bytes.fromhex("03FF")
    assert Data.structure([Data.int8(-3), Data.enum(30)]).encode() == bytes.fromhex("02020FFD161E")
    assert Data.array([]).encode() == bytes.fromhex("0100")
    assert Data(Tag.BIT_STRING, BitString(b"\x00\x50\x1f", 24)).encode() == bytes.fromhex("041800501F")
    assert Data.octets(bytes(200)).encode()[:3] == bytes.fromhex("0981C8")  # long-form length


def _data() -> st.SearchStrategy[Data]:
    leaves = st.one_of(
        st.builds(Data.uint8, st.integers(0, 255)), st.builds(Data.int8, st.integers(-128, 127)),
        st.builds(Data.uint16, st.integers(0, 0xFFFF)), st.builds(Data.int16, st.integers(-0x8000, 0x7FFF)),
        st.builds(Data.uint32, st.integers(0, 2**32 - 1)), st.builds(Data.int32, st.integers(-2**31, 2**31 - 1)),
        st.builds(Data.uint64, st.integers(0, 2**64 - 1)), st.builds(Data.int64, st.integers(-2**63, 2**63 - 1)),
        st.builds(Data.enum, st.integers(0, 255)), st.builds(Data.boolean, st.booleans()),
        st.builds(Data.octets, st.binary(max_size=300)), st.builds(Data.visible, st.text("ABCxyz0129 ", max_size=40)),
        st.just(Data.null()),
    )
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(Data.array, st.lists(inner, max_size=5)), st.builds(Data.structure, st.lists(inner, max_size=5))),
        max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_data())
def test_data_round_trips(value: Data) -> None:
    assert axdr.decode(value.encode()) == value


def test_a_value_that_does_not_fit_its_type_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        Data.uint8(256)
    with pytest.raises(AxdrError, match="unknown data type tag 7"):
        axdr.decode(b"\x07\x00")
    nested = b"\x01\x01" * 40 + b"\x00"
    with pytest.raises(AxdrError, match="nested deeper"):
        axdr.decode(nested)


# -- COSEM values ---------------------------------------------------------------------------------------
def test_obis_forms() -> None:
    assert Obis.parse("1-0:1.8.0*255") == Obis.parse("1.0.1.8.0.255") == Obis.parse("1-0:1.8.0") == Obis(1, 0, 1, 8, 0)
    assert str(Obis(0, 0, 1, 0, 0)) == "0.0.1.0.0.255" and Obis(1, 0, 2, 8, 0).reduced == "2.8.0"
    with pytest.raises(ValueError, match="not an OBIS code"):
        Obis.parse("1.8.0")


def test_date_time_with_its_deviation_and_wildcards() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    when = dt.datetime(2026, 3, 29, 1, 59, 58, 500000, tzinfo=cet)
    cdt = CosemDateTime.from_datetime(when)
    # year 07EA, month 3, day 29, Sunday 7, 01:59:58.50, deviation −60 (FFC4), status 0
    assert cdt.encode().hex().upper() == "07EA031D07013B3A32FFC400"
    assert CosemDateTime.decode(cdt.encode()).to_datetime() == when
    rule = CosemDateTime(None, 0xFE, 0xFE, 7, 2, 0, 0, 0, None, None)  # last Sunday of the DST-begin month
    assert rule.encode().hex().upper() == "FFFFFEFE07020000008000FF"
    with pytest.raises(ValueError, match="unspecified"):
        rule.to_datetime()


def test_scaler_unit() -> None:
    su = ScalerUnit.from_data(Data.structure([Data.int8(-3), Data.enum(33)]))
    assert (su.symbol, su.apply(5012)) == ("A", pytest.approx(5.012))


# -- wrapper --------------------------------------------------------------------------------------------
def test_wrapper_header_and_reader() -> None:
    frame = WrapperFrame(16, 1, GB_PLAIN)
    assert frame.encode()[:8] == bytes.fromhex("000100100001000D")
    reader = WrapperReader()
    stream = frame.encode() * 3
    got = [f for i in range(0, len(stream), 5) for f in reader.feed(stream[i:i + 5])]
    assert got == [frame] * 3 and reader.pending == 0
    with pytest.raises(WrapperError, match="version"):
        WrapperReader().feed(b"\x00\x02" + bytes(6))
