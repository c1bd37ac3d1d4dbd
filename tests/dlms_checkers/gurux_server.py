#!/usr/bin/env python3
"""A DLMS/COSEM server built on Gurux's server classes (gurux-dlms, GPL-2.0) -- a test-time counterpart.

Run only as a subprocess::

    python tests/dlms_checkers/gurux_server.py [PORT | --port PORT] [--hdlc] [--clock ISO]

PORT 0 (the default) takes a free port. Prints ``READY <port>`` on stdout once listening, then serves
one connection at a time until killed. Logical device 1 (wrapper destination wPort 1; HDLC upper
address 1, any physical address), logical-name referencing, no ciphering.

Clients: 16 public (no authentication, read-only), 1 management (LLS, password ``12345678``,
read-write, methods). Objects:

* Clock 0.0.1.0.0.255 (IC 8): time = now (or from ``--clock``; a SET moves it), running;
  time zone -60, status 0.
* Register 1.0.1.8.0.255 (IC 3): value 123456789 (uint32), scaler -1, unit 30 (Wh) -> 12345678.9 Wh.
* Data 0.0.42.0.0.255 (IC 1): COSEM logical device name, octet string ``GRX0000000000001``.
* Association LN 0.0.40.0.0.255 (IC 15): the object list.

Gurux's Python server is a partial port: this script adds the hooks its command handlers call but the
package does not define (``notifyRead``, ``notifyConnected``, ``getTransaction``/``setTransaction``,
``GXServerReply.getConnectionInfo``, an iterable ``ValueEventArgs``). All protocol work (HDLC/wrapper
framing, AARQ/AARE, GET/SET/ACTION encoding) is Gurux's. HLS (and so HLS-GMAC) is not offered: the
package's ``GXDLMSAssociationLogicalName.invoke`` calls ``int()`` on the octet-string challenge and
cannot work. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
import traceback
from types import SimpleNamespace
from typing import Any

from gurux_dlms import GXDateTime, GXDLMSServer, GXDLMSSettings, GXServerReply, ValueEventArgs
from gurux_dlms.enums import AccessMode, Authentication, DataType, InterfaceType, MethodAccessMode, SourceDiagnostic
from gurux_dlms.enums.Unit import Unit
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.GXHdlcSettings import GXHdlcSettings
from gurux_dlms.objects import GXDLMSAssociationLogicalName, GXDLMSClock, GXDLMSData, GXDLMSRegister

PUBLIC, MANAGEMENT = 16, 1
LLS_PASSWORD = b"12345678"
HDLC_MAX_INFO = 128


def _patch_gurux() -> None:
    """Glue for calls the package makes to things it never defines (gurux-dlms 1.0.203)."""
    if not hasattr(ValueEventArgs, "__iter__"):
        ValueEventArgs.__iter__ = lambda self: iter([self])  # handleMethodRequest does list(e)
    if not hasattr(ValueEventArgs, "isSkipMaxPduSize"):
        ValueEventArgs.isSkipMaxPduSize = property(lambda self: self.skipMaxPduSize)
    shims: dict[type, dict[str, Any]] = {
        GXServerReply: {
            "getConnectionInfo": lambda self: self.connectionInfo,
            "setReply": lambda self, value: setattr(self, "reply", value),
            "getCount": lambda self: self.count,
            "setCount": lambda self, value: setattr(self, "count", value),
        },
        GXDLMSLNParameters: {
            "isMultipleBlocks": lambda self: self.multipleBlocks,
            "setStatus": lambda self, value: setattr(self, "status", value),
        },
        GXHdlcSettings: {
            # handleSnrmRequest calls settings.hdlc.update(settings.hdlc): updating from itself, a no-op
            "update": lambda self, other: None,
        },
        GXDLMSSettings: {
            "getMaxPduSize": lambda self: self.maxPduSize,
            "setConnected": lambda self, value: setattr(self, "connected", value),
        },
    }
    for cls, methods in shims.items():
        for name, fn in methods.items():
            if not hasattr(cls, name):
                setattr(cls, name, fn)


class MeterServer(GXDLMSServer):
    """Logical device 1 with the objects above; answers one client at a time."""

    def __init__(self, hdlc: bool, clock: dt.datetime | None) -> None:
        super().__init__(True, InterfaceType.HDLC if hdlc else InterfaceType.WRAPPER)
        self.clock_offset = (clock - dt.datetime.now(dt.UTC)) if clock else dt.timedelta(0)
        self.clock_zone = clock.tzinfo if clock else dt.timezone(dt.timedelta(hours=1))
        self.client_sap = 0
        if hdlc:
            # What handleSnrmRequest reads from the server's HDLC setup: both the IC 23 names and Gurux's own.
            self.hdlc = SimpleNamespace(
                maximumInfoLengthReceive=HDLC_MAX_INFO,
                maximumInfoLengthTransmit=HDLC_MAX_INFO,
                windowSizeReceive=1,
                windowSizeTransmit=1,
                maxInfoTX=HDLC_MAX_INFO,
                maxInfoRX=HDLC_MAX_INFO,
                windowSizeTX=1,
                windowSizeRX=1,
                inactivityTimeout=0,
            )
        self.clock = GXDLMSClock("0.0.1.0.0.255")
        self.clock.timeZone = -60
        self.clock.status = 0
        self.register = GXDLMSRegister("1.0.1.8.0.255")
        self.register.value = 123456789
        self.register.setDataType(2, DataType.UINT32)
        self.register.scaler = 0.1
        self.register.unit = Unit.ACTIVE_ENERGY
        self.ldn = GXDLMSData("0.0.42.0.0.255")
        self.ldn.value = bytearray(b"GRX0000000000001")
        self.ldn.setDataType(2, DataType.OCTET_STRING)
        self.association = GXDLMSAssociationLogicalName()
        for item in (self.association, self.clock, self.register, self.ldn):
            self.items.append(item)
            self.association.objectList.append(item)  # initialize() would append the collection itself
        self.initialize()

    def handleSnrmRequest(self, data: Any) -> None:
        """Gurux's UA, with its group length put back: the port calls ``setUInt8(2, len - 3)`` with the
        Java argument order, writing 0x02 at offset len-3 (inside window-rx, always 0 there) instead of
        the length at offset 2."""
        super().handleSnrmRequest(data)
        size = len(self.replyData)
        self.replyData.setUInt8(0, size - 3)
        self.replyData.setUInt8(size - 3, 2)

    # -- hooks the package calls but does not define ------------------------------------------------
    def notifyRead(self) -> None:
        e = sys._getframe(1).f_locals.get("e")  # getRequestNormal passes nothing: take its ValueEventArgs
        if isinstance(e, ValueEventArgs):
            self.onPreRead([e])

    def notifyConnected(self, connection_info: Any) -> None:
        self.onConnected(connection_info)

    def getTransaction(self) -> Any:
        return self.transaction

    def setTransaction(self, value: Any) -> None:
        self.transaction = value

    # -- GXDLMSServer callbacks --------------------------------------------------------------------
    def isTarget(self, serverAddress: int, clientAddress: int) -> bool:
        logical = serverAddress if serverAddress < 0x80 else serverAddress >> (14 if serverAddress > 0x3FFF else 7)
        if clientAddress not in (PUBLIC, MANAGEMENT) or logical not in (0, 1):
            return False
        self.client_sap = clientAddress
        return True

    def onValidateAuthentication(self, authentication: int, password: Any) -> int:
        if self.client_sap == PUBLIC:
            return SourceDiagnostic.NONE if authentication == Authentication.NONE else SourceDiagnostic.NOT_SUPPORTED
        if authentication != Authentication.LOW:
            return SourceDiagnostic.NOT_RECOGNISED
        return (
            SourceDiagnostic.NONE if bytes(password or b"") == LLS_PASSWORD else SourceDiagnostic.AUTHENTICATION_FAILURE
        )

    def onGetAttributeAccess(self, arg: ValueEventArgs) -> int:
        if arg.index == 1 or self.client_sap == PUBLIC:
            return AccessMode.READ
        return AccessMode.READ_WRITE

    def onGetMethodAccess(self, arg: ValueEventArgs) -> int:
        return MethodAccessMode.ACCESS if self.client_sap == MANAGEMENT else MethodAccessMode.NO_ACCESS

    def onPreRead(self, args: list[ValueEventArgs]) -> None:
        for e in args:
            if e.target is self.clock and e.index == 2:
                now = dt.datetime.now(dt.UTC) + self.clock_offset
                self.clock.time = GXDateTime(now.astimezone(self.clock_zone).replace(microsecond=0))

    def onPostRead(self, args: Any = None) -> None:
        pass

    def onPreGet(self, args: Any) -> None:
        pass

    def onPostGet(self, args: Any) -> None:
        pass

    def onPreWrite(self, args: Any) -> None:
        pass

    def onPostWrite(self, args: Any) -> None:
        for e in args:
            if e.target is self.clock and e.index == 2 and self.clock.time is not None:
                written = self.clock.time.value  # the clock runs on from the written time
                self.clock_offset = written - dt.datetime.now(dt.UTC)
                self.clock_zone = written.tzinfo

    def onPreAction(self, args: Any) -> None:
        pass

    def onPostAction(self, args: Any) -> None:
        for e in args:
            if e.target is self.register and e.index == 1:  # reset: Gurux leaves None, which it cannot encode
                self.register.value = 0

    def onFindObject(self, objectType: Any, sn: int, ln: str) -> Any:
        return None

    def onConnected(self, connectionInfo: Any) -> None:
        pass

    def onInvalidConnection(self, connectionInfo: Any) -> None:
        pass

    def onDisconnected(self, connectionInfo: Any) -> None:
        pass


def serve_connection(server: MeterServer, conn: socket.socket) -> None:
    """Feed what the client sends to Gurux and send back what it answers, until the peer closes."""
    server.reset()
    conn.settimeout(300)
    while True:
        try:
            data = conn.recv(4096)
        except (TimeoutError, OSError):
            return
        if not data:
            return
        sr = GXServerReply(bytearray(data))
        while True:
            server.handleRequest(sr)
            if sr.reply:
                conn.sendall(bytes(sr.reply))
            if not sr.isStreaming():
                break
        sr.reply = None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, nargs="?", default=0, help="TCP port (0: a free one)")
    parser.add_argument("--port", type=int, dest="port_option", help="same as the positional port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--hdlc", action="store_true", help="HDLC frames over TCP instead of the wrapper")
    parser.add_argument("--clock", help="clock start, ISO-8601 with offset (default: now, shown at UTC+01:00)")
    args = parser.parse_args(argv)
    if args.port_option is not None:
        args.port = args.port_option
    _patch_gurux()
    clock = dt.datetime.fromisoformat(args.clock) if args.clock else None
    server = MeterServer(args.hdlc, clock)
    listener = socket.create_server((args.host, args.port))
    print(f"READY {listener.getsockname()[1]}", flush=True)
    sys.stdout = sys.stderr  # Gurux print()s; stdout carries only the READY line
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                serve_connection(server, conn)
            except Exception as exc:
                print(f"gurux_server: connection ended: {type(exc).__name__}: {exc}", file=sys.stderr)
                traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
