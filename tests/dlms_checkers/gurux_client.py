#!/usr/bin/env python3
"""Drive a DLMS/COSEM server with the Gurux client (gurux-dlms, GPL-2.0) -- a test-time checker.

Run only as a subprocess::

    python tests/dlms_checkers/gurux_client.py '{"port": 4059, "ops": [{"op": "get", "ic": 8,
        "obis": "0.0.1.0.0.255", "attr": 2}]}'

(or ``@config.json``, or the JSON on stdin). Prints one JSON document; see README.md in this folder.
Gurux is imported here only; nothing in ``hil/`` or ``instruments/`` may import this file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Link, hexbytes, parse_iso, run_main, scaled
from gurux_dlms import (
    GXArray,
    GXByteBuffer,
    GXDate,
    GXDateTime,
    GXDLMSClient,
    GXDLMSException,
    GXReplyData,
    GXTime,
)
from gurux_dlms.enums import Authentication, Conformance, DataType, InterfaceType, ObjectType, Security
from gurux_dlms.GXBitString import GXBitString
from gurux_dlms.objects import GXDLMSProfileGeneric, GXDLMSRegister
from gurux_dlms.secure import GXDLMSSecureClient

AUTH = {"none": Authentication.NONE, "low": Authentication.LOW, "high-gmac": Authentication.HIGH_GMAC}
SECURITY = {
    "none": Security.NONE,
    "authentication": Security.AUTHENTICATION,
    "encryption": Security.ENCRYPTION,
    "authentication_encryption": Security.AUTHENTICATION_ENCRYPTION,
}
#: JSON type names accepted by "set"/"action" ("type") and the Gurux data type they map to.
TYPES = {
    "null": DataType.NONE,
    "boolean": DataType.BOOLEAN,
    "int8": DataType.INT8,
    "int16": DataType.INT16,
    "int32": DataType.INT32,
    "int64": DataType.INT64,
    "uint8": DataType.UINT8,
    "uint16": DataType.UINT16,
    "uint32": DataType.UINT32,
    "uint64": DataType.UINT64,
    "enum": DataType.ENUM,
    "float32": DataType.FLOAT32,
    "float64": DataType.FLOAT64,
    "octet_string": DataType.OCTET_STRING,
    "visible_string": DataType.STRING,
    "utf8_string": DataType.STRING_UTF8,
    "datetime": DataType.OCTET_STRING,  # value: ISO-8601 text, sent as the 12-octet COSEM date-time
}
DATE_TYPES = (DataType.DATETIME, DataType.DATE, DataType.TIME)


def to_json(value: Any) -> Any:
    """A Gurux value as JSON: date-times ISO-8601, octet strings hex, structures/arrays lists."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, GXDate | GXTime | GXDateTime):
        return iso(value)
    if isinstance(value, int | float):
        return value.real if isinstance(value, float) else int(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, GXBitString):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, GXByteBuffer):
        return bytes(value.array()).hex()
    return str(value)


def iso(value: GXDateTime) -> str | None:
    """ISO-8601 of a Gurux date-time (with the offset it carried)."""
    stamp = value.value
    if stamp is None:
        return None
    if isinstance(value, GXDate):
        return stamp.date().isoformat()
    if isinstance(value, GXTime):
        return stamp.time().isoformat()
    if isinstance(stamp, dt.datetime):
        return stamp.isoformat()
    return str(stamp)


