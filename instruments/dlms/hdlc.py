"""HDLC link layer of DLMS/COSEM (IEC 62056-46; DLMS UA Green Book, chapter 8), sans-IO: bytes in, bytes out.

Frame format type 3 (no byte stuffing: the length field alone delimits a frame, so 0x7E may occur inside)::

    7E | format (2) | destination (1, 2 or 4) | source (1, 2 or 4) | control | [HCS (2) | information] | FCS (2) | 7E

The format field is ``1010`` (type 3), the segmentation bit S and an 11-bit length counting every octet between
the flags. An address's octets carry 7 bits each, the least significant bit set on the last octet only. A client
address is one octet (client SAP: 16 public client, 1 management client); a server address is the upper HDLC
address (logical device, 1 = management logical device) alone (1 octet), upper and lower (physical device) address
in one octet each (2), or in two octets each, 14 bits (4). HCS and FCS are CRC-16/X.25 (:func:`crc16_x25`), sent
least significant octet first; the HCS covers format … control and is present only with an information field, the
FCS covers format … information.

Control field (first bit transmitted = least significant): I ``NR P/F NS 0``, RR ``NR P/F 00 01``,
RNR ``NR P/F 01 01``; the unnumbered frames SNRM 0x93, DISC 0x53, UA 0x73, DM 0x1F, FRMR 0x97, UI 0x13 (P/F set).

The information field of an I (or UI) frame carrying an APDU starts with the LLC header E6 E6 00 (client to
server) or E6 E7 00 (server to client); an APDU longer than the negotiated maximum information field length is
split over I frames with S = 1 on all but the last, the LLC header in the first one only (it counts towards the
maximum). The SNRM/UA information field negotiates the link (format identifier 0x81, group 0x80, parameters
0x05/0x06 maximum information field length transmit/receive and 0x07/0x08 window size transmit/receive, each
from the sender's point of view; defaults 128 octets and window 1). This implementation supports window 1 only:
every frame is sent with P/F = 1 and answered before the next one goes.

:class:`FrameDecoder` cuts a byte stream into checked frames; :class:`HdlcServerLink` is the meter's side
(one per connection, state per client address) and :class:`HdlcClientLink` the client's. Neither touches a socket
or a clock: timeouts and retries belong to their owner (:meth:`FrameDecoder.timeout`,
:meth:`HdlcClientLink.poll_frame`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

FLAG = 0x7E
#: format type 3 in the four high bits of the format field
FORMAT_TYPE = 0xA
_SEGMENTED = 0x08
#: the 11-bit length field: every octet between the flags
MAX_FRAME_LENGTH = 0x7FF
#: the longest legal frame on the wire, both flags included; :class:`FrameDecoder` never holds more
MAX_WIRE_FRAME = MAX_FRAME_LENGTH + 2
#: format (2) + one-octet addresses (2) + control + FCS (2)
MIN_FRAME_LENGTH = 7
#: the largest information field a frame can carry (4-octet addresses both ways, HCS and FCS)
MAX_INFO_LENGTH = MAX_FRAME_LENGTH - (2 + 4 + 4 + 1 + 2 + 2)

LLC_COMMAND = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"

DEFAULT_MAX_INFO = 128
DEFAULT_WINDOW = 1

#: reserved client addresses
NO_STATION = 0x00
MANAGEMENT_CLIENT = 0x01
PUBLIC_CLIENT = 0x10
#: the upper address of the management logical device
MANAGEMENT_LOGICAL_DEVICE = 0x01
#: all-station (broadcast) address in 7-bit (1- and 2-octet forms) and 14-bit (4-octet form) fields
ALL_STATION = 0x7F
ALL_STATION_14 = 0x3FFF

PF = 0x10
SNRM = 0x93
DISC = 0x53
UA = 0x73
DM = 0x1F
FRMR = 0x97
UI = 0x13

#: the parameter negotiation field (SNRM and UA information field)
PARAMETERS_FORMAT = 0x81
PARAMETERS_GROUP = 0x80
PARAM_MAX_INFO_TX = 0x05
PARAM_MAX_INFO_RX = 0x06
PARAM_WINDOW_TX = 0x07
PARAM_WINDOW_RX = 0x08


# -- CRC ---------------------------------------------------------------------------------------------------------
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 (the HDLC FCS-16 of RFC 1662 and ISO/IEC 13239): polynomial 0x1021 processed reflected (0x8408),
    initial value 0xFFFF, final XOR 0xFFFF. ``crc16_x25(b"123456789") == 0x906E``."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def fcs(data: bytes | bytearray | memoryview) -> bytes:
    """The HCS or FCS of ``data`` as it goes on the wire (least significant octet first)."""
    return crc16_x25(data).to_bytes(2, "little")


# -- errors ------------------------------------------------------------------------------------------------------
class HdlcError(Exception):
    """A frame or an exchange that the HDLC layer refuses. ``field`` names the part at fault (``"FCS"``,
    ``"destination address"``, ``"control"`` …), ``frame`` holds the frame or the raw octets concerned.

    When :meth:`HdlcClientLink.receive` raises, ``events`` holds what the frames before the faulty one produced
    (the frames after it are kept for the next call)."""

    def __init__(self, message: str, *, field: str | None = None, frame: Frame | bytes | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.frame = frame
        self.events: ClientEvents | None = None


class FrameFormatError(HdlcError):
    """Octets that are not a well-formed frame: format type, length, address extension, closing flag."""


class ChecksumError(FrameFormatError):
    """A header or frame check sequence that does not match the octets it covers."""


class BadHcsError(ChecksumError):
    """The header check sequence is wrong."""


class BadFcsError(ChecksumError):
    """The frame check sequence is wrong."""


class ParameterError(HdlcError):
    """An SNRM/UA information field that is not a parameter negotiation field."""


class LinkProtocolError(HdlcError):
    """A well-formed frame that the link's state does not allow."""


