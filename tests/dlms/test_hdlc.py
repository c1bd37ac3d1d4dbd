"""HDLC link layer (IEC 62056-46): CRC, published frames, the decoder against garbage and chunking, the server and
client links talking to each other in memory, and a cross-check with dlms-cosem run in a subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments.dlms.hdlc import (
    DISC,
    DM,
    FRMR,
    LLC_COMMAND,
    LLC_RESPONSE,
    MAX_FRAME_LENGTH,
    MAX_INFO_LENGTH,
    MAX_WIRE_FRAME,
    SNRM,
    UA,
    UI,
    BadFcsError,
    BadHcsError,
    ClientEvents,
    Frame,
    FrameDecoder,
    FrameFormatError,
    FrameKind,
    FrameReject,
    FrameRejectedError,
    HdlcAddress,
    HdlcClientLink,
    HdlcError,
    HdlcServerLink,
    LinkBusyError,
    LinkParameters,
    LinkState,
    NotConnectedError,
    ParameterError,
    UnexpectedFrameError,
    WrongAddressError,
    classify,
    control_i,
    control_rnr,
    control_rr,
    crc16_x25,
    decode_frame,
    describe_control,
    fcs,
    frames_of,
    segments,
)
from instruments.simulators.net import Output
from tests.helpers import Out

CLIENT = HdlcAddress.client(16)
SERVER = HdlcAddress.server(1, 17)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- CRC -----------------------------------------------------------------------------------------------------------
def test_crc_check_value() -> None:
    assert crc16_x25(b"123456789") == 0x906E  # the CRC-16/X.25 catalogue check value
    assert crc16_x25(b"") == 0x0000
    assert fcs(b"123456789") == b"\x6e\x90"  # on the wire least significant octet first


def test_crc_against_dlms_cosem_vector() -> None:
    # github.com/u9n/dlms-cosem tests/test_hdlc/test_hdlc.py, TestCrc: data 03 3F -> "5bec" (wire order)
    assert fcs(h("033f")) == h("5bec")


def test_crc_table_matches_bitwise_definition() -> None:
    rng = random.Random(62056)
    for _ in range(50):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(40)))
        crc = 0xFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        assert crc16_x25(data) == crc ^ 0xFFFF


# -- published frames ----------------------------------------------------------------------------------------------
DLMS_COSEM_TESTS = "github.com/u9n/dlms-cosem tests/test_hdlc/test_hdlc.py"
KMETHY = ("DLMS UA, 'Examples for DLMS/COSEM information exchange' by Gyozo Kmethy (DLMS UA FAQ 'Are examples for"
          " information exchange available?'), copy at"
          " https://jacobs-master.ru/view/articles/dlmsua/dlmscosem_gyozo_kmethy_example_origin")
GURUX_FORUM = "https://www.gurux.fi/index.php/node/20546 (Gurux forum, 'DLMS (HDLC) Packet Description needs')"

#: (hex, where it was published, destination, source, control, segmented, information field or None)
PUBLISHED = [
    # the classic first frame of every DLMS HDLC session: SNRM, client 16 (0x21 = 16 << 1 | 1) to server upper
    # address 1 in the one-octet form (0x03 = 1 << 1 | 1; no lower address), no parameters; quoted throughout
    # Gurux's examples and test code, and built identically by dlms-cosem (cross-check below)
    ("7E A0 07 03 21 93 0F 01 7E", "the brief; Gurux examples", HdlcAddress(1), CLIENT, SNRM, False, b""),
    # TestSnrmFrame: server 1/17 in two octets
    ("7E A0 08 02 23 21 93 BD 64 7E", DLMS_COSEM_TESTS, SERVER, CLIENT, SNRM, False, b""),
    # TestUAFrame: the meter's UA, maximum information field 154 (1-octet values), windows 1 (4-octet values)
    ("7E A0 1F 21 02 23 73 E6 C7 81 80 12 05 01 9A 06 01 9A 07 04 00 00 00 01 08 04 00 00 00 01 CC A2 7E",
     DLMS_COSEM_TESTS, CLIENT, SERVER, UA, False, h("81 80 12 05 01 9A 06 01 9A 07 04 00 00 00 01 08 04 00 00 00 01")),
    # TestInformationFrame: AARQ in I(NS=0 NR=0 P)
    ("7EA02C02232110AF9FE6E600601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFFC5E47E", DLMS_COSEM_TESTS,
     SERVER, CLIENT, 0x10, False, h("E6E600601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFF")),
    # TestInformationResponseFrame: AARE in I(NS=0 NR=1 F)
    ("7EA0382102233034E7E6E7006129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04C80007"
     "B86A7E", DLMS_COSEM_TESTS, CLIENT, SERVER, 0x30, False,
     h("E6E7006129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04C80007")),
    # Kmethy 1: SNRM to server 1/17 in the 4-octet form, defaults proposed (no information field)
    ("7E A0 0A 00 02 00 23 21 93 18 71 7E", KMETHY, HdlcAddress(1, 17, 4), CLIENT, SNRM, False, b""),
    # Kmethy 1: UA, parameters with 2-octet lengths (128) and 4-octet windows (1)
    ("7EA023210002002373F6C58180140502008006020080070400000001080400000001CE6A7E", KMETHY, CLIENT,
     HdlcAddress(1, 17, 4), UA, False, h("81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00 00 01")),
    # Kmethy 2: AARQ -- its HCS is 7E CB: a flag octet inside a frame (no byte stuffing in DLMS HDLC)
    ("7EA02E0002002321107ECBE6E600601DA109060760857405080101BE10040E01000000065F1F040000301DFFFFD4C57E", KMETHY,
     HdlcAddress(1, 17, 4), CLIENT, 0x10, False,
     h("E6E600601DA109060760857405080101BE10040E01000000065F1F040000301DFFFF")),
    # GET-Request-Normal of 0.0.40.0.0.255 attribute 1 (class 15), client 32 (0x41) to server 1, I(NS=1 NR=5 P)
    ("7E A0 19 03 41 B2 32 39 E6 E6 00 C0 01 C1 00 0F 00 00 28 00 00 FF 01 00 F9 79 7E", GURUX_FORUM, HdlcAddress(1),
     HdlcAddress.client(32), 0xB2, False, h("E6 E6 00 C0 01 C1 00 0F 00 00 28 00 00 FF 01 00")),
]  # fmt: skip


@pytest.mark.parametrize(("wire", "source", "dest", "src", "control", "segmented", "info"), PUBLISHED)
def test_published_frames(wire: str, source: str, dest: HdlcAddress, src: HdlcAddress, control: int,
                          segmented: bool, info: bytes) -> None:
    raw = h(wire)
    frame = decode_frame(raw)
    assert (frame.destination, frame.source, frame.control, frame.segmented, frame.info) == (
        dest, src, control, segmented, info), source
    assert Frame(dest, src, control, info, segmented).encode() == raw, source
    assert frames_of([raw]) == [frame]


def test_published_segmented_frame() -> None:
    """A middle segment of a GET response (no LLC header: it continues the previous frame's APDU), S = 1 in the
    format field; TestHdlcAddress.test_find_address in github.com/u9n/dlms-cosem tests/test_hdlc/test_hdlc.py."""
    raw = h("7ea87e210396a4090f01160002020f02160002020f03160002020f04160002020f05160002020f0616000204120017110009060000"
            "160000ff0202010902030f0116010002030f0216010002030f0316010002030f0416010002030f0516010002030f0616010002030f"
            "0716010002030f0816010002030f09160100016ff37e")
    frame = decode_frame(raw)
    assert frame.segmented and frame.length == 0x7E
    assert (frame.destination, frame.source) == (CLIENT, HdlcAddress(1))
    assert (frame.kind, frame.ns, frame.nr, frame.pf) == (FrameKind.I, 3, 4, True)
    assert len(frame.info) == 117 and frame.info.startswith(h("0f01160002020f02"))
    assert frame.encode() == raw


def test_published_parameters() -> None:
    # dlms-cosem's UA: 154 octets both ways in 1-octet values; Kmethy's: 128 in 2-octet values
    assert LinkParameters.decode(h("81 80 12 05 01 9A 06 01 9A 07 04 00 00 00 01 08 04 00 00 00 01")) == \
        LinkParameters(154, 154, 1, 1)
    assert LinkParameters.decode(h("81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00 00 01")) == \
        LinkParameters()
    # our encoding: lengths in the fewest octets (as the dlms-cosem meter), windows in 4 (as both examples)
    assert LinkParameters(154, 154).encode() == h("81 80 12 05 01 9A 06 01 9A 07 04 00 00 00 01 08 04 00 00 00 01")
    assert LinkParameters(1024, 128).encode() == h("81 80 13 05 02 04 00 06 01 80 07 04 00 00 00 01 08 04 00 00 00 01")


# -- addresses, control, parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "octets"),
    [(HdlcAddress.client(1), "03"), (HdlcAddress.client(16), "21"), (HdlcAddress.server(0b1001010), "95"),
     (HdlcAddress.client(0b0100101), "4b"), (HdlcAddress.server(1, 17), "0223"),  # the dlms-cosem test cases
     (HdlcAddress(1, 17, 4), "00020023"),  # Kmethy's 4-octet form of 1/17
     (HdlcAddress.server(1, 0x1234), "00024869"), (HdlcAddress.server(0x3FFF, 0x3FFF), "fefefeff"),
     (HdlcAddress.server(0x7F, 0x7F), "feff"), (HdlcAddress.server(200, 16), "0290 0021")],
)  # fmt: skip
def test_address_forms(address: HdlcAddress, octets: str) -> None:
    assert address.encode() == h(octets)
    assert HdlcAddress.decode(h(octets)) == address


def test_address_validation() -> None:
    assert HdlcAddress(1, 17).size == 2 and HdlcAddress(1, 128).size == 4 and HdlcAddress(5).size == 1
    for bad in [(128, None, 0), (1, None, 2), (1, 17, 1), (1, 128, 2), (0x4000, 1, 4), (-1, None, 0), (1, 1, 3)]:
        with pytest.raises(ValueError):
            HdlcAddress(*bad)
    for raw in ["", "02", "020203", "0303", "0000000101"]:
        with pytest.raises(FrameFormatError):
            HdlcAddress.decode(h(raw))
    assert HdlcAddress(0x7F, 17).all_station and HdlcAddress(0x3FFF, 0x3FFF).all_station
    assert not HdlcAddress(0x7F, 17, 4).all_station  # 0x7F is an ordinary address in the 14-bit form
    assert str(SERVER) == "1/17" and str(CLIENT) == "16"


@pytest.mark.parametrize(
    ("control", "kind", "text"),
    [(0x10, FrameKind.I, "I(NS=0 NR=0 P/F)"), (0xB2, FrameKind.I, "I(NS=1 NR=5 P/F)"),
     (0x31, FrameKind.RR, "RR(NR=1 P/F)"), (0xF5, FrameKind.RNR, "RNR(NR=7 P/F)"), (0x93, FrameKind.SNRM, "SNRM"),
     (0x53, FrameKind.DISC, "DISC"), (0x73, FrameKind.UA, "UA"), (0x1F, FrameKind.DM, "DM"),
     (0x97, FrameKind.FRMR, "FRMR"), (0x13, FrameKind.UI, "UI"), (0x83, FrameKind.SNRM, "SNRM (P/F clear)"),
     (0x19, FrameKind.UNKNOWN, "unknown control 0x19"), (0x0D, FrameKind.UNKNOWN, "unknown control 0x0D"),
     (0x2F, FrameKind.UNKNOWN, "unknown control 0x2F")],
)  # fmt: skip
def test_control_field(control: int, kind: FrameKind, text: str) -> None:
    assert classify(control) is kind
    assert describe_control(control) == text


def test_control_builders() -> None:
    assert control_i(0, 0) == 0x10 and control_i(1, 5) == 0xB2 and control_i(7, 7, pf=False) == 0xEE
    assert control_rr(1) == 0x31 and control_rr(0, pf=False) == 0x01 and control_rnr(2) == 0x55
    assert (SNRM, DISC, UA, DM, FRMR, UI) == (0x93, 0x53, 0x73, 0x1F, 0x97, 0x13)
    for bad in (-1, 8):
        with pytest.raises(ValueError):
            control_i(bad, 0)
        with pytest.raises(ValueError):
            control_rr(bad)


def test_parameters_defaults_and_errors() -> None:
    assert LinkParameters.decode(b"") == LinkParameters(128, 128, 1, 1)
    assert LinkParameters.decode(h("81 80 00")) == LinkParameters()
    assert LinkParameters.decode(h("81 80 03 06 01 40")) == LinkParameters(max_info_rx=64)  # absent: defaults
    assert LinkParameters.decode(h("81 80 06 09 01 55 05 01 20")) == LinkParameters(max_info_tx=32)  # unknown id
    assert LinkParameters.decode(h("81 F0 02 AA BB 80 03 07 01 07")) == LinkParameters(window_tx=7)  # other group
    for raw, field in [("80 80 00", "format identifier"), ("81 80", "group length"),
                       ("81 80 05 05 01", "group length"), ("81 80 01 05", "parameter"),
                       ("81 80 03 05 05 01", "parameter"), ("81 80 02 05 00", "parameter"),
                       ("81 80 03 05 01 00", "parameter")]:  # fmt: skip
        with pytest.raises(ParameterError) as err:
            LinkParameters.decode(h(raw))
        assert err.value.field == field, raw


def test_frame_reject_field() -> None:
    reject = FrameReject(0x19, vs=3, vr=5, w=True)
    assert reject.encode() == bytes([0x19, (5 << 5) | (3 << 1), 0x01])
    assert FrameReject.decode(reject.encode()) == reject
    assert FrameReject.decode(b"\x01") is None
    assert "W control undefined" in str(reject)


def test_segments() -> None:
    assert segments(b"", 10) == [b""]
    assert segments(bytes(25), 10) == [bytes(10), bytes(10), bytes(5)]
    with pytest.raises(ValueError):
        segments(b"x", 0)


# -- frame errors --------------------------------------------------------------------------------------------------
AARQ = h("7EA02C02232110AF9FE6E600601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFFC5E47E")


def flip(raw: bytes, index: int, mask: int = 0x01) -> bytes:
    return raw[:index] + bytes([raw[index] ^ mask]) + raw[index + 1:]


@pytest.mark.parametrize(
    ("raw", "error", "field"),
    [(flip(AARQ, 7), BadHcsError, "HCS"),  # HCS low octet
     (flip(AARQ, 20), BadFcsError, "FCS"),  # an information octet
     (flip(AARQ, len(AARQ) - 2), BadFcsError, "FCS"),
     (AARQ[:-1] + b"\x00", FrameFormatError, "closing flag"),
     (flip(AARQ, 1, 0x40), FrameFormatError, "format"),  # 0xE0: not type 3
     (h("7E A0 05 03 21 93 7E"), FrameFormatError, "length"),
     (h("7E A0 09 02 02 23 21 93 00 00 7E"), FrameFormatError, "destination address"),  # 3 octets
     (h("7E A0 0B 02 02 02 02 23 21 93 00 00 7E"), FrameFormatError, "destination address"),  # 5 octets
     (h("7E A0 09 03 21 93 AA BB 00 00 7E"), FrameFormatError, "length"),  # room for an HCS, none for information
     (AARQ[:-5], FrameFormatError, "length"),  # truncated
     (AARQ + b"\x00", FrameFormatError, "length"),  # trailing octets
     (AARQ[1:], FrameFormatError, "opening flag")],
)  # fmt: skip
def test_decode_errors_name_the_field(raw: bytes, error: type[HdlcError], field: str) -> None:
    with pytest.raises(error) as err:
        decode_frame(raw)
    assert type(err.value) is error and err.value.field == field
    assert isinstance(err.value.frame, bytes)


def test_frame_too_long_is_refused() -> None:
    big = Frame(HdlcAddress(1, 0x100), HdlcAddress(1, 0x100), control_i(0, 0), bytes(MAX_INFO_LENGTH))
    assert big.length == MAX_FRAME_LENGTH and decode_frame(big.encode()) == big
    with pytest.raises(ValueError):
        Frame(HdlcAddress(1, 0x100), HdlcAddress(1, 0x100), control_i(0, 0), bytes(MAX_INFO_LENGTH + 1))


# -- decoder -------------------------------------------------------------------------------------------------------
SNRM_CLASSIC = h("7E A0 07 03 21 93 0F 01 7E")


def test_shared_and_repeated_flags() -> None:
    a, b = SNRM_CLASSIC, AARQ
    assert len(frames_of([a + b[1:] + b[1:]])) == 3  # the closing flag of one frame opens the next
    assert len(frames_of([b"\x7e\x7e\x7e" + a + b"\x7e\x7e" + b + b"\x7e"])) == 2  # inter-frame fill
    decoder = FrameDecoder()
    assert decoder.feed(b"noise\x7e\x00\x7e\x12" + a + b"\xff\xfe" + b) == [decode_frame(a), decode_frame(b)]
    assert decoder.dropped == 0 and decoder.frames == 2


def test_bad_frames_are_counted_and_skipped() -> None:
    decoder = FrameDecoder()
    stream = flip(AARQ, 7) + SNRM_CLASSIC + flip(SNRM_CLASSIC, 4) + flip(AARQ, 20) + AARQ
    assert decoder.feed(stream) == [decode_frame(SNRM_CLASSIC), decode_frame(AARQ)]
    assert decoder.dropped == 3
    assert isinstance(decoder.last_error, BadFcsError) and decoder.last_error.field == "FCS"
    assert decoder.last_reason is not None and "FCS" in decoder.last_reason
    items = FrameDecoder().feed_items(flip(AARQ, 7) + SNRM_CLASSIC)
    assert [type(item) for item in items] == [BadHcsError, Frame]


def test_a_frame_behind_a_false_start_is_found() -> None:
    # garbage that looks like the start of a long frame swallows the real one until its FCS fails
    fake = Frame(SERVER, CLIENT, control_i(0, 0), bytes(300)).encode()[:40]  # a valid header and HCS
    decoder = FrameDecoder()
    assert decoder.feed(fake + SNRM_CLASSIC) == []  # still waiting for the 300-octet frame
    assert decoder.feed(bytes(300)) == [decode_frame(SNRM_CLASSIC)]
    assert decoder.dropped == 1
    # or the owner's inter-character timeout gives up on it at once
    decoder = FrameDecoder()
    assert decoder.feed(fake + SNRM_CLASSIC) == []
    assert decoder.timeout() == [decode_frame(SNRM_CLASSIC)]
    assert decoder.buffered <= 1


def test_garbage_work_is_bounded() -> None:
    """Long runs of worst-case garbage: the pending input never exceeds the longest legal frame, whatever the
    chunking, and a frame after the garbage still comes out."""
    long_header = Frame(SERVER, CLIENT, control_i(0, 0), bytes(MAX_INFO_LENGTH - 10)).encode()[:12]
    patterns = [b"\x7e" * 100_000, b"\x7e\xa7\xff" * 30_000, b"\x7e\xa0" * 50_000, bytes(200_000),
                (long_header + bytes(3)) * 1000]
    for pattern in patterns:
        for chunk_size in (1, 7, 4096, len(pattern)):
            if chunk_size == 1 and len(pattern) > 20_000:
                continue
            decoder = FrameDecoder()
            for i in range(0, len(pattern), chunk_size):
                assert decoder.feed(pattern[i:i + chunk_size]) == []
                assert decoder.buffered <= MAX_WIRE_FRAME
            assert decoder.feed(bytes(MAX_WIRE_FRAME) + SNRM_CLASSIC) == [decode_frame(SNRM_CLASSIC)]


def test_the_buffer_stays_bounded_inside_one_large_feed() -> None:
    """One 200 kB chunk is taken a frame's worth at a time: the pending input never exceeds the longest frame."""
    decoder = FrameDecoder()
    peak = 0
    scan = decoder._scan

    def watched(items: list[Frame | HdlcError]) -> None:
        nonlocal peak
        peak = max(peak, decoder.buffered)
        scan(items)

    decoder._scan = watched  # type: ignore[method-assign]
    assert decoder.feed(b"\x7e\xa0" * 100_000 + SNRM_CLASSIC) == [decode_frame(SNRM_CLASSIC)]
    assert 0 < peak <= MAX_WIRE_FRAME


# -- property tests ------------------------------------------------------------------------------------------------
def addresses() -> st.SearchStrategy[HdlcAddress]:
    seven = st.integers(0, 0x7F)
    fourteen = st.integers(0, 0x3FFF)
    return st.one_of(st.builds(lambda u: HdlcAddress(u, None, 1), seven),
                     st.builds(lambda u, low: HdlcAddress(u, low, 2), seven, seven),
                     st.builds(lambda u, low: HdlcAddress(u, low, 4), fourteen, fourteen))


def frames(max_info: int = 300) -> st.SearchStrategy[Frame]:
    return st.builds(Frame, addresses(), addresses(), st.integers(0, 0xFF), st.binary(max_size=max_info),
                     st.booleans())


@settings(max_examples=300, deadline=None)
@given(frames())
def test_encode_decode_identity(frame: Frame) -> None:
    raw = frame.encode()
    assert len(raw) == frame.length + 2
    assert decode_frame(raw) == frame
    assert FrameDecoder().feed(raw) == [frame]


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Frame]]:
    """Valid frames (sometimes sharing a flag with the one before) among random garbage and corrupted frames."""
    out = bytearray()
    valid: list[Frame] = []
    previous_was_frame = False
    for _ in range(draw(st.integers(0, 10))):
        what = draw(st.sampled_from(["frame", "frame", "garbage", "corrupt", "fake"]))
        if what == "frame":
            frame = draw(frames(120))
            raw = frame.encode()
            out += raw[1:] if previous_was_frame and draw(st.booleans()) else raw
            valid.append(frame)
        elif what == "garbage":
            out += draw(st.binary(max_size=60))
        elif what == "corrupt":  # one octet changed (any single-octet error is caught by the CRCs)
            raw = draw(frames(120)).encode()
            index = draw(st.integers(1, len(raw) - 2))
            out += flip(raw, index, draw(st.integers(1, 255)))
        else:  # a flag and a plausible format field, then noise
            out += bytes([0x7E, draw(st.integers(0xA0, 0xAF))]) + draw(st.binary(max_size=20))
        previous_was_frame = what == "frame"
    return bytes(out), valid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_garbage_between_frames_yields_exactly_the_frames(stream: tuple[bytes, list[Frame]]) -> None:
    data, valid = stream
    decoder = FrameDecoder()
    got = decoder.feed(data)
    # trailing garbage may hold a false start still waiting for octets: the line's silence ends it
    while decoder.buffered > 1:
        got += decoder.timeout()
    assert got == valid


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.lists(st.integers(1, 200), max_size=40))
def test_chunking_does_not_matter(stream: tuple[bytes, list[Frame]], cuts: list[int]) -> None:
    data, _ = stream
    whole = FrameDecoder()
    expected = [(type(i), i.field) if isinstance(i, HdlcError) else i for i in whole.feed_items(data)]
    decoder = FrameDecoder()
    got: list[object] = []
    pos = 0
    for cut in [*cuts, len(data)]:
        chunk = data[pos:pos + cut]
        pos += cut
        got += [(type(i), i.field) if isinstance(i, HdlcError) else i for i in decoder.feed_items(chunk)]
        assert decoder.buffered <= MAX_WIRE_FRAME
    got += [(type(i), i.field) if isinstance(i, HdlcError) else i for i in decoder.feed_items(data[pos:])]
    assert got == expected
    assert decoder.dropped == whole.dropped and decoder.buffered == whole.buffered