class GuruxSession:
    """One association with the server through the Gurux client, over our traced socket."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        hdlc = config["transport"] == "hdlc"
        if config["transport"] not in ("wrapper", "hdlc"):
            raise ValueError(f"unknown transport {config['transport']!r}")
        iface = InterfaceType.WRAPPER
        if hdlc:
            iface = InterfaceType.HDLC_WITH_MODE_E if config["mode_e"] else InterfaceType.HDLC
        server = int(config["server"])
        if hdlc and config["physical"] is not None:
            server = GXDLMSClient.getServerAddress(server, int(config["physical"]), int(config["server_address_size"]))
        password = config["password"]
        self.client = GXDLMSSecureClient(True, int(config["client"]), server, AUTH[config["auth"]], password, iface)
        if hdlc and config["server_address_size"]:
            self.client.serverAddressSize = int(config["server_address_size"])
        cipher = self.client.ciphering
        cipher.security = SECURITY[config["security"]]
        if config["system_title"]:
            cipher.systemTitle = bytearray(hexbytes(config["system_title"]) or b"")
        if config["block_cipher_key"]:
            cipher.blockCipherKey = bytearray(hexbytes(config["block_cipher_key"]) or b"")
        if config["authentication_key"]:
            cipher.authenticationKey = bytearray(hexbytes(config["authentication_key"]) or b"")
        cipher.invocationCounter = int(config["invocation_counter"])
        if config["ctos_challenge"]:
            self.client.ctoSChallenge = bytearray(hexbytes(config["ctos_challenge"]) or b"")
        self.link = Link(config)

    # -- transport -------------------------------------------------------------------------------
    def exchange(self, data: bytes | bytearray | list[bytes | bytearray] | None, reply: GXReplyData) -> None:
        """Send one request (or each of a list) and read its answer, following block transfer."""
        if data is None:
            return
        if isinstance(data, list):
            for item in data:
                reply.clear()
                self.exchange(item, reply)
            return
        self._packet(data, reply)
        while reply.isMoreData():
            self._packet(None if reply.isStreaming() else self.client.receiverReady(reply), reply)

    def _packet(self, data: bytes | bytearray | None, reply: GXReplyData) -> None:
        notify = GXReplyData()
        reply.error = 0
        if data is not None:
            self.link.send(data)
        buf = GXByteBuffer()
        while not self.client.getData(buf, reply, notify):
            if notify.data.size != 0:
                if not notify.isMoreData():
                    notify.clear()  # a push interleaved with the answer: dropped
                continue
            buf.set(self.link.recv())
        if reply.error != 0:
            raise GXDLMSException(reply.error)

    # -- association -----------------------------------------------------------------------------
    def associate(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if self.config["transport"] == "hdlc" and self.config["mode_e"]:
            info["mode_e_identification"] = self.link.mode_e_opening()
        reply = GXReplyData()
        snrm = self.client.snrmRequest()
        if snrm:
            self.exchange(snrm, reply)
            self.client.parseUAResponse(reply.data)
            hs = self.client.hdlcSettings
            info["hdlc"] = {
                "max_info_tx": hs.maxInfoTX,
                "max_info_rx": hs.maxInfoRX,
                "window_tx": hs.windowSizeTX,
                "window_rx": hs.windowSizeRX,
            }
        reply.clear()
        self.exchange(self.client.aarqRequest(), reply)
        self.client.parseAareResponse(reply.data)
        reply.clear()
        if self.client.authentication > Authentication.LOW:
            try:
                for request in self.client.getApplicationAssociationRequest():
                    self.exchange(request, reply)
                self.client.parseApplicationAssociationResponse(reply.data)
            except GXDLMSException as exc:
                raise GXDLMSException(f"HLS reply_to_HLS_authentication failed: {exc}") from exc
        conf = int(self.client.negotiatedConformance)
        info.update(
            {
                # Gurux numbers conformance bit n as 1 << n; on the wire bit 0 is the MSB of 24 bits.
                "negotiated_conformance": int(f"{conf:024b}"[::-1], 2),
                "conformance_names": [c.name for c in Conformance if c.value and conf & c.value == c.value],
                "max_pdu_size": int(self.client.maxReceivePDUSize),
                "server_system_title": bytes(self.client.sourceSystemTitle).hex()
                if self.client.sourceSystemTitle
                else None,
            }
        )
        return info

    def release(self) -> None:
        reply = GXReplyData()
        try:
            if self.client.interfaceType == InterfaceType.WRAPPER or self.client.ciphering.security != Security.NONE:
                self.exchange(self.client.releaseRequest(), reply)
        except Exception:
            pass
        reply.clear()
        with contextlib.suppress(Exception):
            self.exchange(self.client.disconnectRequest(), reply)

    # -- services --------------------------------------------------------------------------------
    def obj(self, op: dict[str, Any], ic: int | None = None) -> Any:
        target = GXDLMSClient.createObject(ObjectType(int(op.get("ic", ic or 0))))
        target.logicalName = op["obis"]
        return target

    def read(self, target: Any, attr: int) -> GXReplyData:
        reply = GXReplyData()
        self.exchange(self.client.read(target, attr), reply)
        return reply

    def op_get(self, op: dict[str, Any]) -> dict[str, Any]:
        target = self.obj(op)
        attr = int(op["attr"])
        reply = self.read(target, attr)
        value = reply.value
        if isinstance(value, bytes | bytearray) and target.getUIDataType(attr) in DATE_TYPES:
            value = GXDLMSClient.changeType(value, target.getUIDataType(attr))
        kind = DataType(reply.valueType).name
        if kind == "NONE" and isinstance(reply.value, list):  # Gurux leaves valueType unset for containers
            kind = "ARRAY" if isinstance(reply.value, GXArray) else "STRUCTURE"
        return {"value": to_json(value), "type": kind}

    def op_get_scaled(self, op: dict[str, Any]) -> dict[str, Any]:
        target = GXDLMSRegister(op["obis"])
        su = self.read(target, 3).value
        raw = self.read(target, 2).value
        scaler, unit = int(su[0]), int(su[1])
        return {"value": scaled(raw, scaler), "raw": to_json(raw), "scaler": scaler, "unit": unit}

    def _profile(self, op: dict[str, Any]) -> GXDLMSProfileGeneric:
        pg = GXDLMSProfileGeneric(op["obis"])
        if op.get("read_capture_objects", True):
            self.client.updateValue(pg, 3, self.read(pg, 3).value)
        return pg

    def _rows(self, pg: GXDLMSProfileGeneric, request: Any) -> dict[str, Any]:
        reply = GXReplyData()
        self.exchange(request, reply)
        self.client.updateValue(pg, 2, reply.value)
        columns = [[int(o.objectType), o.logicalName, int(a.attributeIndex)] for o, a in pg.captureObjects]
        return {"value": [to_json(row) for row in pg.buffer], "columns": columns}

    def op_profile_range(self, op: dict[str, Any]) -> dict[str, Any]:
        pg = self._profile(op)
        start, end = GXDateTime(parse_iso(op["from"])), GXDateTime(parse_iso(op["to"]))
        return self._rows(pg, self.client.readRowsByRange(pg, start, end))

    def op_profile_entries(self, op: dict[str, Any]) -> dict[str, Any]:
        pg = self._profile(op)
        first, last = int(op.get("first", 1)), int(op.get("last", 0))
        count = 0 if last == 0 else last - first + 1  # Gurux: to_entry = first + count - 1, 0 = to the last
        return self._rows(pg, self.client.readRowsByEntry(pg, first, count))

    def op_action(self, op: dict[str, Any]) -> dict[str, Any]:
        target = self.obj(op)
        data, dtype = typed(op.get("data", 0), op.get("type", "int8"))
        reply = GXReplyData()
        self.exchange(self.client.method(target, int(op["method"]), data, dtype), reply)
        return {"value": to_json(reply.value)}

    def op_set(self, op: dict[str, Any]) -> dict[str, Any]:
        target = self.obj(op)
        value, dtype = typed(op["value"], op["type"])
        reply = GXReplyData()
        write = self.client._GXDLMSClient__write  # the generic SET of one attribute, by name
        self.exchange(write(target.logicalName, value, dtype, target.objectType, int(op["attr"])), reply)
        return {"value": None}

    def op_object_list(self, op: dict[str, Any]) -> dict[str, Any]:
        reply = GXReplyData()
        self.exchange(self.client.getObjectsRequest(), reply)
        objects = self.client.parseObjects(reply.data, False, False)
        return {"value": [{"ic": int(o.objectType), "obis": o.logicalName, "version": int(o.version)} for o in objects]}


def typed(value: Any, type_name: str) -> tuple[Any, DataType]:
    """A JSON value and type name as the value and data type Gurux encodes."""
    if type_name not in TYPES:
        raise ValueError(f"unknown type {type_name!r} (one of {', '.join(TYPES)})")
    dtype = TYPES[type_name]
    if type_name == "datetime":
        return GXDateTime(parse_iso(value)), dtype
    if dtype == DataType.OCTET_STRING:
        return bytearray(bytes.fromhex(value)), dtype
    return value, dtype


def error_of(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}".strip()}
    code = getattr(exc, "errorCode", None)
    if isinstance(code, int):
        out["code"] = int(code)
    return out


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def body(config: dict[str, Any], doc: dict[str, Any]) -> bool:
    return run_session(config, doc, lambda session, op: getattr(session, "op_" + str(op.get("op")), None))


def run_session(config: dict[str, Any], doc: dict[str, Any],
                handler_of: Callable[[GuruxSession, dict[str, Any]], Handler | None],
                ops: list[dict[str, Any]] | None = None) -> bool:
    """Associate, run each op through its handler (None: unknown op), release: the one session loop of the Gurux
    checkers (a broken link ends it, any other error is the op's result)."""
    session = GuruxSession(config)
    try:
        try:
            doc["association"] = session.associate()
        except Exception as exc:
            doc.update(error_of(exc))
            return False
        doc["associated"] = True
        for op in config["ops"] or ops or []:
            handler = handler_of(session, op)
            result: dict[str, Any] = {"op": op.get("op")}
            if handler is None:
                result["error"] = f"unknown op {op.get('op')!r}"
            else:
                try:
                    result.update(handler(op))
                except (ConnectionError, TimeoutError) as exc:
                    result.update(error_of(exc))
                    doc["results"].append(result)
                    break
                except Exception as exc:
                    result.update(error_of(exc))
            doc["results"].append(result)
        if config["release"]:
            session.release()
        return True
    finally:
        session.link.close()


if __name__ == "__main__":
    sys.exit(run_main(body, f"gurux-dlms {version('gurux-dlms')}", sys.argv))