class UnexpectedFrameError(LinkProtocolError):
    """A frame whose control field (or sequence number, or LLC header) is not what the link expects now."""


class FrameRejectedError(LinkProtocolError):
    """The peer answered FRMR; ``reject`` is its parsed information field (``None`` if malformed)."""

    def __init__(self, message: str, *, reject: FrameReject | None, frame: Frame) -> None:
        super().__init__(message, field="control", frame=frame)
        self.reject = reject


class WrongAddressError(LinkProtocolError):
    """A frame for this client from another server than the one it talks to."""


class NotConnectedError(LinkProtocolError):
    """An APDU to send while the link is not connected."""


class LinkBusyError(LinkProtocolError):
    """An APDU to send while the previous exchange is still under way (window 1: one at a time)."""


# -- addresses ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HdlcAddress:
    """One address field. ``upper`` is the client SAP or the server's upper HDLC address (logical device),
    ``lower`` the server's lower HDLC address (physical device) or ``None``; ``size`` the octets on the wire (1, 2
    or 4; 0 picks the smallest that fits: 1 without ``lower``, 2 when both fit 7 bits, else 4)."""

    upper: int
    lower: int | None = None
    size: int = 0

    def __post_init__(self) -> None:
        upper, lower = self.upper, self.lower
        size = self.size
        if size == 0:
            size = 1 if lower is None else 2 if upper <= 0x7F and lower <= 0x7F else 4
        if size not in (1, 2, 4):
            raise ValueError(f"an HDLC address is 1, 2 or 4 octets, not {size}")
        if (lower is None) != (size == 1):
            raise ValueError(f"a {size}-octet HDLC address {'needs' if size != 1 else 'has no'} lower address"
                             f" (upper {upper}, lower {lower})")
        limit = ALL_STATION_14 if size == 4 else ALL_STATION
        for name, value in (("upper", upper), ("lower", lower)):
            if value is not None and not 0 <= value <= limit:
                raise ValueError(f"{name} HDLC address {value} does not fit a {size}-octet address (0..{limit})")
        object.__setattr__(self, "size", size)

    @classmethod
    def client(cls, sap: int) -> HdlcAddress:
        """A client address (one octet)."""
        return cls(sap, None, 1)

    @classmethod
    def server(cls, upper: int, lower: int | None = None, size: int = 0) -> HdlcAddress:
        return cls(upper, lower, size)

    def encode(self) -> bytes:
        upper, lower = self.upper, self.lower
        if lower is None:
            return bytes([(upper << 1) | 1])
        if self.size == 2:
            return bytes([upper << 1, (lower << 1) | 1])
        return bytes([(upper >> 7) << 1, (upper & 0x7F) << 1, (lower >> 7) << 1, ((lower & 0x7F) << 1) | 1])

    @classmethod
    def decode(cls, octets: bytes) -> HdlcAddress:
        """The address in ``octets`` (exactly one address field, its last octet's LSB set)."""
        n = len(octets)
        if n not in (1, 2, 4) or not octets[-1] & 1 or any(b & 1 for b in octets[:-1]):
            raise FrameFormatError(f"not an HDLC address field: {octets.hex(' ').upper()}", field="address",
                                   frame=octets)
        if n == 1:
            return cls(octets[0] >> 1, None, 1)
        if n == 2:
            return cls(octets[0] >> 1, octets[1] >> 1, 2)
        return cls(((octets[0] >> 1) << 7) | (octets[1] >> 1), ((octets[2] >> 1) << 7) | (octets[3] >> 1), 4)

    def same_station(self, other: HdlcAddress) -> bool:
        """Same upper and lower address, whatever the octet form."""
        return self.upper == other.upper and self.lower == other.lower

    @property
    def all_station(self) -> bool:
        """Either part is the all-station (broadcast) address."""
        limit = ALL_STATION_14 if self.size == 4 else ALL_STATION
        return self.upper == limit or self.lower == limit

    def __str__(self) -> str:
        return str(self.upper) if self.lower is None else f"{self.upper}/{self.lower}"


# -- control field -----------------------------------------------------------------------------------------------
class FrameKind(Enum):
    I = "I"  # noqa: E741 -- the frame's name in the standard
    RR = "RR"
    RNR = "RNR"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"
    UNKNOWN = "unknown"


_UNNUMBERED = {SNRM & ~PF: FrameKind.SNRM, DISC & ~PF: FrameKind.DISC, UA & ~PF: FrameKind.UA, DM & ~PF: FrameKind.DM,
               FRMR & ~PF: FrameKind.FRMR, UI & ~PF: FrameKind.UI}  # fmt: skip


def _seq(name: str, value: int) -> int:
    if not 0 <= value <= 7:
        raise ValueError(f"{name} is a 3-bit sequence number (0..7), not {value}")
    return value


def control_i(ns: int, nr: int, pf: bool = True) -> int:
    """Control field of an I frame: N(S) = ``ns``, N(R) = ``nr``."""
    return (_seq("N(R)", nr) << 5) | (PF if pf else 0) | (_seq("N(S)", ns) << 1)


def control_rr(nr: int, pf: bool = True) -> int:
    return (_seq("N(R)", nr) << 5) | (PF if pf else 0) | 0x01


def control_rnr(nr: int, pf: bool = True) -> int:
    return (_seq("N(R)", nr) << 5) | (PF if pf else 0) | 0x05