# -- server and client in memory -----------------------------------------------------------------------------------
class Meter:
    """The server link with a recording handler: answers the APDU reversed, unless ``echo`` is off (then
    ``reply``)."""

    def __init__(self, upper: int = 1, lower: int = 17, *, max_info_tx: int = 128, max_info_rx: int = 128,
                 accept_upper_only: bool = True) -> None:
        self.requests: list[tuple[int, bytes]] = []
        self.released: list[int] = []
        self.echo = True
        self.reply: bytes | None = None
        self.link = HdlcServerLink(upper, lower, self.deliver, on_disconnect=self.released.append,
                                   max_info_tx=max_info_tx, max_info_rx=max_info_rx,
                                   accept_upper_only=accept_upper_only)

    def deliver(self, client: int, apdu: bytes) -> bytes | None:
        self.requests.append((client, apdu))
        return apdu[::-1] if self.echo else self.reply


class Wire:
    """A client and a meter joined in memory; every frame each way is recorded."""

    def __init__(self, client: HdlcClientLink, meter: Meter) -> None:
        self.client = client
        self.meter = meter
        self.up: list[Frame] = []
        self.down: list[Frame] = []

    def send(self, data: bytes) -> ClientEvents:
        """Send ``data``, then go on answering RRs and segments until nobody has anything to say."""
        total = ClientEvents()
        while data:
            self.up += frames_of([data])
            back = self.meter.link.receive(data)
            self.down += frames_of([back])
            events = self.client.receive(back)
            total.apdus += events.apdus
            total.connected = total.connected or events.connected
            total.refused |= events.refused
            total.disconnected |= events.disconnected
            data = events.send
        return total

    def connect(self) -> LinkParameters:
        events = self.send(self.client.connect_frame())
        assert events.connected is not None
        return events.connected


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def wire(meter: Meter) -> Wire:
    w = Wire(HdlcClientLink(16, 1, 17), meter)
    w.connect()
    return w


