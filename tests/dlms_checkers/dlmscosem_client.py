#!/usr/bin/env python3
"""Drive a DLMS/COSEM server with the dlms-cosem client (Business Source License 1.1) -- a test-time checker.

Run only as a subprocess, with the same config and output as ``gurux_client.py`` (see README.md)::

    python tests/dlms_checkers/dlmscosem_client.py '{"port": 4059, "ops": [...]}'

dlms-cosem is imported here only; nothing in ``hil/`` or ``instruments/`` may import this file.
What dlms-cosem 25.1.0 cannot do is answered per op with an ``error`` (profile_entries: its
EntryDescriptor has no encoder; object_list is returned raw-decoded; mode E is not offered).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import structlog
from _common import Link, hexbytes, parse_iso, run_main, scaled
from attr import fields as attr_fields
from dlms_cosem import cosem, dlms_data, enumerations, utils
from dlms_cosem import time as dtime
from dlms_cosem.client import DlmsClient
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.cosem.selective_access import RangeDescriptor
from dlms_cosem.io import HdlcTransport, TcpTransport
from dlms_cosem.protocol import xdlms
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
    NoSecurityAuthentication,
)

#: JSON type name -> dlms-cosem data class (for "set" and "action").
TYPES: dict[str, Any] = {
    "null": dlms_data.NullData,
    "boolean": dlms_data.BooleanData,
    "int8": dlms_data.IntegerData,
    "int16": dlms_data.LongData,
    "int32": dlms_data.DoubleLongData,
    "int64": dlms_data.Long64Data,
    "uint8": dlms_data.UnsignedIntegerData,
    "uint16": dlms_data.UnsignedLongData,
    "uint32": dlms_data.DoubleLongUnsignedData,
    "uint64": dlms_data.UnsignedLong64Data,
    "enum": dlms_data.EnumData,
    "octet_string": dlms_data.OctetStringData,
    "visible_string": dlms_data.VisibleStringData,
    "datetime": dlms_data.OctetStringData,
}
#: (class id, attribute) pairs whose octet string is a COSEM date-time.
DATETIME_ATTRS = {(8, 2), (8, 5), (8, 6)}


class TracedIO:
    """dlms-cosem's IoImplementation (connect/send/recv/recv_until) over our traced socket."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.link: Link | None = None
        self.buffer = bytearray()

    def connect(self) -> None:
        self.link = Link(self.config)
        if self.config["mode_e"]:
            raise NotImplementedError("dlms-cosem has no IEC 62056-21 mode E opening")

    def disconnect(self) -> None:
        if self.link:
            self.link.close()
            self.link = None

    def send(self, data: bytes) -> None:
        assert self.link is not None
        self.link.send(data)

    def recv(self, amount: int = 1) -> bytes:
        assert self.link is not None
        while len(self.buffer) < amount:
            self.buffer += self.link.recv()
        out, self.buffer = bytes(self.buffer[:amount]), self.buffer[amount:]
        return out

    def recv_until(self, end: bytes) -> bytes:
        data = b""
        while not data.endswith(end):
            data += self.recv()
        return data


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "value"):
        return to_json(value.value)
    return str(value)


def datetime_json(raw: bytes) -> str:
    """ISO-8601 of a COSEM date-time as dlms-cosem decodes it. dlms-cosem 25.1.0 returns a naive datetime
    for deviation 0 as for "not specified" (0x8000); only the latter stays without an offset here."""
    stamp, _status = dtime.datetime_from_bytes(raw)
    if stamp.tzinfo is None and raw[9:11] != b"\x80\x00":
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.isoformat()


def obis_text(value: bytes | bytearray) -> str:
    return ".".join(str(b) for b in bytes(value))


def conformance_json(conf: Any) -> dict[str, Any]:
    names = [f.name for f in attr_fields(type(conf)) if getattr(conf, f.name) is True]
    return {"negotiated_conformance": int.from_bytes(conf.to_bytes()[-3:], "big"), "conformance_names": names}