def classify(control: int) -> FrameKind:
    if not control & 0x01:
        return FrameKind.I
    if control & 0x03 == 0x01:
        return {0x01: FrameKind.RR, 0x05: FrameKind.RNR}.get(control & 0x0F, FrameKind.UNKNOWN)  # REJ, SREJ: unused
    return _UNNUMBERED.get(control & ~PF & 0xFF, FrameKind.UNKNOWN)


def poll_final(control: int) -> bool:
    return bool(control & PF)


def ns_of(control: int) -> int:
    """N(S) of an I frame."""
    return (control >> 1) & 0x07


def nr_of(control: int) -> int:
    """N(R) of an I, RR or RNR frame."""
    return (control >> 5) & 0x07


def describe_control(control: int) -> str:
    """``I(NS=0 NR=1 P/F)``, ``RR(NR=2)``, ``SNRM``, ``unknown 0x0B`` …"""
    kind = classify(control)
    pf = " P/F" if poll_final(control) else ""
    if kind is FrameKind.I:
        return f"I(NS={ns_of(control)} NR={nr_of(control)}{pf})"
    if kind in (FrameKind.RR, FrameKind.RNR):
        return f"{kind.value}(NR={nr_of(control)}{pf})"
    if kind is FrameKind.UNKNOWN:
        return f"unknown control 0x{control:02X}"
    return f"{kind.value}{'' if pf else ' (P/F clear)'}"


# -- frames ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One HDLC frame; :meth:`encode` gives its octets with both flags."""

    destination: HdlcAddress
    source: HdlcAddress
    control: int
    info: bytes = b""
    segmented: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.control <= 0xFF:
            raise ValueError(f"control field is one octet, not {self.control}")
        object.__setattr__(self, "info", bytes(self.info))
        if self.length > MAX_FRAME_LENGTH:
            raise ValueError(f"frame of {self.length} octets exceeds the 11-bit length field ({MAX_FRAME_LENGTH});"
                             f" information field of {len(self.info)} octets")

    @property
    def length(self) -> int:
        """The format field's length: every octet between the flags."""
        header = 2 + self.destination.size + self.source.size + 1
        return header + (2 + len(self.info) if self.info else 0) + 2

    @property
    def kind(self) -> FrameKind:
        return classify(self.control)

    @property
    def pf(self) -> bool:
        return poll_final(self.control)

    @property
    def ns(self) -> int:
        return ns_of(self.control)

    @property
    def nr(self) -> int:
        return nr_of(self.control)

    def encode(self) -> bytes:
        length = self.length
        fmt = (FORMAT_TYPE << 12) | (_SEGMENTED << 8 if self.segmented else 0) | length
        header = fmt.to_bytes(2, "big") + self.destination.encode() + self.source.encode() + bytes([self.control])
        body = header + fcs(header) + self.info if self.info else header
        return bytes([FLAG]) + body + fcs(body) + bytes([FLAG])

    def __str__(self) -> str:
        seg = " S" if self.segmented else ""
        info = f" {len(self.info)} octets" if self.info else ""
        return f"{describe_control(self.control)} {self.source}->{self.destination}{seg}{info}"