def test_negotiation_defaults(meter: Meter) -> None:
    ua = decode_frame(meter.link.receive(SNRM_CLASSIC))  # no parameters proposed: defaults
    assert (ua.kind, ua.destination, ua.source) == (FrameKind.UA, CLIENT, HdlcAddress(1))  # answered in its form
    assert LinkParameters.decode(ua.info) == LinkParameters(128, 128, 1, 1)
    assert meter.link.connected == {16}


def test_negotiation_takes_the_minimums() -> None:
    meter = Meter(max_info_tx=512, max_info_rx=256)
    client = HdlcClientLink(16, 1, 17, max_info_tx=1024, max_info_rx=300)
    agreed = Wire(client, meter).connect()
    assert agreed == LinkParameters(max_info_tx=256, max_info_rx=300, window_tx=1, window_rx=1)  # client's view
    assert meter.link.parameters(16) == LinkParameters(300, 256, 1, 1)  # server's view
    small = Wire(HdlcClientLink(16, 1, 17, max_info_tx=64, max_info_rx=32), Meter())
    assert small.connect() == LinkParameters(64, 32, 1, 1)


def test_a_client_asking_a_larger_window_gets_one(meter: Meter) -> None:
    snrm = Frame(SERVER, CLIENT, SNRM, LinkParameters(128, 128, 7, 7).encode()).encode()
    assert LinkParameters.decode(decode_frame(meter.link.receive(snrm)).info) == LinkParameters(128, 128, 1, 1)


