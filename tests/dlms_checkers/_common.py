"""Shared plumbing of the DLMS checker scripts (our code; imports no third-party DLMS package).

The checker scripts in this folder each drive one third-party DLMS/COSEM library. They are run only
as subprocesses (``python tests/dlms_checkers/<script>.py CONFIG``); this module gives them the same
input (a JSON config), the same output (one JSON document on stdout) and the same byte stream
(a TCP socket that can log every chunk sent and received, and do the IEC 62056-21 mode E opening).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

#: Defaults of the JSON config every checker client takes.
DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 4059,
    "transport": "wrapper",  # "wrapper" (IEC 62056-47) or "hdlc" (IEC 62056-46 frames over the TCP socket)
    "client": 16,  # client SAP (16 public, 1 management, ...)
    "server": 1,  # server logical device (wrapper destination wPort; HDLC upper address)
    "physical": None,  # HDLC lower (physical) address; None: one-byte server address (upper only)
    "server_address_size": 0,  # HDLC server address octets 1/2/4 (0: smallest that fits)
    "auth": "none",  # "none" | "low" | "high-gmac"
    "password": None,
    "security": "none",  # "none" | "authentication_encryption"
    "block_cipher_key": None,
    "authentication_key": None,
    "system_title": None,  # client system title (hex, 8 octets)
    "invocation_counter": 1,
    "ctos_challenge": None,  # HLS: fixed client-to-server challenge (hex), default random
    "mode_e": False,  # IEC 62056-21 mode E opening before HDLC ("/?!" ... ACK 2 Z 2)
    "timeout": 5.0,
    "trace": False,  # put every chunk sent/received, as hex, in the output
    "release": True,  # RLRQ (wrapper or ciphered) and DISC (HDLC) at the end
    "ops": [],
}


def load_config(argv: list[str]) -> dict[str, Any]:
    """The config: argv[1] as JSON text, ``@FILE``, or ``-``/nothing for JSON on stdin."""
    if len(argv) > 1 and argv[1] != "-":
        arg = argv[1]
        if arg.startswith("@"):
            with open(arg[1:], encoding="utf-8") as fh:
                text = fh.read()
        else:
            text = arg
    else:
        text = sys.stdin.read()
    given = json.loads(text) if text.strip() else {}
    if not isinstance(given, dict):
        raise ValueError("config must be a JSON object")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)}")
    return {**DEFAULTS, **given}


def hexbytes(value: str | None) -> bytes | None:
    """Hex text (spaces allowed) as bytes; None stays None."""
    if value is None:
        return None
    return bytes.fromhex(value.replace(" ", ""))


def parse_iso(text: str) -> dt.datetime:
    """ISO-8601 text as a datetime; without an offset it is taken as UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def scaled(raw: int | float, scaler: int) -> int | float:
    """raw x 10^scaler without binary rounding noise (2301, -1 -> 230.1)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError(f"register value {raw!r} is not a number")
    if scaler >= 0 and isinstance(raw, int):
        return raw * 10**scaler
    return float(Decimal(str(raw)).scaleb(scaler))


def emit(doc: dict[str, Any]) -> None:
    """Print the one JSON document of the run (on the real stdout, whatever a library did to it)."""
    sys.__stdout__.write(json.dumps(doc, indent=None, sort_keys=False, default=str) + "\n")
    sys.__stdout__.flush()


def run_main(body: Callable[[dict[str, Any], dict[str, Any]], bool], library: str, argv: list[str]) -> int:
    """Load the config, run ``body(config, doc)``, print ``doc``; exit 0 when the association worked.

    ``body`` fills ``doc`` (association, results) and returns whether the association was made.
    Exit codes: 0 associated (some ops may still carry errors), 1 no association, 2 bad config.
    """
    doc: dict[str, Any] = {"library": library, "associated": False, "results": []}
    try:
        config = load_config(argv)
    except (ValueError, OSError) as exc:
        doc["error"] = f"bad config: {exc}"
        emit(doc)
        return 2
    trace: list[dict[str, str]] = []
    config["_trace"] = trace
    sys.stdout = sys.stderr  # libraries that print() must not spoil the one JSON document
    try:
        ok = body(config, doc)
    except Exception as exc:
        doc["error"] = f"{type(exc).__name__}: {exc}"
        ok = bool(doc.get("associated"))
    finally:
        sys.stdout = sys.__stdout__
    doc["associated"] = ok
    if config["trace"]:
        doc["trace"] = trace
    emit(doc)
    return 0 if ok else 1


class Link:
    """A TCP byte stream to the server that logs every chunk (hex) into the config's trace."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.timeout = float(config["timeout"])
        self.trace: list[dict[str, str]] = config["_trace"]
        self.sock = socket.create_connection((config["host"], int(config["port"])), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes | bytearray) -> None:
        self.trace.append({"dir": "tx", "hex": bytes(data).hex()})
        self.sock.sendall(bytes(data))

    def recv(self, timeout: float | None = None) -> bytes:
        """The next chunk; TimeoutError when none came in time, ConnectionError when the peer closed."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("no answer from the server in time") from None
        if not data:
            raise ConnectionError("server closed the connection")
        self.trace.append({"dir": "rx", "hex": data.hex()})
        return data

    def mode_e_opening(self) -> str:
        """IEC 62056-21 mode E opening as Gurux's reader does it: ``/?!`` CR LF, the identification
        ``/XXXZ...`` CR LF, then ACK ``2`` Z ``2`` CR LF (protocol control 2, binary HDLC mode).

        Over a byte stream there is no baud rate to change; returns the identification line.
        """
        self.send(b"/?!\r\n")
        line = bytearray()
        deadline = time.monotonic() + self.timeout
        while not line.endswith(b"\n"):
            if time.monotonic() > deadline:
                raise TimeoutError("no identification message after /?!")
            line += self.recv()
            if bytes(line) == b"/?!\r\n":  # an echo (optical head) comes first
                line.clear()
        ident = bytes(line).strip()
        if not ident.startswith(b"/") or len(ident) < 5:
            raise ValueError(f"invalid identification message {ident!r}")
        baud = ident[4:5]
        self.send(b"\x06" + b"2" + baud + b"2" + b"\r\n")
        time.sleep(0.2)
        return ident.decode("ascii", "replace")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