def _examine(buf: bytes | bytearray, pos: int) -> tuple[Frame, int] | HdlcError | None:
    """The frame whose opening flag is ``buf[pos]``, with its length field; an error if it cannot be one;
    ``None`` while more octets are needed to tell. Everything that can be checked early (addresses, length,
    HCS) is checked before the whole frame has arrived, so garbage is refused after a few octets."""
    end = len(buf)
    if end - pos < 3:
        return None
    fmt = buf[pos + 1]
    if fmt >> 4 != FORMAT_TYPE:
        return FrameFormatError(f"format type 0x{fmt >> 4:X}, not 0xA (frame format type 3)", field="format",
                                frame=bytes(buf[pos:pos + 3]))
    length = ((fmt & 0x07) << 8) | buf[pos + 2]
    if length < MIN_FRAME_LENGTH:
        return FrameFormatError(f"frame length {length} is below the minimum of {MIN_FRAME_LENGTH}", field="length",
                                frame=bytes(buf[pos:pos + 3]))
    i = pos + 3
    addresses: list[HdlcAddress] = []
    for name in ("destination address", "source address"):
        start = i
        while True:
            if i - start == 4:
                return FrameFormatError(f"{name} runs past 4 octets without its end bit", field=name,
                                        frame=bytes(buf[pos:i]))
            if i >= end:
                return None
            i += 1
            if buf[i - 1] & 1:
                break
        if i - start == 3:
            return FrameFormatError(f"{name} of 3 octets (1, 2 or 4 allowed)", field=name, frame=bytes(buf[pos:i]))
        addresses.append(HdlcAddress.decode(bytes(buf[start:i])))
    header = i + 1 - (pos + 1)  # format … control
    if length == header + 2:
        has_info = False
    elif length < header + 5:
        return FrameFormatError(f"frame length {length} does not fit its {header}-octet header, HCS, information"
                                f" and FCS", field="length", frame=bytes(buf[pos:min(end, i + 1)]))
    else:
        has_info = True
        hcs_end = pos + 1 + header + 2
        if end < hcs_end:
            return None
        if crc16_x25(memoryview(buf)[pos + 1:pos + 1 + header]) != int.from_bytes(buf[hcs_end - 2:hcs_end], "little"):
            return BadHcsError(f"HCS {bytes(buf[hcs_end - 2:hcs_end]).hex(' ').upper()} does not match the header"
                               f" {bytes(buf[pos + 1:pos + 1 + header]).hex(' ').upper()}", field="HCS",
                               frame=bytes(buf[pos:hcs_end]))
    total = length + 2
    if end - pos < total:
        return None
    raw = bytes(buf[pos:pos + total])
    if raw[-1] != FLAG:
        return FrameFormatError(f"no closing flag after {length} octets (found 0x{raw[-1]:02X})",
                                field="closing flag", frame=raw)
    if crc16_x25(memoryview(raw)[1:-3]) != int.from_bytes(raw[-3:-1], "little"):
        return BadFcsError(f"FCS {raw[-3:-1].hex(' ').upper()} does not match the frame", field="FCS", frame=raw)
    control = raw[header]
    info = raw[header + 3:-3] if has_info else b""
    return Frame(addresses[0], addresses[1], control, info, bool(fmt & _SEGMENTED)), length


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame, both flags included; raises the :class:`HdlcError` that says what is wrong."""
    if not data or data[0] != FLAG:
        raise FrameFormatError("no opening flag", field="opening flag", frame=bytes(data[:1]))
    result = _examine(data, 0)
    if result is None:
        raise FrameFormatError(f"truncated frame of {len(data)} octets", field="length", frame=bytes(data))
    if isinstance(result, HdlcError):
        raise result
    frame, length = result
    if len(data) != length + 2:
        raise FrameFormatError(f"{len(data) - length - 2} octets after the closing flag", field="length",
                               frame=bytes(data))
    return frame


class FrameDecoder:
    """Cuts a byte stream into checked frames.

    Octets before a flag are skipped; a flag followed by anything but a type-3 format field is not an opening flag
    (inter-frame fill, a closing flag, noise); a frame with a bad length, address, HCS, FCS or closing flag is
    dropped (``dropped``, ``last_error``) and the search resumes one octet after its opening flag, so a frame hidden
    behind a false start is still found. The closing flag of one frame may open the next. The pending input never
    exceeds :data:`MAX_WIRE_FRAME` octets, however the stream is chunked, and the work is linear in the input.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.dropped = 0
        self.last_error: HdlcError | None = None

    @property
    def last_reason(self) -> str | None:
        """Why the last dropped frame was dropped."""
        return None if self.last_error is None else str(self.last_error)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        return [item for item in self.feed_items(data) if isinstance(item, Frame)]

    def feed_items(self, data: bytes) -> list[Frame | HdlcError]:
        """Frames and the errors of dropped frames, in stream order."""
        items: list[Frame | HdlcError] = []
        view = memoryview(data)
        offset = 0
        while True:
            room = MAX_WIRE_FRAME - len(self._buf)
            self._buf += view[offset:offset + room]
            offset += room
            self._scan(items)
            if offset >= len(view):
                return items

    def timeout(self) -> list[Frame]:
        """The line has been quiet for the inter-character timeout: the frame being waited for will not be
        completed. It is dropped and what followed its opening flag is searched again."""
        items: list[Frame | HdlcError] = []
        if len(self._buf) > 1:
            err = FrameFormatError(f"incomplete frame of {len(self._buf)} octets timed out", field="length",
                                   frame=bytes(self._buf))
            self._reject(err)
            del self._buf[:1]
            self._scan(items)
        else:
            self._buf.clear()
        return [item for item in items if isinstance(item, Frame)]

    def reset(self) -> None:
        self._buf.clear()

    def _reject(self, err: HdlcError) -> None:
        self.dropped += 1
        self.last_error = err

    def _scan(self, items: list[Frame | HdlcError]) -> None:
        buf = self._buf
        pos = 0
        while True:
            start = buf.find(FLAG, pos)
            if start < 0:
                pos = len(buf)
                break
            if start + 1 < len(buf) and buf[start + 1] >> 4 != FORMAT_TYPE:
                pos = start + 1  # not an opening flag
                continue
            result = _examine(buf, start)
            if result is None:
                pos = start
                break
            if isinstance(result, HdlcError):
                self._reject(result)
                items.append(result)
                pos = start + 1
                continue
            frame, length = result
            self.frames += 1
            items.append(frame)
            pos = start + length + 1  # the closing flag may be the next frame's opening flag
        del buf[:pos]


# -- SNRM/UA parameters, FRMR information --------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkParameters:
    """The negotiated link parameters from one station's point of view (``tx``: what it sends)."""

    max_info_tx: int = DEFAULT_MAX_INFO
    max_info_rx: int = DEFAULT_MAX_INFO
    window_tx: int = DEFAULT_WINDOW
    window_rx: int = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        for name in ("max_info_tx", "max_info_rx", "window_tx", "window_rx"):
            value = getattr(self, name)
            if not 1 <= value <= 0xFFFFFFFF:
                raise ValueError(f"{name} must be 1..4294967295, not {value}")

    def encode(self) -> bytes:
        """The negotiation field: lengths in the fewest of 1, 2 or 4 octets, windows in 4 (as the Green Book's
        examples)."""

        def param(pid: int, value: int, size: int | None = None) -> bytes:
            n = size or (1 if value <= 0xFF else 2 if value <= 0xFFFF else 4)
            return bytes([pid, n]) + value.to_bytes(n, "big")

        body = (param(PARAM_MAX_INFO_TX, self.max_info_tx) + param(PARAM_MAX_INFO_RX, self.max_info_rx)
                + param(PARAM_WINDOW_TX, self.window_tx, 4) + param(PARAM_WINDOW_RX, self.window_rx, 4))
        return bytes([PARAMETERS_FORMAT, PARAMETERS_GROUP, len(body)]) + body

    @classmethod
    def decode(cls, info: bytes) -> LinkParameters:
        """The parameters of an SNRM or UA information field; absent ones (or no field at all) take the defaults.
        Groups other than 0x80 and unknown parameter identifiers are skipped."""
        if not info:
            return cls()
        if info[0] != PARAMETERS_FORMAT:
            raise ParameterError(f"format identifier 0x{info[0]:02X}, not 0x81", field="format identifier",
                                 frame=bytes(info))
        values: dict[int, int] = {}
        i = 1
        while i < len(info):
            if i + 2 > len(info):
                raise ParameterError("group identifier without a group length", field="group length",
                                     frame=bytes(info))
            gid, glen = info[i], info[i + 1]
            i += 2
            if i + glen > len(info):
                raise ParameterError(f"group 0x{gid:02X} of {glen} octets, {len(info) - i} left", field="group length",
                                     frame=bytes(info))
            group = info[i:i + glen]
            i += glen
            if gid != PARAMETERS_GROUP:
                continue
            j = 0
            while j < len(group):
                if j + 2 > len(group):
                    raise ParameterError("parameter identifier without a length", field="parameter",
                                         frame=bytes(info))
                pid, plen = group[j], group[j + 1]
                j += 2
                if not 1 <= plen <= 4 or j + plen > len(group):
                    raise ParameterError(f"parameter 0x{pid:02X} of length {plen}", field="parameter",
                                         frame=bytes(info))
                values[pid] = int.from_bytes(group[j:j + plen], "big")
                j += plen
        try:
            return cls(values.get(PARAM_MAX_INFO_TX, DEFAULT_MAX_INFO), values.get(PARAM_MAX_INFO_RX, DEFAULT_MAX_INFO),
                       values.get(PARAM_WINDOW_TX, DEFAULT_WINDOW), values.get(PARAM_WINDOW_RX, DEFAULT_WINDOW))
        except ValueError as exc:
            raise ParameterError(str(exc), field="parameter", frame=bytes(info)) from None


