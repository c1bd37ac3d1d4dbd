#!/usr/bin/env python3
"""Start pydlms' meter simulator (pydlms-client, GPL-3.0-only) on 127.0.0.1 -- a DLMS server no one here wrote.

Run only as a subprocess::

    python tests/dlms_checkers/third_party_server.py [PORT | --port PORT] [--hdlc] [--mode-e]
        [--client SAP:MECH[:SECRET]]...

Prints ``READY <port>`` on stdout once listening (port 0, the default, takes a free port), then serves
until killed. The meter is ``pydlms.simulator.example_meter()`` (objects listed in README.md), logical
device 1 (any wrapper destination wPort; HDLC upper address 1 with any physical address).

Clients (``--client`` replaces the whole list): 16 public without authentication, 1 management with
LLS ``12345678``, 2 with HLS-GMAC (mechanism 5), ciphered with the global keys. The keys default to the
well-known test keys (block cipher 000102...0F, authentication D0D1...DF); the server system title
is ``5059440000000001`` ("PYD" 00000001). ``--server-invocation-counter`` (default 1) is the first
counter the server uses in its protected APDUs: dlms-cosem refuses a server counter of 0.

``--stoc HEX`` fixes the HLS server-to-client challenge, for reproducible byte captures.

``--mode-e`` answers an IEC 62056-21 opening (``/?!`` CR LF -> ``/PYD5\\2PYDLMS`` CR LF, then
ACK 2 Z 2 CR LF) before HDLC; that opening is this script's own code (pydlms' simulator has none).
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pydlms.simulator as pydlms_simulator
from pydlms.security.hls import Mechanism
from pydlms.simulator import ClientProfile, HdlcServer, _wrapper_loop, example_meter

TEST_KEY = "000102030405060708090A0B0C0D0E0F"
TEST_AUTH_KEY = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
DEFAULT_CLIENTS = ["16:0", "1:1:12345678", "2:5"]
IDENTIFICATION = b"/PYD5\\2PYDLMS\r\n"  # \2: mode E offered (IEC 62056-21 6.3.14)


def mode_e_opening(conn: socket.socket) -> bytes:
    """The server side of the IEC 62056-21 opening; returns what came after the ACK line."""
    buf = bytearray()
    while b"\r\n" not in buf:
        chunk = conn.recv(256)
        if not chunk:
            raise ConnectionError("closed during the opening")
        buf += chunk
    request, _, rest = bytes(buf).partition(b"\r\n")
    if not request.startswith(b"/?") or not request.endswith(b"!"):
        raise ValueError(f"not a request message: {request!r}")
    conn.sendall(IDENTIFICATION)
    buf = bytearray(rest)
    while b"\r\n" not in buf:
        chunk = conn.recv(256)
        if not chunk:
            raise ConnectionError("closed before the acknowledgement")
        buf += chunk
    ack, _, rest = bytes(buf).partition(b"\r\n")
    if len(ack) != 4 or ack[0] != 0x06 or ack[1:2] != b"2" or ack[3:4] != b"2":
        raise ValueError(f"not an ACK 2 Z 2 (HDLC mode E) acknowledgement: {ack!r}")
    return rest


def build_meter(args: argparse.Namespace) -> Any:
    meter = example_meter(encryption_key=bytes.fromhex(args.key), authentication_key=bytes.fromhex(args.auth_key))
    meter.clients.clear()
    for spec in args.client or DEFAULT_CLIENTS:
        sap, mech, *secret = spec.split(":", 2)
        mechanism = Mechanism(int(mech))
        meter.clients[int(sap)] = ClientProfile(
            mechanism,
            secret=secret[0].encode() if secret else None,
            ciphered=mechanism == Mechanism.HLS_GMAC,
        )
    if meter.security is not None:
        meter.security.set_invocation_counter(args.server_invocation_counter)
    return meter


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("port", type=int, nargs="?", default=0, help="TCP port (0: a free one)")
    parser.add_argument("--port", type=int, dest="port_option", help="same as the positional port")
    parser.add_argument("--hdlc", action="store_true", help="HDLC frames over TCP instead of the wrapper")
    parser.add_argument("--mode-e", action="store_true", help="IEC 62056-21 opening before HDLC (implies --hdlc)")
    parser.add_argument("--client", action="append", metavar="SAP:MECH[:SECRET]", help="replaces the default clients")
    parser.add_argument("--key", default=TEST_KEY, help="global unicast encryption key (hex)")
    parser.add_argument("--auth-key", default=TEST_AUTH_KEY, help="authentication key (hex)")
    parser.add_argument("--server-invocation-counter", type=int, default=1)
    parser.add_argument("--stoc", metavar="HEX", help="fixed HLS server-to-client challenge (reproducible captures)")
    args = parser.parse_args(argv)
    if args.stoc:
        fixed = bytes.fromhex(args.stoc)
        pydlms_simulator.os = SimpleNamespace(urandom=lambda n: fixed)  # the simulator's only use of os
    if args.port_option is not None:
        args.port = args.port_option
    hdlc = args.hdlc or args.mode_e
    meter = build_meter(args)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn = self.request
            try:
                if not hdlc:
                    _wrapper_loop(meter, conn)
                    return
                server = HdlcServer(meter, conn)
                if args.mode_e:
                    rest = mode_e_opening(conn)
                    if rest:
                        server.feed(rest)
                while data := conn.recv(4096):
                    server.feed(data)
            except (ConnectionError, OSError, ValueError) as exc:
                print(f"third_party_server: connection ended: {exc}", file=sys.stderr)

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server((args.host, args.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    sys.stdout = sys.stderr
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
