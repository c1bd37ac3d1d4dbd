#!/usr/bin/env python3
"""Drive a DLMS/COSEM server with the pydlms client (pydlms-client, GPL-3.0-only) -- a test-time checker.

Run only as a subprocess, with the same config and output as ``gurux_client.py`` (see README.md)::

    python tests/dlms_checkers/pydlms_client.py '{"port": 4059, "ops": [...]}'

pydlms is imported here only; nothing in ``hil/`` or ``instruments/`` may import this file.
Protected APDUs use pydlms' default envelope, key-specific glo-ciphering (glo-get-request 0xC8 ...).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pydlms.security.hls as pydlms_hls
from _common import Link, hexbytes, parse_iso, run_main, scaled
from pydlms.apdu import xdlms
from pydlms.client import DlmsClient, _hdlc_server_address
from pydlms.cosem.data import DlmsData, encode_data
from pydlms.cosem.enums import DataType
from pydlms.cosem.time import CosemDateTime
from pydlms.hdlc.connection import HdlcLink
from pydlms.obis import ObisCode
from pydlms.security.context import SecurityContext
from pydlms.security.hls import Mechanism
from pydlms.transports.base import Transport
from pydlms.wrapper import WrapperLink

MECHANISMS = {"none": Mechanism.NONE, "low": Mechanism.LLS, "high-gmac": Mechanism.HLS_GMAC}
DATETIME_ATTRS = {(8, 2), (8, 5), (8, 6)}
#: JSON type name -> DlmsData constructor (for "set" and "action").
TYPES: dict[str, Any] = {
    "null": lambda v: DlmsData.null(),
    "boolean": DlmsData.boolean,
    "int8": DlmsData.int8,
    "int16": DlmsData.int16,
    "int32": DlmsData.int32,
    "int64": lambda v: DlmsData(DataType.INT64, int(v)),
    "uint8": DlmsData.uint8,
    "uint16": DlmsData.uint16,
    "uint32": DlmsData.uint32,
    "uint64": lambda v: DlmsData(DataType.UINT64, int(v)),
    "enum": DlmsData.enum,
    "float32": lambda v: DlmsData(DataType.FLOAT32, float(v)),
    "float64": lambda v: DlmsData(DataType.FLOAT64, float(v)),
    "octet_string": lambda v: DlmsData.octet_string(bytes.fromhex(v)),
    "visible_string": DlmsData.visible_string,
    "datetime": lambda v: DlmsData.octet_string(CosemDateTime.from_datetime(parse_iso(v)).to_bytes()),
}


class TracedTransport(Transport):
    """pydlms Transport over our traced socket (mode E opening, when asked, on open)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.timeout = float(config["timeout"])
        self.recorder = None
        self.link: Link | None = None
        self.buffer = bytearray()
        self.identification: str | None = None

    @property
    def description(self) -> str:
        return f"tcp://{self.config['host']}:{self.config['port']}"

    def open(self) -> None:
        if self.link is None:
            self.link = Link(self.config)
            if self.config["mode_e"]:
                self.identification = self.link.mode_e_opening()

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    def _write(self, data: bytes) -> None:
        assert self.link is not None
        self.link.send(data)

    def _read(self, max_bytes: int, timeout: float) -> bytes:
        assert self.link is not None
        if not self.buffer:
            try:
                self.buffer += self.link.recv(max(timeout, 0.001))
            except TimeoutError:
                return b""
        out, self.buffer = bytes(self.buffer[:max_bytes]), self.buffer[max_bytes:]
        return out


def cell_json(data: DlmsData, key: tuple[int, int] | None = None) -> Any:
    """A pydlms DlmsData as JSON; the octet string of a date-time attribute as ISO-8601."""
    if data.tag in (DataType.STRUCTURE, DataType.ARRAY):
        return [cell_json(item) for item in data.value]
    if key in DATETIME_ATTRS and isinstance(data.value, bytes) and len(data.value) == 12:
        return iso(data.value)
    return plain(data.value)


def iso(raw: bytes) -> str:
    stamp = CosemDateTime.from_bytes(raw)
    try:
        return stamp.to_datetime().isoformat()
    except ValueError:  # wildcards in the date or time fields
        return str(stamp)


def plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, DlmsData):
        return cell_json(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def typed(value: Any, type_name: str) -> DlmsData:
    if type_name not in TYPES:
        raise ValueError(f"unknown type {type_name!r} (one of {', '.join(TYPES)})")
    return TYPES[type_name](value)


class PydlmsSession:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.transport = TracedTransport(config)
        timeout = float(config["timeout"])
        if config["transport"] == "wrapper":
            link: Any = WrapperLink(self.transport, int(config["client"]), int(config["server"]), timeout=timeout)
        elif config["transport"] == "hdlc":
            size = int(config["server_address_size"]) or None
            address = _hdlc_server_address(int(config["server"]), config["physical"], size, None)
            link = HdlcLink(self.transport, int(config["client"]), address, timeout=timeout)
        else:
            raise ValueError(f"unknown transport {config['transport']!r}")
        security = None
        if config["security"] != "none" or config["auth"] == "high-gmac":
            if config["security"] not in ("none", "authentication_encryption"):
                raise ValueError("only security 'authentication_encryption' is wired for pydlms")
            security = SecurityContext(
                hexbytes(config["block_cipher_key"]),
                hexbytes(config["authentication_key"]),
                client_system_title=hexbytes(config["system_title"]),
                invocation_counter=int(config["invocation_counter"]),
            )
        if config["ctos_challenge"]:
            fixed = hexbytes(config["ctos_challenge"])
            pydlms_hls.generate_challenge = lambda length, mech=None: fixed  # reproducible AARQ bytes
        self.client = DlmsClient._build(
            link,
            {
                "mechanism": MECHANISMS[config["auth"]],
                "password": config["password"],
                "security": security,
                "auto_associate": False,
            },
        )

    def associate(self) -> dict[str, Any]:
        self.client.connect()
        self.client.associate()
        assoc = self.client.association
        conf = self.client.conformance
        title = getattr(assoc, "server_system_title", None)
        info: dict[str, Any] = {
            "negotiated_conformance": int(conf),
            "conformance_names": [c.name for c in type(conf) if c.value and conf & c == c and c.name],
            "max_pdu_size": assoc.server_max_pdu,
            "server_system_title": title.hex() if title else None,
        }
        if self.transport.identification:
            info["mode_e_identification"] = self.transport.identification
        return info

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def op_get(self, op: dict[str, Any]) -> dict[str, Any]:
        ic, attr = int(op["ic"]), int(op["attr"])
        data = self.client.get(op["obis"], ic, attr)
        return {"value": cell_json(data, (ic, attr)), "type": data.tag.name, "raw": encode_data(data).hex()}

    def op_get_scaled(self, op: dict[str, Any]) -> dict[str, Any]:
        ic = int(op.get("ic", 3))
        su = self.client.get(op["obis"], ic, 3)
        raw = self.client.get(op["obis"], ic, 2).value
        scaler, unit = int(su.value[0].value), int(su.value[1].value)
        return {"value": scaled(raw, scaler), "raw": raw, "scaler": scaler, "unit": unit}

    def _columns(self, obis: str) -> list[tuple[int, ObisCode, int]]:
        capture = self.client.get(obis, 7, 3)
        return [
            (int(c.value[0].value), ObisCode.from_bytes(c.value[1].value), int(c.value[2].value)) for c in capture.value
        ]

    def _rows(self, obis: str, columns: list[tuple[int, ObisCode, int]], access: Any) -> dict[str, Any]:
        buffer = self.client.get(obis, 7, 2, access)
        rows = [
            [
                cell_json(cell, (columns[i][0], columns[i][2]) if i < len(columns) else None)
                for i, cell in enumerate(row.value)
            ]
            for row in buffer.value
        ]
        return {"value": rows, "columns": [[c, str(o), a] for c, o, a in columns]}

    def op_profile_range(self, op: dict[str, Any]) -> dict[str, Any]:
        columns = self._columns(op["obis"])
        restricting = columns[0] if columns else (8, ObisCode(0, 0, 1, 0, 0, 255), 2)
        start = DlmsData.octet_string(CosemDateTime.from_datetime(parse_iso(op["from"])).to_bytes())
        end = DlmsData.octet_string(CosemDateTime.from_datetime(parse_iso(op["to"])).to_bytes())
        return self._rows(op["obis"], columns, xdlms.range_descriptor(start, end, restricting))

    def op_profile_entries(self, op: dict[str, Any]) -> dict[str, Any]:
        columns = self._columns(op["obis"])
        access = xdlms.entry_descriptor(int(op.get("first", 1)), int(op.get("last", 0)))
        return self._rows(op["obis"], columns, access)

    def op_action(self, op: dict[str, Any]) -> dict[str, Any]:
        data = self.client.action(
            op["obis"], int(op["ic"]), int(op["method"]), typed(op.get("data", 0), op.get("type", "int8"))
        )
        return {"value": cell_json(data) if data is not None else None}

    def op_set(self, op: dict[str, Any]) -> dict[str, Any]:
        self.client.set(op["obis"], int(op["ic"]), int(op["attr"]), typed(op["value"], op["type"]))
        return {"value": None}

    def op_object_list(self, op: dict[str, Any]) -> dict[str, Any]:
        view = self.client.get_association_view()
        return {
            "value": [{"ic": int(e.class_id), "obis": str(e.logical_name), "version": int(e.version)} for e in view]
        }


def error_of(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
    code = getattr(exc, "result", None)
    if isinstance(code, int):
        out["code"] = int(code)
    return out


def body(config: dict[str, Any], doc: dict[str, Any]) -> bool:
    session = PydlmsSession(config)
    try:
        doc["association"] = session.associate()
    except Exception as exc:
        doc.update(error_of(exc))
        session.transport.close()
        return False
    doc["associated"] = True
    for op in config["ops"]:
        handler = getattr(session, "op_" + str(op.get("op")), None)
        result: dict[str, Any] = {"op": op.get("op")}
        if handler is None:
            result["error"] = f"unknown op {op.get('op')!r}"
        else:
            try:
                result.update(handler(op))
            except Exception as exc:
                result.update(error_of(exc))
        doc["results"].append(result)
    if config["release"]:
        session.release()
    session.transport.close()
    return True


if __name__ == "__main__":
    sys.exit(run_main(body, f"pydlms-client {version('pydlms-client')}", sys.argv))