def test_kmethy_four_octet_dialogue(meter: Meter) -> None:
    """Kmethy's SNRM (server 1/17 in 4 octets) gets a UA in the same form with the same parameters as his."""
    ua = decode_frame(meter.link.receive(h("7EA00A00020023219318717E")))
    kmethy_ua = decode_frame(h("7EA023210002002373F6C58180140502008006020080070400000001080400000001CE6A7E"))
    assert (ua.destination, ua.source, ua.control) == (kmethy_ua.destination, kmethy_ua.source, kmethy_ua.control)
    assert LinkParameters.decode(ua.info) == LinkParameters.decode(kmethy_ua.info)
    reply = decode_frame(meter.link.receive(h("7EA02E0002002321107ECBE6E600601DA109060760857405080101BE10040E0100000"
                                              "0065F1F040000301DFFFFD4C57E")))
    assert meter.requests == [(16, h("601DA109060760857405080101BE10040E01000000065F1F040000301DFFFF"))]
    assert (reply.kind, reply.ns, reply.nr, reply.info[:3]) == (FrameKind.I, 0, 1, LLC_RESPONSE)


@pytest.mark.parametrize("max_info", [128, 1000, 2030])
def test_a_1000_octet_apdu_each_way(max_info: int) -> None:
    meter = Meter(max_info_tx=max_info, max_info_rx=max_info)
    wire = Wire(HdlcClientLink(16, 1, 17, max_info_tx=2030, max_info_rx=2030), meter)
    assert wire.connect().max_info_tx == max_info
    apdu = bytes(random.Random(7).getrandbits(8) for _ in range(1000))
    wire.up.clear()
    wire.down.clear()
    events = wire.send(wire.client.send_apdu(apdu))
    assert meter.requests == [(16, apdu)]
    assert events.apdus == [apdu[::-1]]
    n = -(-(len(apdu) + 3) // max_info)  # frames each way
    assert [f.kind for f in wire.up] == [FrameKind.I] * n + [FrameKind.RR] * (n - 1)
    assert [f.kind for f in wire.down] == [FrameKind.RR] * (n - 1) + [FrameKind.I] * n
    for frames_one_way in (wire.up[:n], wire.down[n - 1:]):
        assert all(len(f.info) <= max_info for f in frames_one_way)
        assert [f.segmented for f in frames_one_way] == [True] * (n - 1) + [False]
        assert [f.ns for f in frames_one_way] == [i % 8 for i in range(n)]
    assert wire.up[0].info.startswith(LLC_COMMAND) and wire.down[n - 1].info.startswith(LLC_RESPONSE)
    assert wire.client.idle
    # and again: sequence numbers carry on (modulo 8)
    assert wire.send(wire.client.send_apdu(b"\x01\x02")).apdus == [b"\x02\x01"]


def test_disconnect(wire: Wire, meter: Meter) -> None:
    events = wire.send(wire.client.disconnect_frame())
    assert events.disconnected and wire.client.state is LinkState.DISCONNECTED
    assert wire.down[-1].kind is FrameKind.UA and not wire.down[-1].info
    assert meter.released == [16] and meter.link.connected == frozenset()
    # DISC when not connected: DM
    assert decode_frame(meter.link.receive(Frame(SERVER, CLIENT, DISC).encode())).kind is FrameKind.DM
    assert meter.released == [16]
    with pytest.raises(NotConnectedError):
        wire.client.send_apdu(b"x")


def test_snrm_while_connected_resets(wire: Wire, meter: Meter) -> None:
    wire.send(wire.client.send_apdu(b"abc"))
    assert wire.meter.link.parameters(16) is not None
    wire.connect()  # a new SNRM: the old connection (and its association) is gone, sequence numbers from 0
    assert meter.released == [16] and meter.link.connected == {16}
    wire.down.clear()
    assert wire.send(wire.client.send_apdu(b"def")).apdus == [b"fed"]
    assert (wire.down[0].ns, wire.down[0].nr) == (0, 1)


def test_i_frame_when_disconnected_is_dm(meter: Meter) -> None:
    i_frame = Frame(SERVER, CLIENT, control_i(0, 0), LLC_COMMAND + b"\xc0\x01").encode()
    assert decode_frame(meter.link.receive(i_frame)).kind is FrameKind.DM
    assert decode_frame(meter.link.receive(Frame(SERVER, CLIENT, control_rr(0)).encode())).kind is FrameKind.DM
    assert meter.requests == []


def test_out_of_sequence_is_discarded_with_the_expected_nr(wire: Wire, meter: Meter) -> None:
    wire.send(wire.client.send_apdu(b"one"))  # the meter expects N(S) = 1 now
    stray = Frame(SERVER, CLIENT, control_i(3, 1), LLC_COMMAND + b"two").encode()
    reply = decode_frame(meter.link.receive(stray))
    assert (reply.kind, reply.nr) == (FrameKind.RR, 1)
    assert meter.requests == [(16, b"one")]
    assert wire.send(wire.client.send_apdu(b"three")).apdus == [b"eerht"]  # the link goes on


def test_a_lost_response_is_sent_again(wire: Wire, meter: Meter) -> None:
    request = wire.client.send_apdu(b"ping")
    lost = meter.link.receive(request)  # never reaches the client
    assert wire.client.receive(meter.link.receive(wire.client.poll_frame())).apdus == [b"gnip"]
    assert meter.requests == [(16, b"ping")]
    # the client repeating its request (its answer was lost) gets the same answer, not a second execution
    request = wire.client.send_apdu(b"pong")
    lost = meter.link.receive(request)
    assert meter.link.receive(request) == lost
    assert wire.client.receive(lost).apdus == [b"gnop"]
    assert meter.requests == [(16, b"ping"), (16, b"pong")]


def test_a_lost_request_segment_is_sent_again(wire: Wire, meter: Meter) -> None:
    apdu = bytes(range(256)) + bytes(44)
    rr = meter.link.receive(wire.client.send_apdu(apdu))  # the server acknowledges the first segment
    second = wire.client.receive(rr).send  # ... and the second is lost on the line
    assert decode_frame(second).ns == 1 and decode_frame(second).segmented
    # the client's timeout: it polls; the server's RR says it still expects N(S) = 1, so the client repeats it
    again = wire.client.receive(meter.link.receive(wire.client.poll_frame())).send
    assert again == second
    assert wire.send(again).apdus == [apdu[::-1]]
    assert meter.requests == [(16, apdu)]


def test_no_response_apdu_is_acknowledged_with_rr(wire: Wire, meter: Meter) -> None:
    meter.echo = False
    events = wire.send(wire.client.send_apdu(b"unconfirmed"))
    assert events.apdus == [] and wire.down[-1].kind is FrameKind.RR and wire.client.idle


def test_bad_fcs_is_ignored(meter: Meter) -> None:
    assert meter.link.receive(flip(SNRM_CLASSIC, 6)) == b""
    assert meter.link.decoder.dropped == 1 and isinstance(meter.link.decoder.last_error, BadFcsError)
    assert meter.link.connected == frozenset()
    assert decode_frame(meter.link.receive(SNRM_CLASSIC)).kind is FrameKind.UA


@pytest.mark.parametrize("dest", [HdlcAddress(1, 18), HdlcAddress(2, 17), HdlcAddress(2), HdlcAddress(1, 17, 4)])
def test_frames_for_other_addresses_are_ignored(dest: HdlcAddress) -> None:
    meter = Meter()
    reply = meter.link.receive(Frame(dest, CLIENT, SNRM).encode())
    assert (reply == b"") == (not dest.same_station(SERVER))  # 1/17 in the 4-octet form is still us
    assert Meter(accept_upper_only=False).link.receive(Frame(HdlcAddress(1), CLIENT, SNRM).encode()) == b""
    assert Meter().link.receive(Frame(SERVER, SERVER, SNRM).encode()) == b""  # not from a client


def test_multi_drop_bus() -> None:
    """Three meters on one RS-485 line: only the addressed one answers; each keeps its own state."""
    meters = {lower: Meter(1, lower) for lower in (17, 18, 19)}
    client = HdlcClientLink(16, 1, 18)
    replies = {lower: m.link.receive(client.connect_frame()) for lower, m in meters.items()}
    assert replies[17] == replies[19] == b"" and decode_frame(replies[18]).kind is FrameKind.UA
    assert client.receive(replies[18]).connected is not None
    request = client.send_apdu(b"hello")
    answers = [m.link.receive(request) for m in meters.values()]
    assert client.receive(b"".join(answers)).apdus == [b"olleh"]
    assert [m.requests for m in meters.values()] == [[], [(16, b"hello")], []]


def test_two_clients_each_with_its_connection(meter: Meter) -> None:
    public = Wire(HdlcClientLink(16, 1, 17), meter)
    management = Wire(HdlcClientLink(1, 1, 17), meter)
    public.connect()
    management.connect()
    assert management.send(management.client.send_apdu(b"mgmt")).apdus == [b"tmgm"]
    assert public.send(public.client.send_apdu(b"pub")).apdus == [b"bup"]
    management.send(management.client.disconnect_frame())
    assert meter.released == [1] and meter.link.connected == {16}
    assert meter.requests == [(1, b"mgmt"), (16, b"pub")]


def test_unknown_command_is_frmr_until_snrm(wire: Wire, meter: Meter) -> None:
    reply = decode_frame(meter.link.receive(Frame(SERVER, CLIENT, 0x19).encode()))  # REJ: not in DLMS
    assert reply.kind is FrameKind.FRMR
    assert FrameReject.decode(reply.info) == FrameReject(0x19, vs=0, vr=0, w=True)
    # the FRMR condition: everything but SNRM and DISC gets the same FRMR
    assert meter.link.receive(Frame(SERVER, CLIENT, control_i(0, 0), LLC_COMMAND + b"x").encode()) == reply.encode()
    assert meter.requests == []
    with pytest.raises(FrameRejectedError) as err:
        wire.client.receive(reply.encode())
    assert err.value.reject == FrameReject(0x19, vs=0, vr=0, w=True)
    wire.connect()
    assert wire.send(wire.client.send_apdu(b"ok")).apdus == [b"ko"]


def test_rejected_i_frames(wire: Wire, meter: Meter) -> None:
    too_long = Frame(SERVER, CLIENT, control_i(0, 0), LLC_COMMAND + bytes(200)).encode()  # 128 agreed
    assert FrameReject.decode(decode_frame(meter.link.receive(too_long)).info) == FrameReject(0x10, 0, 0, y=True)
    wire.connect()
    no_llc = Frame(SERVER, CLIENT, control_i(0, 0), b"\xc0\x01\xc1").encode()
    assert FrameReject.decode(decode_frame(meter.link.receive(no_llc)).info) == FrameReject(0x10, 0, 0, x=True)
    wire.connect()
    bad_nr = Frame(SERVER, CLIENT, control_i(0, 4), LLC_COMMAND).encode()
    assert FrameReject.decode(decode_frame(meter.link.receive(bad_nr)).info) == FrameReject(0x90, 0, 0, z=True)
    bad_snrm = Frame(SERVER, CLIENT, SNRM, b"\x80\x80\x00").encode()
    assert decode_frame(meter.link.receive(bad_snrm)).kind is FrameKind.FRMR
    assert meter.requests == []


def test_rnr_and_plain_polls(wire: Wire, meter: Meter) -> None:
    reply = decode_frame(meter.link.receive(Frame(SERVER, CLIENT, control_rnr(0)).encode()))
    assert (reply.kind, reply.nr) == (FrameKind.RR, 0)
    reply = decode_frame(meter.link.receive(Frame(SERVER, CLIENT, control_rr(0)).encode()))
    assert (reply.kind, reply.nr) == (FrameKind.RR, 0)
    assert meter.link.receive(Frame(SERVER, CLIENT, control_rr(0, pf=False)).encode()) == b""  # not polled


def test_ui_frames(meter: Meter) -> None:
    meter.link.receive(Frame(SERVER, CLIENT, UI, LLC_COMMAND + b"note").encode())
    meter.link.receive(Frame(HdlcAddress(0x7F, 0x7F), CLIENT, UI, LLC_COMMAND + b"all").encode())
    assert meter.link.receive(Frame(HdlcAddress(0x7F), CLIENT, SNRM).encode()) == b""  # broadcast SNRM: nothing
    assert meter.requests == [(16, b"note"), (16, b"all")]
    client = HdlcClientLink(16, 1, 17)
    events = client.receive(Frame(CLIENT, SERVER, UI, LLC_RESPONSE + b"event").encode())
    assert events.notifications == [b"event"]


def test_reset_releases_every_association(wire: Wire, meter: Meter) -> None:
    Wire(HdlcClientLink(1, 1, 17), meter).connect()
    meter.link.receive(SNRM_CLASSIC[:4])  # half a frame pending
    meter.link.reset()
    assert sorted(meter.released) == [1, 16] and meter.link.connected == frozenset()
    assert meter.link.decoder.buffered == 0


# -- client errors ---------------------------------------------------------------------------------------------
def test_client_refused_and_state_errors(meter: Meter) -> None:
    client = HdlcClientLink(16, 1, 17)
    assert client.receive(Frame(CLIENT, SERVER, DM).encode()) == ClientEvents()  # nothing asked: a late DM
    client.connect_frame()
    assert client.receive(Frame(CLIENT, SERVER, DM).encode()).refused and client.state is LinkState.DISCONNECTED
    client.connect_frame()
    with pytest.raises(UnexpectedFrameError) as err:
        client.receive(Frame(CLIENT, SERVER, control_rr(0)).encode())
    assert err.value.field == "control" and isinstance(err.value.frame, Frame)
    client = HdlcClientLink(16, 1, 17)
    Wire(client, meter).connect()
    client.send_apdu(bytes(500))
    with pytest.raises(LinkBusyError):
        client.send_apdu(b"x")


def test_client_wrong_address_and_echo() -> None:
    client = HdlcClientLink(16, 1, 17)
    snrm = client.connect_frame()
    assert client.receive(snrm) == ClientEvents()  # our own frame echoed by a half-duplex line: not for us
    assert client.receive(Frame(HdlcAddress.client(1), SERVER, UA).encode()) == ClientEvents()  # another client's
    with pytest.raises(WrongAddressError) as err:
        client.receive(Frame(CLIENT, HdlcAddress(1, 18), UA).encode())
    assert err.value.field == "source address"
    assert client.receive(Frame(CLIENT, HdlcAddress(1, 17, 4), UA).encode()).connected == LinkParameters()


def test_client_strict_checksums_keep_the_events() -> None:
    client = HdlcClientLink(16, 1, 17)
    client.connect_frame()
    ua = Frame(CLIENT, SERVER, UA, LinkParameters().encode()).encode()
    with pytest.raises(BadFcsError) as err:
        client.receive(ua + flip(ua, 12)[1:] + Frame(CLIENT, SERVER, DM).encode()[1:])
    assert err.value.field == "FCS" and err.value.events is not None
    assert err.value.events.connected == LinkParameters()  # the frame before the bad one was taken
    assert client.receive(b"").disconnected  # the frame after it was kept for the next call
    lenient = HdlcClientLink(16, 1, 17, strict=False)
    lenient.connect_frame()
    assert lenient.receive(flip(ua, 12) + ua).connected == LinkParameters()
    assert lenient.decoder.dropped == 1


def test_client_response_without_llc(wire: Wire) -> None:
    wire.client.send_apdu(b"x")
    with pytest.raises(UnexpectedFrameError) as err:
        wire.client.receive(Frame(CLIENT, SERVER, control_i(0, 1), b"\xc4\x01").encode())
    assert err.value.field == "LLC"


# -- robustness ----------------------------------------------------------------------------------------------------
CHUNKS = 200


def test_random_bytes_never_crash_the_server() -> None:
    """In the style of tests/test_sim_fuzz.py: random chunks, some ending in a flag, never raise; whatever the meter
    answers is well-formed frames from its own address to a client, and it still answers a proper SNRM."""
    rng = random.Random(20261124)
    meter = Meter()
    replies = bytearray()
    for _ in range(CHUNKS):
        n = rng.choice([1, 7, 64, 500, 4096])
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if rng.random() < 0.5:
            data += rng.choice([b"\x7e", b"\x7e\xa0", SNRM_CLASSIC[:5], b"\x7e\x7e"])
        replies += meter.link.receive(data)
    decoder = FrameDecoder()
    for frame in decoder.feed(bytes(replies)):
        assert frame.destination.size == 1
        assert frame.source.same_station(SERVER) or frame.source == HdlcAddress(1)
    assert decoder.dropped == 0 and decoder.buffered <= 1
    meter.link.receive(bytes(MAX_WIRE_FRAME))  # the line falls silent long enough to end any false start
    assert decode_frame(meter.link.receive(SNRM_CLASSIC)).kind is FrameKind.UA


def _connected_pieces() -> list[bytes]:
    return [
        SNRM_CLASSIC,
        Frame(SERVER, CLIENT, SNRM, LinkParameters(64, 64, 3, 3).encode()).encode(),
        Frame(SERVER, CLIENT, DISC).encode(),
        *(Frame(SERVER, CLIENT, control_i(ns, nr), LLC_COMMAND + b"\xc0\x01", seg).encode()
          for ns in range(3) for nr in range(2) for seg in (False, True)),
        Frame(SERVER, CLIENT, control_i(0, 0), b"\x00" * 130).encode(),
        *(Frame(SERVER, CLIENT, control_rr(nr)).encode() for nr in range(3)),
        Frame(SERVER, CLIENT, control_rnr(0)).encode(),
        Frame(SERVER, CLIENT, 0x19).encode(),
        Frame(SERVER, CLIENT, UA).encode(),
        Frame(HdlcAddress(1, 18), CLIENT, SNRM).encode(),
        flip(SNRM_CLASSIC, 3),
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_connected_pieces()), st.binary(max_size=6)), max_size=30),
       st.sampled_from([None, b"", b"\x01" * 700]))