@dataclass(frozen=True)
class FrameReject:
    """The FRMR information field (ISO/IEC 13239, basic control field format): the rejected frame's control field;
    V(S), C/R and V(R) of the rejecting station; the reasons W (control field undefined or not implemented),
    X (information field not permitted or invalid), Y (information field too long), Z (invalid N(R))."""

    control: int
    vs: int
    vr: int
    w: bool = False
    x: bool = False
    y: bool = False
    z: bool = False
    response: bool = False  # C/R: the rejected frame was a response

    def encode(self) -> bytes:
        state = (_seq("V(R)", self.vr) << 5) | (0x10 if self.response else 0) | (_seq("V(S)", self.vs) << 1)
        reasons = (1 if self.w else 0) | (2 if self.x else 0) | (4 if self.y else 0) | (8 if self.z else 0)
        return bytes([self.control, state, reasons])

    @classmethod
    def decode(cls, info: bytes) -> FrameReject | None:
        if len(info) != 3:
            return None
        control, state, reasons = info
        return cls(control, (state >> 1) & 7, state >> 5, bool(reasons & 1), bool(reasons & 2), bool(reasons & 4),
                   bool(reasons & 8), bool(state & 0x10))

    def __str__(self) -> str:
        why = [name for name, on in (("W control undefined", self.w), ("X information not permitted", self.x),
                                     ("Y information too long", self.y), ("Z invalid N(R)", self.z)) if on]
        return f"{describe_control(self.control)} rejected ({', '.join(why) or 'no reason given'})"


def segments(data: bytes, max_info: int) -> list[bytes]:
    """``data`` (LLC header + APDU) cut into information fields of at most ``max_info`` octets."""
    if max_info < 1:
        raise ValueError(f"maximum information field length must be positive, not {max_info}")
    if not data:
        return [b""]
    return [data[i:i + max_info] for i in range(0, len(data), max_info)]


# -- server link -------------------------------------------------------------------------------------------------
#: ``deliver(client_sap, apdu)`` returns the response APDU, or ``None`` for no response
Deliver = Callable[[int, bytes], bytes | None]


@dataclass
class _Peer:
    """One connected client, as the server sees it."""

    params: LinkParameters  # the server's view: tx = server to client
    vs: int = 0  # N(S) of the next I frame sent
    vr: int = 0  # N(S) expected of the next I frame received
    rx: bytearray = field(default_factory=bytearray)  # segments of the request being received
    tx: deque[bytes] = field(default_factory=deque)  # segments of the response not sent yet
    last: Frame | None = None  # the last I frame sent, until acknowledged (sent again if the client missed it)
    rejected: Frame | None = None  # FRMR condition: this FRMR answers everything but SNRM and DISC