def attribute(ic: int, obis: str, attr: int) -> cosem.CosemAttribute:
    return cosem.CosemAttribute(
        interface=enumerations.CosemInterface(ic), instance=cosem.Obis.from_string(obis), attribute=attr
    )


def encode(value: Any, type_name: str) -> bytes:
    if type_name not in TYPES:
        raise ValueError(f"unknown type {type_name!r} (one of {', '.join(TYPES)})")
    if type_name == "datetime":
        return dlms_data.OctetStringData(dtime.datetime_to_bytes(parse_iso(value))).to_bytes()
    if type_name == "octet_string":
        return dlms_data.OctetStringData(bytes.fromhex(value)).to_bytes()
    if type_name == "null":
        return dlms_data.NullData().to_bytes()
    return TYPES[type_name](value).to_bytes()


class CosemSession:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.io = TracedIO(config)
        if config["transport"] == "wrapper":
            transport: Any = TcpTransport(
                client_logical_address=int(config["client"]),
                server_logical_address=int(config["server"]),
                io=self.io,
                timeout=int(config["timeout"]),
            )
        elif config["transport"] == "hdlc":
            transport = HdlcTransport(
                client_logical_address=int(config["client"]),
                server_logical_address=int(config["server"]),
                server_physical_address=config["physical"],
                io=self.io,
                extended_addressing=int(config["server_address_size"]) == 4,
                timeout=int(config["timeout"]),
            )
        else:
            raise ValueError(f"unknown transport {config['transport']!r}")
        auth_name = config["auth"]
        if auth_name == "none":
            auth: Any = NoSecurityAuthentication()
        elif auth_name == "low":
            auth = LowLevelSecurityAuthentication(secret=str(config["password"] or "").encode())
        elif auth_name == "high-gmac":
            auth = HighLevelSecurityGmacAuthentication()
            if config["ctos_challenge"]:
                auth.calling_authentication_value = hexbytes(config["ctos_challenge"])
        else:
            raise ValueError(f"unknown auth {auth_name!r}")
        ciphered = config["security"] != "none"
        if ciphered and config["security"] != "authentication_encryption":
            raise ValueError("dlms-cosem protects APDUs with authentication and encryption only")
        self.client = DlmsClient(
            transport=transport,
            authentication=auth,
            encryption_key=hexbytes(config["block_cipher_key"]) if ciphered else None,
            authentication_key=hexbytes(config["authentication_key"]) if ciphered else None,
            client_system_title=hexbytes(config["system_title"]),
            client_initial_invocation_counter=int(config["invocation_counter"]),
            timeout=int(config["timeout"]),
        )

    def associate(self) -> dict[str, Any]:
        self.client.connect()
        aare = self.client.associate()
        conn = self.client.dlms_connection
        info: dict[str, Any] = {
            **conformance_json(conn.conformance),
            "max_pdu_size": conn.max_pdu_size,
            "server_system_title": conn.meter_system_title.hex() if conn.meter_system_title else None,
            "result": aare.result.name,
        }
        return info

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self.client.release_association()
        with contextlib.suppress(Exception):
            self.client.disconnect()

    def get_raw(self, ic: int, obis: str, attr: int, access: Any = None) -> bytes:
        return self.client.get(attribute(ic, obis, attr), access_descriptor=access)

    def op_get(self, op: dict[str, Any]) -> dict[str, Any]:
        ic, attr = int(op["ic"]), int(op["attr"])
        raw = self.get_raw(ic, op["obis"], attr)
        value = utils.parse_as_dlms_data(raw)
        if (ic, attr) in DATETIME_ATTRS and isinstance(value, bytes | bytearray) and len(value) == 12:
            return {"value": datetime_json(bytes(value)), "raw": raw.hex()}
        return {"value": to_json(value), "raw": raw.hex()}

    def op_get_scaled(self, op: dict[str, Any]) -> dict[str, Any]:
        ic = int(op.get("ic", 3))
        su = utils.parse_as_dlms_data(self.get_raw(ic, op["obis"], 3))
        raw = utils.parse_as_dlms_data(self.get_raw(ic, op["obis"], 2))
        scaler, unit = int(su[0]), int(su[1])
        return {"value": scaled(raw, scaler), "raw": raw, "scaler": scaler, "unit": unit}

    def op_profile_range(self, op: dict[str, Any]) -> dict[str, Any]:
        columns = utils.parse_as_dlms_data(self.get_raw(7, op["obis"], 3)) or []
        if columns:
            ic0, ln0, attr0, index0 = columns[0]
            restricting = CaptureObject(attribute(int(ic0), obis_text(ln0), int(attr0)), int(index0))
        else:
            restricting = CaptureObject(attribute(8, "0.0.1.0.0.255", 2), 0)
        access = RangeDescriptor(
            restricting_object=restricting, from_value=parse_iso(op["from"]), to_value=parse_iso(op["to"])
        )
        rows = utils.parse_as_dlms_data(self.get_raw(7, op["obis"], 2, access)) or []
        return {"value": [self._row(row, columns) for row in rows], "columns": self._columns(columns)}

    def op_profile_entries(self, op: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("dlms-cosem 25.1.0 EntryDescriptor.to_bytes is not implemented")

    @staticmethod
    def _columns(columns: list[Any]) -> list[list[Any]]:
        return [[int(c[0]), obis_text(c[1]), int(c[2])] for c in columns]

    @staticmethod
    def _row(row: list[Any], columns: list[Any]) -> list[Any]:
        out = []
        for i, cell in enumerate(row):
            key = (int(columns[i][0]), int(columns[i][2])) if i < len(columns) else None
            if key in DATETIME_ATTRS and isinstance(cell, bytes | bytearray) and len(cell) == 12:
                out.append(datetime_json(bytes(cell)))
            else:
                out.append(to_json(cell))
        return out

    def op_action(self, op: dict[str, Any]) -> dict[str, Any]:
        method = cosem.CosemMethod(
            enumerations.CosemInterface(int(op["ic"])), cosem.Obis.from_string(op["obis"]), int(op["method"])
        )
        data = self.client.action(method, encode(op.get("data", 0), op.get("type", "int8")))
        return {"value": to_json(utils.parse_as_dlms_data(data)) if data else None}

    def op_set(self, op: dict[str, Any]) -> dict[str, Any]:
        response = self.client.set(
            attribute(int(op["ic"]), op["obis"], int(op["attr"])), encode(op["value"], op["type"])
        )
        if isinstance(response, xdlms.SetResponseNormal) and response.result.name != "SUCCESS":
            raise RuntimeError(f"SET refused: {response.result.name}")
        return {"value": None}

    def op_object_list(self, op: dict[str, Any]) -> dict[str, Any]:
        entries = utils.parse_as_dlms_data(self.get_raw(15, "0.0.40.0.0.255", 2)) or []
        return {"value": [{"ic": int(e[0]), "obis": obis_text(e[2]), "version": int(e[1])} for e in entries]}


def body(config: dict[str, Any], doc: dict[str, Any]) -> bool:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    session = CosemSession(config)
    try:
        doc["association"] = session.associate()
    except Exception as exc:
        doc["error"] = f"{type(exc).__name__}: {exc}"
        session.io.disconnect()
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
            except (ConnectionError, TimeoutError) as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"
                doc["results"].append(result)
                break
            except Exception as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"
        doc["results"].append(result)
    if config["release"]:
        session.release()
    session.io.disconnect()
    return True


if __name__ == "__main__":
    sys.exit(run_main(body, f"dlms-cosem {version('dlms-cosem')}", sys.argv))