def test_any_dialogue_gets_only_well_formed_replies(pieces: list[bytes], reply: bytes | None) -> None:
    meter = Meter()
    meter.echo = False
    meter.reply = reply
    out = b"".join(meter.link.receive(piece) for piece in pieces)
    decoder = FrameDecoder()
    for frame in decoder.feed(out):
        assert frame.destination == CLIENT
        assert frame.source.same_station(SERVER) or frame.source == HdlcAddress(1)
        assert frame.kind in (FrameKind.UA, FrameKind.DM, FrameKind.RR, FrameKind.I, FrameKind.FRMR)
        assert len(frame.info) <= 128
    assert decoder.dropped == 0 and decoder.buffered <= 1
    assert len(meter.released) <= len(pieces)


# -- how a simulated meter embeds the link --------------------------------------------------------------------------
class HdlcMeterSession:
    """An ``instruments.simulators.net.Session`` speaking HDLC: the pattern the simulated meter uses."""

    def __init__(self, meter: Meter) -> None:
        self.link = HdlcServerLink(1, 17, meter.deliver, on_disconnect=meter.released.append)

    def data_received(self, data: bytes, out: Output) -> None:
        reply = self.link.receive(data)
        if reply:
            out.write(reply)

    def eof_received(self, out: Output) -> None:
        pass

    def connection_lost(self) -> None:
        self.link.reset()  # the association goes with the connection