class HdlcServerLink:
    """The meter's side of the HDLC link, sans-IO: ``reply = link.receive(data)``; write ``reply`` to the line.

    Frames for another server address are ignored (multi-drop bus), as are frames that fail their checks.
    Every complete APDU a connected client sends (segments reassembled, LLC header stripped) goes to
    ``deliver(client_sap, apdu)``; the APDU it returns is sent back with the response LLC header, in I frames of at
    most the negotiated maximum information field length, the next segment each time the client's RR acknowledges
    the previous one. ``on_disconnect(client_sap)`` is called when a connection ends: DISC, a new SNRM while
    connected, or :meth:`reset` (connection lost, power failure) -- the owner releases the association then.

    SNRM is answered UA with the negotiated parameters (the minimum of the client's proposal and
    ``max_info_tx``/``max_info_rx``; window 1 whatever was asked) and resets the sequence numbers; DISC is answered
    UA when connected, DM when not; any other command from a client that is not connected is answered DM; an I
    frame out of sequence is discarded and answered RR with the N(R) expected (or, when it repeats a request whose
    answer the client has not acknowledged, with that answer again, never executed twice); RR with the N(R) of the
    last I frame sent repeats it. A frame that cannot be accepted (unknown command, information field too long or
    without its LLC header, N(R) out of range) puts the connection in the FRMR condition: FRMR answers everything
    until SNRM or DISC. Commands other than SNRM and DISC are answered only when their P bit is set. A frame to
    ``server_upper`` with a one-octet address (no lower address) is accepted when ``accept_upper_only``
    (point-to-point); UI frames (to it or to the all-station address) are delivered, never answered. ``deliver``
    raising is the owner's bug and propagates.
    """

    def __init__(self, server_upper: int, server_lower: int, deliver: Deliver, *,
                 on_disconnect: Callable[[int], None] | None = None, max_info_tx: int = DEFAULT_MAX_INFO,
                 max_info_rx: int = DEFAULT_MAX_INFO, max_apdu: int = 0xFFFF, accept_upper_only: bool = True) -> None:
        HdlcAddress(server_upper, server_lower)  # validates both
        for name, value in (("max_info_tx", max_info_tx), ("max_info_rx", max_info_rx)):
            if not 1 <= value <= MAX_INFO_LENGTH:
                raise ValueError(f"{name} must be 1..{MAX_INFO_LENGTH}, not {value}")
        self.server_upper = server_upper
        self.server_lower = server_lower
        self.deliver = deliver
        self.on_disconnect = on_disconnect
        self.max_info_tx = max_info_tx
        self.max_info_rx = max_info_rx
        self.max_apdu = max_apdu
        self.accept_upper_only = accept_upper_only
        self.decoder = FrameDecoder()
        self._peers: dict[int, _Peer] = {}

    @property
    def connected(self) -> frozenset[int]:
        """Client SAPs with a connection."""
        return frozenset(self._peers)

    def parameters(self, client_sap: int) -> LinkParameters | None:
        """The parameters agreed with a connected client (the server's view)."""
        peer = self._peers.get(client_sap)
        return None if peer is None else peer.params

    def receive(self, data: bytes) -> bytes:
        return b"".join(self.handle(frame) for frame in self.decoder.feed(data))

    def reset(self) -> None:
        """Every connection ends (the TCP connection was lost, the meter lost power); half frames are dropped."""
        self.decoder.reset()
        for client in list(self._peers):
            self._drop(client)

    def addressed_to_me(self, address: HdlcAddress) -> bool:
        if address.upper != self.server_upper:
            return False
        return self.accept_upper_only if address.lower is None else address.lower == self.server_lower

    def _broadcast(self, address: HdlcAddress) -> bool:
        limit = ALL_STATION_14 if address.size == 4 else ALL_STATION
        upper_ok = address.upper in (limit, self.server_upper)
        lower_ok = address.lower is None or address.lower in (limit, self.server_lower)
        return address.all_station and upper_ok and lower_ok

    def handle(self, frame: Frame) -> bytes:
        """The reply to one decoded frame (``b""`` for none)."""
        if frame.source.size != 1:
            return b""  # not from a client: another server's response on the bus
        client = frame.source.upper
        if not self.addressed_to_me(frame.destination):
            if self._broadcast(frame.destination) and frame.kind is FrameKind.UI:
                self._deliver_ui(client, frame)
            return b""
        kind = frame.kind
        peer = self._peers.get(client)

        def reply(control: int, info: bytes = b"", segmented: bool = False) -> bytes:
            return Frame(frame.source, frame.destination, control, info, segmented).encode()

        if kind is FrameKind.SNRM:
            try:
                proposal = LinkParameters.decode(frame.info)
            except ParameterError:
                return reply(FRMR, FrameReject(frame.control, 0, 0, w=True, x=True).encode())
            if peer is not None:
                self._drop(client)
            agreed = LinkParameters(min(proposal.max_info_rx, self.max_info_tx),
                                    min(proposal.max_info_tx, self.max_info_rx), 1, 1)
            self._peers[client] = _Peer(agreed)
            return reply(UA, agreed.encode())
        if kind is FrameKind.DISC:
            if peer is None:
                return reply(DM)
            self._drop(client)
            return reply(UA)
        if kind is FrameKind.UI:
            self._deliver_ui(client, frame)
            return b""
        if peer is None:
            return reply(DM) if frame.pf else b""
        if peer.rejected is not None:
            return peer.rejected.encode() if frame.pf else b""

        def reject(**reasons: bool) -> bytes:
            assert peer is not None
            peer.rejected = Frame(frame.source, frame.destination, FRMR,
                                  FrameReject(frame.control, peer.vs, peer.vr, **reasons).encode())
            peer.tx.clear()
            peer.rx.clear()
            return peer.rejected.encode()

        if kind not in (FrameKind.I, FrameKind.RR, FrameKind.RNR):
            return reject(w=True)
        nr = frame.nr
        if nr == peer.vs:
            peer.last = None  # our last I frame arrived
        elif not (nr == (peer.vs - 1) % 8 and peer.last is not None):
            return reject(z=True)
        if kind is FrameKind.RNR:
            return reply(control_rr(peer.vr)) if frame.pf else b""
        if kind is FrameKind.RR:
            if not frame.pf:
                return b""
            if peer.last is not None:  # the client missed our last I frame: the same again
                return peer.last.encode()
            return self._next(peer, frame)
        # an I frame
        if frame.ns != peer.vr:  # a repeat, or one was lost: discarded, the expected one asked for
            if not frame.pf:
                return b""
            if peer.last is not None:  # a repeat because our answer to it was lost: the answer again
                return peer.last.encode()
            return reply(control_rr(peer.vr))
        if len(frame.info) > peer.params.max_info_rx:
            return reject(y=True)
        if len(peer.rx) + len(frame.info) > self.max_apdu + len(LLC_COMMAND):
            return reject(y=True)
        if not frame.segmented and not (bytes(peer.rx) + frame.info).startswith(LLC_COMMAND):
            return reject(x=True)
        peer.tx.clear()  # a new request ends what was left of the previous response
        peer.last = None
        peer.vr = (peer.vr + 1) % 8
        peer.rx += frame.info
        if frame.segmented:
            return reply(control_rr(peer.vr)) if frame.pf else b""
        request = bytes(peer.rx)
        peer.rx.clear()
        response = self.deliver(client, request[len(LLC_COMMAND):])
        if response is not None:
            peer.tx.extend(segments(LLC_RESPONSE + response, peer.params.max_info_tx))
        return self._next(peer, frame) if frame.pf else b""

    def _next(self, peer: _Peer, polled: Frame) -> bytes:
        """The next segment of the response, or RR when there is none."""
        if not peer.tx:
            return Frame(polled.source, polled.destination, control_rr(peer.vr)).encode()
        chunk = peer.tx.popleft()
        out = Frame(polled.source, polled.destination, control_i(peer.vs, peer.vr), chunk, segmented=bool(peer.tx))
        peer.vs = (peer.vs + 1) % 8
        peer.last = out
        return out.encode()

    def _deliver_ui(self, client: int, frame: Frame) -> None:
        if frame.info.startswith(LLC_COMMAND) and not frame.segmented:
            self.deliver(client, frame.info[len(LLC_COMMAND):])  # unconfirmed: the answer, if any, is not sent

    def _drop(self, client: int) -> None:
        del self._peers[client]
        if self.on_disconnect is not None:
            self.on_disconnect(client)


