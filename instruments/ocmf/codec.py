"""OCMF records: build, sign, parse and verify (OCMF spec, S.A.F.E. e.V., format version 1.0).

Field names as the spec has them: header FV (format version), GI / GS / GV (gateway identification, serial,
version), PG (pagination: ``T<n>`` transaction counter, ``F<n>`` fiscal counter), MV / MM / MS / MF (meter vendor,
model, serial, firmware), IS / IT / ID (identification status, type, data), TT (tariff text, optional); readings
RD with TM (time ``YYYY-MM-DDThh:mm:ss,fff+zzzz S`` with the clock status), TX (B begin, C charging, X exception,
E end, L limit, R remote, ...), RV (value), RI (reading identification, an OBIS code), RU (unit), RT (current type
AC/DC), EF (error flags, empty when none), ST (status, ``G`` good).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_ALGORITHM = "ECDSA-secp256r1-SHA256"
FORMAT_VERSION = "1.0"


class OcmfError(ValueError):
    """A record that is not OCMF, or whose signature does not verify."""


@dataclass(frozen=True)
class Reading:
    """One entry of RD: a register value at an instant, with its transaction type (TX) and status (ST)."""

    time: datetime
    value: float
    tx: str = "C"
    ri: str = "1-b:1.8.0"
    unit: str = "kWh"
    current_type: str = "DC"
    status: str = "G"
    error_flags: str = ""
    clock_status: str = "S"  # S: synchronised (U unknown, I informative, R relative)

    def to_json(self) -> dict[str, Any]:
        # ISO 8601 with a comma before the milliseconds and the clock status after a blank (OCMF, TM)
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S,") + f"{self.time.microsecond // 1000:03d}"
        stamp += self.time.strftime("%z") + " " + self.clock_status
        return {"TM": stamp, "TX": self.tx, "RV": round(self.value, 4), "RI": self.ri, "RU": self.unit,
                "RT": self.current_type, "EF": self.error_flags, "ST": self.status}


@dataclass(frozen=True)
class OcmfRecord:
    """A parsed record: the payload's text (what was signed), its fields and the signature object."""

    payload_text: str
    payload: dict[str, Any]
    signature: dict[str, Any] = field(default_factory=dict)

    @property
    def pagination(self) -> tuple[str, int]:
        """PG split into its counter kind (``T`` transaction, ``F`` fiscal) and number."""
        pg = str(self.payload.get("PG", ""))
        if len(pg) < 2 or pg[0] not in "TF" or not pg[1:].isdigit():
            raise OcmfError(f"PG {pg!r} is not T<n> or F<n>")
        return pg[0], int(pg[1:])

    @property
    def readings(self) -> list[dict[str, Any]]:
        rd = self.payload.get("RD", [])
        return list(rd) if isinstance(rd, list) else []


def generate_key(seed: int) -> ec.EllipticCurvePrivateKey:
    """A deterministic secp256r1 key for a simulated meter (the private value from the seed, never 0)."""
    order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
    return ec.derive_private_key(1 + (seed * 0x9E3779B97F4A7C15 + 0x1234567) % (order - 1), ec.SECP256R1())


def public_key_hex(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The public key as hex DER (SubjectPublicKeyInfo), the form charging stations display and transparency
    software takes."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()


def build_payload(
    *, gateway: str, gateway_serial: str, gateway_version: str, pagination: str, vendor: str, model: str,
    serial: str, firmware: str, identification: str, readings: list[Reading], tariff: str | None = None,
) -> str:
    """The payload JSON text in the spec's field order (compact, as meters send it)."""
    body: dict[str, Any] = {
        "FV": FORMAT_VERSION, "GI": gateway, "GS": gateway_serial, "GV": gateway_version, "PG": pagination,
        "MV": vendor, "MM": model, "MS": serial, "MF": firmware,
        "IS": bool(identification), "IT": "ISO14443" if identification else "NONE", "ID": identification,
    }
    if tariff is not None:
        body["TT"] = tariff
    body["RD"] = [r.to_json() for r in readings]
    return json.dumps(body, separators=(",", ":"))


def sign(payload_text: str, key: ec.EllipticCurvePrivateKey) -> str:
    """``OCMF|payload|signature``: ECDSA P-256 / SHA-256 over the payload bytes, DER, hex (SE hex)."""
    der = key.sign(payload_text.encode(), ec.ECDSA(hashes.SHA256()))
    sig = {"SA": SIGNATURE_ALGORITHM, "SE": "hex", "SM": "application/x-der", "SD": der.hex()}
    return f"OCMF|{payload_text}|{json.dumps(sig, separators=(',', ':'))}"


def parse(text: str) -> OcmfRecord:
    """Split and decode a record; the payload text is kept byte for byte (the signature covers it)."""
    text = text.strip()
    if not text.startswith("OCMF|"):
        raise OcmfError("record does not start with 'OCMF|'")
    body = text[5:]
    # the payload is a JSON object: its last '}' before the final '|' ends it (strings may hold '|')
    cut = body.rfind("|")
    if cut < 0:
        raise OcmfError("record has no signature section")
    payload_text, signature_text = body[:cut], body[cut + 1:]
    try:
        payload = json.loads(payload_text)
        signature = json.loads(signature_text) if signature_text else {}
    except json.JSONDecodeError as exc:
        raise OcmfError(f"record is not JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(signature, dict):
        raise OcmfError("payload and signature must be JSON objects")
    return OcmfRecord(payload_text, payload, signature)


def load_public_key(hex_der: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(bytes.fromhex(hex_der))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise OcmfError("public key is not an EC secp256r1 key")
    return key


def verify(record: OcmfRecord, public_key: str | ec.EllipticCurvePublicKey) -> None:
    """Raise :class:`OcmfError` unless the record carries a valid ECDSA-secp256r1-SHA256 signature by the key."""
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    sd = record.signature.get("SD")
    if not sd:
        raise OcmfError("record is unsigned (no SD)")
    algorithm = record.signature.get("SA", SIGNATURE_ALGORITHM)  # the spec's default when SA is absent
    if algorithm != SIGNATURE_ALGORITHM:
        raise OcmfError(f"signature algorithm {algorithm!r} is not {SIGNATURE_ALGORITHM}")
    if record.signature.get("SE", "hex") != "hex":
        raise OcmfError(f"signature encoding {record.signature.get('SE')!r} is not hex")
    try:
        key.verify(bytes.fromhex(str(sd)), record.payload_text.encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise OcmfError("signature does not verify with the meter's public key") from None