def test_session_embedding() -> None:
    meter = Meter()
    session = HdlcMeterSession(meter)
    out = Out()
    client = HdlcClientLink(16, 1, 17)
    for byte in client.connect_frame():  # one octet at a time, as a slow serial line delivers them
        session.data_received(bytes([byte]), out)
    assert client.receive(out.data).connected == LinkParameters()
    out.data = b""
    session.data_received(client.send_apdu(b"abc"), out)
    assert client.receive(out.data).apdus == [b"cba"]
    session.connection_lost()
    assert meter.released == [16]


# -- cross-check with dlms-cosem (BSL-licensed: run only in a subprocess, never imported here) ----------------------
CHECKER_PYTHON = os.environ.get("MHL_CHECKER_PYTHON", sys.executable)

CHECKER = r"""
import json, sys
from dlms_cosem.hdlc import address, fields, frames

req = json.load(sys.stdin)
out = {"parsed": [], "built": {}}

def addr(a):
    return [a.logical_address, a.physical_address, a.length]

for item in req["parse"]:
    raw = bytes.fromhex(item["hex"])
    fmt = fields.DlmsHdlcFrameFormatField.from_bytes(raw[1:3])
    dest, src = address.HdlcAddress.find_address_in_frame_bytes(raw)
    at = 3 + dest[2] + src[2]
    res = {"length": fmt.length, "segmented": fmt.segmented, "dest": list(dest), "src": list(src),
           "control": raw[at], "fcs_ok": frames.FCS.calculate_for(raw[1:-3]) == raw[-3:-1]}
    if len(raw) - 2 > at + 2:
        res["hcs_ok"] = frames.HCS.calculate_for(raw[1:at + 1]) == raw[at + 1:at + 3]
    cls = {"ua": frames.UnNumberedAcknowledgmentFrame, "i": frames.InformationFrame,
           "rr": frames.ReceiveReadyFrame, "disc": frames.DisconnectFrame}.get(item["kind"])
    if cls is not None:
        f = cls.from_bytes(raw)
        res["object"] = {"dest": addr(f.destination_address), "src": addr(f.source_address),
                         "same_octets": f.to_bytes() == raw}
        if item["kind"] in ("ua", "i"):
            res["object"]["info"] = f.information.hex()
        if item["kind"] == "i":
            res["object"].update(ssn=f.send_sequence_number, rsn=f.receive_sequence_number, final=f.final,
                                 segmented=f.segmented)
        if item["kind"] == "rr":
            res["object"]["rsn"] = f.receive_sequence_number
    out["parsed"].append(res)

b = req["build"]
client = address.HdlcAddress(b["client"], None, "client")
server = address.HdlcAddress(b["upper"], b["lower"], "server", extended_addressing=b["extended"])
classic = address.HdlcAddress(1, None, "server")
out["built"]["snrm_classic"] = frames.SetNormalResponseModeFrame(classic, client).to_bytes().hex()
out["built"]["snrm"] = frames.SetNormalResponseModeFrame(server, client).to_bytes().hex()
out["built"]["ua"] = frames.UnNumberedAcknowledgmentFrame(client, server, bytes.fromhex(b["params"])).to_bytes().hex()
out["built"]["i_segment"] = frames.InformationFrame(
    server, client, bytes.fromhex(b["info"]), segmented=True, final=True, send_sequence_number=b["ssn"],
    receive_sequence_number=b["rsn"]).to_bytes().hex()
out["built"]["i_last"] = frames.InformationFrame(
    client, server, bytes.fromhex(b["info"]), segmented=False, final=True, send_sequence_number=b["ssn"],
    receive_sequence_number=b["rsn"]).to_bytes().hex()
out["built"]["rr"] = frames.ReceiveReadyFrame(server, client, receive_sequence_number=b["rsn"]).to_bytes().hex()
out["built"]["disc"] = frames.DisconnectFrame(server, client).to_bytes().hex()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dlms_cosem_python() -> str:
    if not Path(CHECKER_PYTHON).exists():
        pytest.skip(f"MHL_CHECKER_PYTHON={CHECKER_PYTHON} does not exist")
    probe = subprocess.run([CHECKER_PYTHON, "-c", "import dlms_cosem"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"dlms-cosem is not importable by {CHECKER_PYTHON}; point MHL_CHECKER_PYTHON at an interpreter"
                    " that has it (python3 -m venv /tmp/hdlcchk && /tmp/hdlcchk/bin/pip install dlms-cosem)")
    return CHECKER_PYTHON


def test_dlms_cosem_cross_check(dlms_cosem_python: str) -> None:
    """dlms-cosem parses frames we encode and encodes frames we parse: SNRM with parameters (it has no SNRM parser,
    so its format-field, address and CRC parsers), UA with parameters, a segmented I frame, RR and DISC, with
    server addresses in the 2- and 4-octet forms."""
    params = LinkParameters(200, 1000, 1, 1)
    server4 = HdlcAddress(1, 0x1234)
    ours = {
        "snrm": Frame(SERVER, CLIENT, SNRM, params.encode()),
        "ua": Frame(CLIENT, server4, UA, params.encode()),
        "i": Frame(CLIENT, SERVER, control_i(3, 5), bytes(range(120)), segmented=True),
        "rr": Frame(CLIENT, SERVER, control_rr(6)),
        "disc": Frame(SERVER, CLIENT, DISC),
    }
    info = (LLC_COMMAND + bytes(range(60))).hex()
    request = {"parse": [{"kind": kind, "hex": frame.encode().hex()} for kind, frame in ours.items()],
               "build": {"client": 16, "upper": 1, "lower": 0x1234, "extended": True, "params": params.encode().hex(),
                         "info": info, "ssn": 2, "rsn": 7}}
    run = subprocess.run([dlms_cosem_python, "-c", CHECKER], input=json.dumps(request), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "dlms_cosem" not in sys.modules  # BSL: never in this process

    def theirs(a: HdlcAddress) -> list[int | None]:
        return [a.upper, a.lower, a.size]

    for (kind, frame), parsed in zip(ours.items(), result["parsed"], strict=True):
        assert parsed["length"] == frame.length and parsed["segmented"] == frame.segmented, kind
        assert parsed["dest"] == theirs(frame.destination) and parsed["src"] == theirs(frame.source), kind
        assert parsed["control"] == frame.control and parsed["fcs_ok"], kind
        assert parsed.get("hcs_ok", True), kind
        if "object" in parsed:
            obj = parsed["object"]
            assert obj["same_octets"] and obj["dest"] == theirs(frame.destination), kind
            assert obj.get("info", frame.info.hex()) == frame.info.hex(), kind
    i_frame = result["parsed"][2]["object"]
    assert (i_frame["ssn"], i_frame["rsn"], i_frame["final"], i_frame["segmented"]) == (3, 5, True, True)
    assert result["parsed"][3]["object"]["rsn"] == 6

    built = {name: decode_frame(bytes.fromhex(raw)) for name, raw in result["built"].items()}
    assert built["snrm_classic"].encode() == SNRM_CLASSIC
    server4x = HdlcAddress(1, 0x1234, 4)
    assert built["snrm"] == Frame(server4x, CLIENT, SNRM)
    assert built["ua"] == Frame(CLIENT, server4x, UA, params.encode())
    assert LinkParameters.decode(built["ua"].info) == params
    assert built["i_segment"] == Frame(server4x, CLIENT, control_i(2, 7), bytes.fromhex(info), segmented=True)
    assert built["i_last"] == Frame(CLIENT, server4x, control_i(2, 7), bytes.fromhex(info))
    assert built["rr"] == Frame(server4x, CLIENT, control_rr(7))
    assert built["disc"] == Frame(server4x, CLIENT, DISC)
    # and our server link accepts what dlms-cosem's client would send
    meter = Meter(1, 0x1234)
    assert decode_frame(meter.link.receive(bytes.fromhex(result["built"]["snrm"]))).kind is FrameKind.UA