# -- client link -------------------------------------------------------------------------------------------------
class LinkState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"  # SNRM sent
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"  # DISC sent


@dataclass
class ClientEvents:
    """What :meth:`HdlcClientLink.receive` made of the octets it was given."""

    #: octets to send now: RR asking for the next segment of a response, or the next segment of a request
    send: bytes = b""
    #: complete response APDUs (reassembled, LLC header stripped)
    apdus: list[bytes] = field(default_factory=list)
    #: APDUs of UI frames (unsolicited: data and event notifications)
    notifications: list[bytes] = field(default_factory=list)
    #: UA to our SNRM: the agreed parameters (our view)
    connected: LinkParameters | None = None
    #: DM to our SNRM
    refused: bool = False
    #: the link is down: UA or DM to our DISC, or DM while connected
    disconnected: bool = False


class HdlcClientLink:
    """The client's side of the HDLC link, sans-IO.

    ``connect_frame()`` (SNRM) → ``receive`` gives ``events.connected``; ``send_apdu(apdu)`` returns the first
    frame of the request (later segments go out as ``events.send`` when the server's RR comes); ``receive`` gives
    ``events.apdus`` and, while a response is segmented, the RR to write back in ``events.send``;
    ``disconnect_frame()`` (DISC). After a timeout the owner may send ``poll_frame()`` (RR): the server repeats the
    I frame the client missed.

    Frames not addressed to this client are ignored (bus traffic, the local echo of a half-duplex line); a frame to
    it from another server raises :class:`WrongAddressError`, FRMR raises :class:`FrameRejectedError`, a frame the
    state does not allow :class:`UnexpectedFrameError`. With ``strict`` (the default) a frame the decoder drops
    (bad HCS or FCS, bad length …) raises its error too; otherwise it is only counted in ``decoder.dropped``.
    """

    def __init__(self, client_sap: int = PUBLIC_CLIENT, server_upper: int = MANAGEMENT_LOGICAL_DEVICE,
                 server_lower: int | None = None, *, max_info_tx: int = DEFAULT_MAX_INFO,
                 max_info_rx: int = DEFAULT_MAX_INFO, server_address_size: int = 0, strict: bool = True,
                 max_apdu: int = 0xFFFF) -> None:
        for name, value in (("max_info_tx", max_info_tx), ("max_info_rx", max_info_rx)):
            if not 1 <= value <= MAX_INFO_LENGTH:
                raise ValueError(f"{name} must be 1..{MAX_INFO_LENGTH}, not {value}")
        self.address = HdlcAddress.client(client_sap)
        self.server_address = HdlcAddress(server_upper, server_lower, server_address_size)
        self.proposal = LinkParameters(max_info_tx, max_info_rx, 1, 1)
        self.strict = strict
        self.max_apdu = max_apdu
        self.decoder = FrameDecoder()
        self.state = LinkState.DISCONNECTED
        self.parameters: LinkParameters | None = None
        self._backlog: deque[Frame | HdlcError] = deque()
        self._reset_sequence()

    def _reset_sequence(self) -> None:
        self.vs = 0
        self.vr = 0
        self._tx: deque[bytes] = deque()
        self._rx = bytearray()
        self._last: Frame | None = None
        self._awaiting = False

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    @property
    def idle(self) -> bool:
        """Connected, with no request or response under way: :meth:`send_apdu` may be called."""
        return self.connected and not (self._tx or self._rx or self._awaiting)

    def _frame(self, control: int, info: bytes = b"", segmented: bool = False) -> Frame:
        return Frame(self.server_address, self.address, control, info, segmented)

    def connect_frame(self) -> bytes:
        """SNRM with the parameter negotiation field; any connection is reset."""
        self.state = LinkState.CONNECTING
        self.parameters = None
        self._reset_sequence()
        self._backlog.clear()
        return self._frame(SNRM, self.proposal.encode()).encode()

    def disconnect_frame(self) -> bytes:
        self.state = LinkState.DISCONNECTING
        return self._frame(DISC).encode()

    def poll_frame(self) -> bytes:
        """RR with the N(R) expected: after a lost frame, the server sends its last I frame again."""
        return self._frame(control_rr(self.vr)).encode()

    def send_apdu(self, apdu: bytes) -> bytes:
        """The first frame of the request; the other segments are sent as the server acknowledges."""
        if self.state is not LinkState.CONNECTED or self.parameters is None:
            raise NotConnectedError(f"link is {self.state.value}: no APDU can be sent", field="state")
        if not self.idle:
            raise LinkBusyError("the previous request or response is still under way", field="state")
        if len(apdu) > self.max_apdu:
            raise ValueError(f"APDU of {len(apdu)} octets exceeds max_apdu {self.max_apdu}")
        self._tx.extend(segments(LLC_COMMAND + apdu, self.parameters.max_info_tx))
        return self._next_segment()

    def _next_segment(self) -> bytes:
        chunk = self._tx.popleft()
        frame = self._frame(control_i(self.vs, self.vr), chunk, segmented=bool(self._tx))
        self.vs = (self.vs + 1) % 8
        self._last = frame
        self._awaiting = not self._tx
        return frame.encode()

    def receive(self, data: bytes) -> ClientEvents:
        events = ClientEvents()
        self._backlog.extend(self.decoder.feed_items(data))
        while self._backlog:
            item = self._backlog.popleft()
            try:
                if isinstance(item, HdlcError):
                    if self.strict:
                        raise item
                    continue
                self._handle(item, events)
            except HdlcError as exc:
                exc.events = events
                raise
        return events

    def _handle(self, frame: Frame, events: ClientEvents) -> None:
        if frame.destination.size != 1 or frame.destination.upper != self.address.upper:
            return  # not for us
        if not frame.source.same_station(self.server_address):
            raise WrongAddressError(f"{frame} comes from server {frame.source}, not {self.server_address}",
                                    field="source address", frame=frame)
        kind = frame.kind
        if kind is FrameKind.FRMR:
            self.state = LinkState.DISCONNECTED
            reject = FrameReject.decode(frame.info)
            raise FrameRejectedError(f"server rejected a frame: {reject or frame.info.hex(' ').upper()}",
                                     reject=reject, frame=frame)
        if kind is FrameKind.UI:
            if frame.info.startswith(LLC_RESPONSE):
                events.notifications.append(frame.info[len(LLC_RESPONSE):])
            return
        state = self.state
        if state is LinkState.CONNECTING:
            if kind is FrameKind.UA:
                offer = LinkParameters.decode(frame.info)  # the server's view: its tx is our rx
                self.parameters = LinkParameters(min(offer.max_info_rx, self.proposal.max_info_tx),
                                                 min(offer.max_info_tx, self.proposal.max_info_rx), 1, 1)
                self.state = LinkState.CONNECTED
                events.connected = self.parameters
            elif kind is FrameKind.DM:
                self.state = LinkState.DISCONNECTED
                events.refused = True
            else:
                raise self._unexpected(frame, "UA or DM to SNRM")
        elif state is LinkState.DISCONNECTING:
            if kind in (FrameKind.UA, FrameKind.DM):
                self.state = LinkState.DISCONNECTED
                self.parameters = None
                events.disconnected = True
        elif state is LinkState.DISCONNECTED:
            if kind not in (FrameKind.UA, FrameKind.DM):  # a late repeat of those is harmless
                raise self._unexpected(frame, "nothing (not connected)")
        elif kind is FrameKind.DM:
            self.state = LinkState.DISCONNECTED
            self.parameters = None
            events.disconnected = True
        elif kind is FrameKind.I:
            self._information(frame, events)
        elif kind is FrameKind.RR:
            if self._tx and frame.nr == self.vs:
                events.send += self._next_segment()
            elif self._last is not None and frame.nr == (self.vs - 1) % 8:
                events.send += self._last.encode()  # the server missed our last frame
            elif frame.nr == self.vs:
                self._last = None
                self._awaiting = False  # acknowledged, no response (the server had nothing to say)
        elif kind is not FrameKind.RNR:  # RNR: the server is busy, the owner polls again later
            raise self._unexpected(frame, "I, RR, RNR or DM")

    def _information(self, frame: Frame, events: ClientEvents) -> None:
        if frame.ns != self.vr:  # a repeat (our RR was lost) or a gap: ask for the one expected
            events.send += self.poll_frame()
            return
        if self._tx:
            raise UnexpectedFrameError(f"{frame} before the last segment of the request was sent", field="control",
                                       frame=frame)
        if frame.nr == self.vs:
            self._last = None
        self.vr = (self.vr + 1) % 8
        self._rx += frame.info
        if len(self._rx) > self.max_apdu + len(LLC_RESPONSE):
            self._rx.clear()
            raise UnexpectedFrameError(f"response longer than max_apdu {self.max_apdu}", field="information",
                                       frame=frame)
        if frame.segmented:
            events.send += self.poll_frame()
            return
        data = bytes(self._rx)
        self._rx.clear()
        self._awaiting = False
        if not data.startswith(LLC_RESPONSE):
            raise UnexpectedFrameError(f"response starts {data[:3].hex(' ').upper()}, not the LLC header E6 E7 00",
                                       field="LLC", frame=frame)
        events.apdus.append(data[len(LLC_RESPONSE):])

    def _unexpected(self, frame: Frame, wanted: str) -> UnexpectedFrameError:
        return UnexpectedFrameError(f"{frame} while {self.state.value}; expected {wanted}", field="control",
                                    frame=frame)


def frames_of(data: Iterable[bytes]) -> list[Frame]:
    """Every frame in a sequence of chunks (a convenience for tests and traces)."""
    decoder = FrameDecoder()
    return [frame for chunk in data for frame in decoder.feed(chunk)]
