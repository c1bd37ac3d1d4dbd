"""DLMS/COSEM meter port (IEC 62056-5-3 application layer over the TCP wrapper, IEC 62056-47, or HDLC,
IEC 62056-46, on a serial server); plays the ``meter_port`` role.

The association is opened on first use and again after the link was lost (an association never survives its
connection). Results are typed: a register's value with its scaler applied and its unit, the clock as an aware
datetime, a profile as rows. The transcript shows decoded APDUs ("GET IC 8 0.0.1.0.0.255 attr 2"), not hex.

For the plans written for IEC 62056-21 the port also answers the role's text interface: ``readout()`` gives the
mode C addresses (C.1.0, 0.9.1, 0.9.2, 1.8.0 …, C.7.0) from their COSEM objects, ``write("0.9.1", …)`` sets the
clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from instruments.dlms import apdu as dlms_apdu
from instruments.dlms import hdlc
from instruments.dlms.apdu import AttributeDescriptor, MethodDescriptor, Selection
from instruments.dlms.axdr import Data, Tag
from instruments.dlms.client import (
    Authentication,
    ClientAssociation,
    ClientSettings,
    DataAccessError,
    DlmsError,
    ProtocolError,
)
from instruments.dlms.cosem import CosemDateTime, Obis, ScalerUnit
from instruments.dlms.security import Keys
from instruments.dlms.wrapper import HEADER, VERSION, WrapperFrame
from instruments.drivers.errors import BenchFault, ReplyError
from instruments.drivers.iec62056 import BAUD_CHARS, baud_of

CLOCK = Obis(0, 0, 1, 0, 0, 255)
LOGICAL_DEVICE_NAME = Obis(0, 0, 42, 0, 0, 255)
SERIAL_NUMBER = Obis(0, 0, 96, 1, 0, 255)
POWER_FAILURES = Obis(0, 0, 96, 7, 0, 255)
INVOCATION_COUNTER = Obis(0, 0, 43, 1, 0, 255)
#: the mode C addresses the text interface serves, and their registers (IC 3)
ENERGY_ADDRESSES = {"1.8.0": Obis(1, 0, 1, 8, 0), "1.8.1": Obis(1, 0, 1, 8, 1), "1.8.2": Obis(1, 0, 1, 8, 2),
                    "2.8.0": Obis(1, 0, 2, 8, 0)}


class DlmsFault(BenchFault):
    """The DLMS exchange failed (refused association, denied access, malformed response): the reason is named."""

    def __init__(self, instrument: str, message: str, cause: DlmsError | None = None) -> None:
        super().__init__(instrument, message)
        self.cause = cause


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str


@dataclass(frozen=True)
class ProfileRows:
    """A Profile Generic buffer: its capture objects (class, logical name, attribute) and the rows as plain values
    (date-times as aware datetimes)."""

    columns: tuple[tuple[int, Obis, int], ...]
    rows: tuple[tuple[Any, ...], ...]


def _hex(value: str | None, what: str, octets: int) -> bytes | None:
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} must be hex, got {value!r}") from None
    if len(raw) != octets:
        raise ValueError(f"{what} must be {octets} octets ({2 * octets} hex digits), got {len(raw)}")
    return raw


class DlmsPort:
    """Options (bench file, the position's ``port``): ``transport`` (``wrapper`` or ``hdlc``), ``client`` (SAP: 16
    public, 1 management), ``logical_device`` (1), ``physical_device`` (HDLC lower address, 16),
    ``authentication`` (``none``, ``lls``, ``hls-gmac``), ``password`` (LLS),
    ``encryption_key`` / ``authentication_key`` (hex, suite 0), ``system_title`` (the client's, hex),
    ``max_receive_pdu`` (what the client proposes: a smaller size makes the meter use block transfer),
    ``invocation_counter`` (the first one sent; default: above the one the meter publishes in 0.0.43.1.0.255),
    ``ciphered`` (suite 0 APDUs in the ciphered context; default: with
    HLS-GMAC), ``mode_e`` (HDLC on an optical port: the IEC 62056-21 mode E opening first)."""

    model = "DLMS/COSEM (IEC 62056-5-3)"

    def __init__(
        self,
        transport: Any,
        *,
        transport_layer: Literal["wrapper", "hdlc"] = "wrapper",
        client: int = 1,
        logical_device: int = 1,
        physical_device: int = 0x10,
        authentication: str = "lls",
        password: str | None = None,
        encryption_key: str | None = None,
        authentication_key: str | None = None,
        system_title: str = "4D484C0000000001",
        address: str | None = None,  # the IEC 62056-21 device address; a DLMS port is addressed by SAPs
        invocation_counter: int | None = None,
        max_receive_pdu: int = 0xFFFF,
        ciphered: bool | None = None,
        mode_e: bool = False,
    ) -> None:
        del address
        self.transport = transport
        self.name: str = transport.name
        self.transport_layer = transport_layer
        self.logical_device = logical_device
        self.physical_device = physical_device
        self.mode_e = mode_e
        ek = _hex(encryption_key, "encryption_key", 16)
        ak = _hex(authentication_key, "authentication_key", 16)
        keys = Keys(ek, ak) if ek is not None and ak is not None else None
        title = _hex(system_title, "system_title", 8)
        assert title is not None
        self.settings = ClientSettings(
            client_sap=client, authentication=Authentication(authentication),
            password=password.encode("ascii") if password else None, keys=keys, system_title=title,
            invocation_counter=invocation_counter or 1, max_receive_pdu=max_receive_pdu, ciphered=ciphered,
        )
        self._assoc: ClientAssociation | None = None
        #: HDLC links by client SAP (the public client may read the invocation counter beside the management one)
        self._hdlc: dict[int, hdlc.HdlcClientLink] = {}
        self._switched = False  # this connection went through the mode E opening
        self._counter = invocation_counter or 1
        #: None: ciphered associations start above the counter the meter publishes (0.0.43.1.0.255)
        self._counter_known = invocation_counter is not None
        transport.reconnects = 0  # a new connection has no association: the driver opens one itself
        transport.on_reconnect.append(self._lost)
        self.last_readout: dict[str, str] = {}

    # -- link --------------------------------------------------------------------------------------
    def _lost(self) -> None:
        if self._assoc is not None:
            self._counter = self._assoc.counter
        self._assoc = None
        self._hdlc = {}
        self._switched = False

    def _log(self, direction: str, text: str | Callable[[], str]) -> None:
        self.transport.transcript.add(self.name, "write" if direction == "request" else "read", text)

    def _transact(self, request: bytes, sap: int | None = None) -> bytes:
        sap = self.settings.client_sap if sap is None else sap
        if self.transport_layer == "wrapper":
            return self._wrapper(request, sap)
        return self._hdlc_transact(request, sap)

    def _wrapper(self, request: bytes, sap: int) -> bytes:
        # the answer is read at once: a dead link shows there (EOF), no look at the idle link first
        self.transport.write_raw(WrapperFrame(sap, self.logical_device, request).encode(), transcribe=False,
                                 check_link=False)
        header = self.transport.read_bytes(HEADER, transcribe=False)
        version = int.from_bytes(header[0:2], "big")
        source, dest, length = (int.from_bytes(header[i:i + 2], "big") for i in (2, 4, 6))
        if version != VERSION:
            raise ReplyError(self.name, f"wrapper header version {version:#06x}, expected 0x0001")
        body = self.transport.read_bytes(length, transcribe=False) if length else b""
        if (source, dest) != (self.logical_device, sap):
            raise ReplyError(self.name, f"wrapper frame from wPort {source} to {dest}, expected"
                                        f" {self.logical_device} → {sap}")
        return bytes(body)

    def _hdlc_link(self, sap: int) -> hdlc.HdlcClientLink:
        if sap not in self._hdlc:
            if self.mode_e and not self._switched:
                self._mode_e_opening()
                self._switched = True
            link = hdlc.HdlcClientLink(sap, self.logical_device, self.physical_device)
            self._send_hdlc(link.connect_frame())
            self.transport.transcript.add(self.name, "write", f"SNRM to {link.server_address}")
            while True:
                events = self._hdlc_receive(link)
                if events.refused:
                    raise ReplyError(self.name, f"HDLC: the meter answered SNRM with DM (link refused) at"
                                                f" {link.server_address}")
                if events.connected is not None:
                    self.transport.transcript.add(self.name, "read", f"UA {events.connected}")
                    break
            self._hdlc[sap] = link
        return self._hdlc[sap]

    def _mode_e_opening(self) -> None:
        """IEC 62056-21:2002 mode E: ``/?!`` → ``/XXXZ\\2Ident`` → ACK ``2`` Z ``2`` (HDLC at baud Z; over a
        serial server there is no baud to switch)."""
        switch = getattr(self.transport, "switch_baud", None)  # a serial line: 300 Bd 7E1, then Z Bd 8N1
        if switch is not None:
            switch(None)
        self.transport.write_raw(b"/?!\r\n")
        line = self.transport.read_until(b"\r\n")
        text = line[line.find(b"/"):].decode("latin-1").rstrip("\r\n")
        if len(text) < 7 or text[5:7] != "\\2":
            raise ReplyError(self.name, f"mode E: the meter does not offer HDLC (identification {text!r})")
        self.transport.write_raw(b"\x06" + b"2" + text[4].encode("latin-1") + b"2\r\n")
        if switch is not None and text[4] in BAUD_CHARS:
            switch(baud_of(text[4]), "8N1")

    def _send_hdlc(self, data: bytes) -> None:
        if data:
            self.transport.write_raw(data, transcribe=False)

    def _read_frame(self) -> bytes:
        """One HDLC frame off the stream: flags skipped (shared or repeated), then the length field says how many
        octets follow (frame format type 3 has no byte stuffing)."""
        read = self.transport.read_bytes
        while True:
            first = read(1, transcribe=False)[0]
            if first == hdlc.FLAG or first & 0xF0 != 0xA0:
                continue
            second = read(1, transcribe=False)[0]
            length = ((first & 0x07) << 8) | second
            if length < hdlc.MIN_FRAME_LENGTH:
                continue
            rest = read(length - 2 + 1, transcribe=False)  # up to the closing flag
            return bytes([hdlc.FLAG, first, second]) + bytes(rest)

    def _hdlc_receive(self, link: hdlc.HdlcClientLink) -> hdlc.ClientEvents:
        try:
            events = link.receive(self._read_frame())
        except hdlc.HdlcError as exc:
            raise ReplyError(self.name, f"HDLC: {exc}") from None
        self._send_hdlc(events.send)
        return events

    def _hdlc_transact(self, request: bytes, sap: int) -> bytes:
        link = self._hdlc_link(sap)
        self._send_hdlc(link.send_apdu(request))
        while True:
            events = self._hdlc_receive(link)
            if events.apdus:
                return events.apdus[0]
            if events.disconnected:
                self._hdlc.pop(sap, None)
                raise ReplyError(self.name, "HDLC: the meter disconnected the link")

    # -- association -------------------------------------------------------------------------------
    def _association(self) -> ClientAssociation:
        if self._assoc is None or not self.transport.is_open:
            if not self.transport.is_open:
                self._lost()
                self.transport.open()
            settings = self.settings
            probe = ClientAssociation(settings, self._transact)
            if probe.ciphered and not self._counter_known:
                self._counter = max(self._counter, self._published_counter() + 1)
                self._counter_known = True
            if settings.invocation_counter != self._counter:
                settings = ClientSettings(**{**settings.__dict__, "invocation_counter": self._counter})
            assoc = ClientAssociation(settings, self._transact, self._log)
            try:
                assoc.associate()
            except DlmsError as exc:
                self._counter = assoc.counter
                raise DlmsFault(self.name, str(exc), exc) from None
            self._assoc = assoc
        return self._assoc

    def _published_counter(self) -> int:
        """The invocation counter the meter last accepted (Data 0.0.43.1.0.255), read by the public client 16 on
        the same link; a client that starts above it is never taken for a replay (Green Book 9.2.7.3)."""
        public = ClientAssociation(ClientSettings(client_sap=16, authentication=Authentication.NONE),
                                   lambda raw: self._transact(raw, 16), self._log)
        try:
            public.associate()
            value = public.get(AttributeDescriptor(1, INVOCATION_COUNTER, 2))
            public.release()
        except DlmsError as exc:
            raise DlmsFault(self.name, f"reading the invocation counter {INVOCATION_COUNTER}: {exc}", exc) from None
        finally:
            if self.transport_layer == "hdlc":
                self._disconnect(16)
        if not isinstance(value.value, int) or isinstance(value.value, bool):
            raise ReplyError(self.name, f"invocation counter {INVOCATION_COUNTER} is {value.tag.name.lower()}")
        return value.value

    def _call(self, what: str, fn: Any) -> Any:
        assoc = self._association()
        try:
            return fn(assoc)
        except DlmsError as exc:
            raise DlmsFault(self.name, f"{what}: {exc}", exc) from None
        finally:
            self._counter = assoc.counter

    def close(self) -> None:
        """Release the association (RLRQ) and, over HDLC, disconnect the link (DISC)."""
        assoc, self._assoc = self._assoc, None
        if assoc is not None and self.transport.is_open:
            with contextlib.suppress(DlmsError, BenchFault):
                assoc.release()
            self._counter = assoc.counter
        for sap in list(self._hdlc):
            self._disconnect(sap)

    def _disconnect(self, sap: int) -> None:
        """DISC, and its UA read, so the next link starts clean."""
        link = self._hdlc.pop(sap, None)
        if link is None or not self.transport.is_open:
            return
        with contextlib.suppress(BenchFault):
            self._send_hdlc(link.disconnect_frame())
            while not self._hdlc_receive(link).disconnected:
                pass

    # -- services ----------------------------------------------------------------------------------
    def get(self, class_id: int, obis: Obis | str, attribute: int, selection: Selection | None = None) -> Data:
        attr = AttributeDescriptor(class_id, _obis(obis), attribute)
        return self._call(f"GET {attr}", lambda a: a.get(attr, selection))  # type: ignore[no-any-return]

    def get_many(self, items: list[tuple[int, Obis | str, int]]) -> list[Data | dlms_apdu.DataAccessResult]:
        attrs = [(AttributeDescriptor(c, _obis(o), n), None) for c, o, n in items]
        return self._call("GET with list", lambda a: a.get_many(attrs))  # type: ignore[no-any-return]

    def set(self, class_id: int, obis: Obis | str, attribute: int, value: Data) -> None:
        attr = AttributeDescriptor(class_id, _obis(obis), attribute)
        self._call(f"SET {attr}", lambda a: a.set(attr, value))

    def action(self, class_id: int, obis: Obis | str, method: int, params: Data | None = None) -> Data | None:
        m = MethodDescriptor(class_id, _obis(obis), method)
        return self._call(f"ACTION {m}", lambda a: a.action(m, params))  # type: ignore[no-any-return]

    # -- typed reads -------------------------------------------------------------------------------
    def register(self, obis: Obis | str, class_id: int = 3) -> Quantity:
        """A Register's value × 10^scaler in its unit (Blue Book 4.3.2), read with one GET with list."""
        value, su = self.get_many([(class_id, obis, 2), (class_id, obis, 3)])
        for what, r in (("value", value), ("scaler_unit", su)):
            if isinstance(r, dlms_apdu.DataAccessResult):
                raise DlmsFault(self.name, f"GET {obis} {what}: {r.name.lower()}",
                                DataAccessError(f"GET {obis} {what}", r))
        assert isinstance(value, Data) and isinstance(su, Data)
        scale = ScalerUnit.from_data(su)
        if not isinstance(value.value, int | float) or isinstance(value.value, bool):
            raise ReplyError(self.name, f"register {obis} holds {value.tag.name.lower()}, not a number")
        return Quantity(scale.apply(value.value), scale.symbol)

    def clock(self) -> dt.datetime:
        """Clock time (IC 8 attribute 2) as an aware datetime in the meter's local time."""
        raw = self.get(8, CLOCK, 2)
        try:
            return CosemDateTime.from_data(raw).to_datetime()
        except ValueError as exc:
            raise ReplyError(self.name, f"clock time: {exc}") from None

    def set_clock(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("set_clock needs an aware datetime")
        self.set(8, CLOCK, 2, CosemDateTime.from_datetime(when).to_data())

    def profile(self, obis: Obis | str, start: dt.datetime | None = None, end: dt.datetime | None = None,
                first: int | None = None, last: int | None = None) -> ProfileRows:
        """A Profile Generic buffer: all of it, a time range (selective access 1, by the clock column, both ends
        inclusive) or entries ``first`` … ``last`` (selective access 2, 1-based; 0 = the last)."""
        columns_data = self.get(7, obis, 3)
        columns = tuple((int(c[0].value), Obis.from_bytes(c[1].value), int(c[2].value)) for c in columns_data.items)
        selection = None
        if start is not None or end is not None:
            if start is None or end is None:
                raise ValueError("a profile range needs both start and end")
            clock_col = next((c for c in columns if c[0] == 8), None)
            if clock_col is None:
                raise ReplyError(self.name, f"profile {obis} has no clock column to select a range by")
            restricting = Data.structure([Data.uint16(8), Data.octets(bytes(clock_col[1])), Data.int8(clock_col[2]),
                                          Data.uint16(0)])
            selection = Selection(1, Data.structure([
                restricting, CosemDateTime.from_datetime(start).to_data(), CosemDateTime.from_datetime(end).to_data(),
                Data.array([]),
            ]))
        elif first is not None:
            selection = Selection(2, Data.structure([Data.uint32(first), Data.uint32(last or 0), Data.uint16(1),
                                                     Data.uint16(0)]))
        buffer = self.get(7, obis, 2, selection)
        rows = tuple(tuple(_plain(v, col) for v, col in zip(row.items, columns, strict=False)) for row in buffer.items)
        return ProfileRows(columns, rows)

    # -- the MeterPort role (mode C addresses) -----------------------------------------------------
    def identify(self) -> str:
        """The logical device name (0.0.42.0.0.255)."""
        ldn = self.get(1, LOGICAL_DEVICE_NAME, 2)
        return ldn.value.decode("ascii", "replace") if isinstance(ldn.value, bytes) else str(ldn.value)

    def readout(self) -> dict[str, str]:
        """The registers a mode C data readout shows, read from their COSEM objects."""
        items: list[tuple[int, Obis | str, int]] = [(1, SERIAL_NUMBER, 2), (8, CLOCK, 2)]
        for obis in ENERGY_ADDRESSES.values():
            items += [(3, obis, 2), (3, obis, 3)]
        items.append((1, POWER_FAILURES, 2))
        results = self.get_many(items)
        if any(isinstance(r, dlms_apdu.DataAccessResult) for r in results):
            bad = [f"{items[i][1]}: {r.name.lower()}" for i, r in enumerate(results)
                   if isinstance(r, dlms_apdu.DataAccessResult)]
            raise DlmsFault(self.name, "readout: " + "; ".join(bad))
        data = [r for r in results if isinstance(r, Data)]
        serial, clock = data[0], CosemDateTime.from_data(data[1]).to_datetime()
        out = {"C.1.0": _text(serial), "0.9.1": clock.strftime("%H:%M:%S"), "0.9.2": clock.strftime("%y-%m-%d")}
        for n, address in enumerate(ENERGY_ADDRESSES):
            value, su = data[2 + 2 * n], ScalerUnit.from_data(data[3 + 2 * n])
            kwh = su.apply(value.value) / (1000.0 if su.symbol == "Wh" else 1.0)
            wh = math.floor(round(kwh * 1000.0, 6))
            out[address] = f"{wh // 1000:06d}.{wh % 1000:03d}*kWh"
        out["C.7.0"] = f"{int(data[-1].value):04d}"
        self.last_readout = out
        return out

    def read(self, address: str) -> str:
        values = self.readout()
        if address not in values:
            raise DlmsFault(self.name, f"no COSEM object for mode C address {address!r};"
                                       f" known: {', '.join(values)}")
        return values[address]

    def write(self, address: str, value: str) -> None:
        """Clock only (0.9.1 time ``hh:mm:ss``, 0.9.2 date ``YY-MM-DD``): written to Clock attribute 2 in the
        meter's local time and deviation."""
        now = self.clock()
        try:
            if address == "0.9.1":
                h, m, s = (int(x) for x in value.split(":"))
                new = now.replace(hour=h, minute=m, second=s, microsecond=0)
            elif address == "0.9.2":
                y, mo, d = (int(x) for x in value.split("-"))
                new = now.replace(year=2000 + y, month=mo, day=d)
            else:
                raise DlmsFault(self.name, f"write {address}: only the clock (0.9.1, 0.9.2) is written over DLMS")
        except ValueError as exc:
            raise ValueError(f"{self.name}: write {address}({value}): {exc}; nothing was sent") from None
        self.set_clock(new)


def _obis(o: Obis | str) -> Obis:
    return o if isinstance(o, Obis) else Obis.parse(o)


def _text(d: Data) -> str:
    return d.value.decode("ascii", "replace") if isinstance(d.value, bytes) else str(d.value)


def _plain(d: Data, column: tuple[int, Obis, int]) -> Any:
    if column[0] == 8 and column[2] == 2 and d.tag in (Tag.OCTET_STRING, Tag.DATE_TIME):
        try:
            return CosemDateTime.from_data(d).to_datetime()
        except ValueError:
            return d.value
    return d.plain()


__all__ = ["DlmsFault", "DlmsPort", "ProfileRows", "ProtocolError", "Quantity"]
