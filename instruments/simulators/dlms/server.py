"""A simulated meter's DLMS/COSEM server and its sessions: the TCP wrapper (IEC 62056-47) on its own port.

One :class:`DlmsServer` per meter holds what outlives a connection (objects, keys, invocation counters); every
connection gets a session, and every client SAP on it its own association. The port is silent while the meter is
dead or unpowered, as the IEC 62056-21 port is, and a connection that breaks the wrapper framing is closed (a
length-prefixed stream cannot be resynchronised); other connections keep being served.
"""

from __future__ import annotations

from collections.abc import Callable

from instruments.dlms.acse import Mechanism
from instruments.dlms.hdlc import HdlcServerLink
from instruments.dlms.security import Keys
from instruments.dlms.wrapper import WrapperError, WrapperFrame, WrapperReader
from instruments.simulators.dlms.association import (
    SERVER_MAX_RECEIVE_PDU,
    ClientPolicy,
    Counters,
    SecurityContext,
    ServerAssociation,
)
from instruments.simulators.dlms.meter import MeterCosem, WorldMeter, system_title
from instruments.simulators.net import Output

PUBLIC_CLIENT = 16
MANAGEMENT_CLIENT = 1
#: the management logical device (server SAP / wrapper port 1, Green Book 4.1.3)
LOGICAL_DEVICE = 1


class DlmsServer:
    """The DLMS/COSEM side of one simulated meter."""

    def __init__(
        self,
        meter: WorldMeter,
        lls_password: str,
        keys: Keys,
        title: bytes | None = None,
        time_zone_min: int = 0,
        hdlc_address: int = 0x10,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self.meter = meter
        self.counters = Counters()
        self.security = SecurityContext(keys, title or system_title(meter.manufacturer, meter.serial), self.counters)
        self.cosem = MeterCosem(meter, time_zone_min, self.counters)
        self.policies = {
            PUBLIC_CLIENT: ClientPolicy(PUBLIC_CLIENT, (Mechanism.NONE,), may_write=False),
            MANAGEMENT_CLIENT: ClientPolicy(MANAGEMENT_CLIENT, (Mechanism.LLS, Mechanism.HLS_GMAC), may_write=True,
                                            password=lls_password.encode("ascii")),
        }
        self._random = random_bytes
        self.hdlc_address = hdlc_address
        #: what the server refused and why (the simulator's own log; tests read it)
        self.events: list[str] = []

    def association(self, client_sap: int) -> ServerAssociation:
        kwargs = {} if self._random is None else {"random_bytes": self._random}
        return ServerAssociation(self.cosem.directory, self.policies, client_sap, self.security,
                                 on_event=self._log, **kwargs)

    def _log(self, message: str) -> None:
        self.events.append(message)
        del self.events[:-200]

    def new_session(self) -> WrapperSession:
        return WrapperSession(self)

    def hdlc_session(self) -> HdlcSession:
        """HDLC (IEC 62056-46) on the optical port after the IEC 62056-21 mode E switch-over."""
        return HdlcSession(self)


class WrapperSession:
    """One TCP connection speaking the wrapper: associations keyed by the client's wPort."""

    def __init__(self, server: DlmsServer) -> None:
        self.server = server
        self._reader = WrapperReader(max_apdu=SERVER_MAX_RECEIVE_PDU + 64)
        self._associations: dict[int, ServerAssociation] = {}

    def data_received(self, data: bytes, out: Output) -> None:
        if not self.server.meter.port_alive:
            self.connection_lost()  # a dead meter hears nothing and keeps no association
            return
        try:
            frames = self._reader.feed(data)
        except WrapperError as exc:
            self.server._log(f"wrapper stream broken, connection closed: {exc}")
            self.connection_lost()
            out.close()
            return
        for frame in frames:
            if frame.destination != LOGICAL_DEVICE:
                self.server._log(f"wrapper frame for wPort {frame.destination} ignored (logical device 1 only)")
                continue
            assoc = self._associations.get(frame.source)
            if assoc is None:
                assoc = self._associations[frame.source] = self.server.association(frame.source)
            reply = assoc.handle(frame.apdu)
            if reply is not None:
                out.write(WrapperFrame(LOGICAL_DEVICE, frame.source, reply).encode())

    def eof_received(self, out: Output) -> None:
        pass

    def connection_lost(self) -> None:
        for assoc in self._associations.values():
            assoc.release()
        self._associations.clear()


class HdlcSession:
    """HDLC frames (server upper address 1 = the logical device, any lower address); an association per client
    address, released on DISC, on a new SNRM and when the link goes."""

    def __init__(self, server: DlmsServer) -> None:
        self.server = server
        self._associations: dict[int, ServerAssociation] = {}
        self.link = HdlcServerLink(LOGICAL_DEVICE, server.hdlc_address, self._deliver, on_disconnect=self._release,
                                   max_apdu=SERVER_MAX_RECEIVE_PDU + 64)

    def _deliver(self, client_sap: int, apdu: bytes) -> bytes | None:
        assoc = self._associations.get(client_sap)
        if assoc is None:
            assoc = self._associations[client_sap] = self.server.association(client_sap)
        return assoc.handle(apdu)

    def _release(self, client_sap: int) -> None:
        assoc = self._associations.pop(client_sap, None)
        if assoc is not None:
            assoc.release()

    def data_received(self, data: bytes, out: Output) -> None:
        if not self.server.meter.port_alive:
            self.connection_lost()
            return
        reply = self.link.receive(data)
        if reply:
            out.write(reply)

    def eof_received(self, out: Output) -> None:
        pass

    def connection_lost(self) -> None:
        self.link.reset()
        for assoc in self._associations.values():
            assoc.release()
        self._associations.clear()
