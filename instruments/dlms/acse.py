"""Association control (ACSE) APDUs in BER: AARQ, AARE, RLRQ, RLRE (IEC 62056-5-3:2017 9.4; Green Book 9.4.2,
ISO/IEC 8650-1 subset used by DLMS/COSEM).

The xDLMS InitiateRequest / InitiateResponse (or its ciphered form) travels as the user-information octets; this
module keeps them as bytes and leaves their meaning to :mod:`instruments.dlms.apdu` and the association.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from instruments.dlms.apdu import ApduError

#: joint-iso-ccitt(2) country(16) country-name(756) identified-organization(5) DLMS-UA(8) … (Green Book 9.4.2.2)
_CONTEXT_PREFIX = bytes.fromhex("60857405080101")[:-1]  # 2.16.756.5.8.1.x application context name
_MECHANISM_PREFIX = bytes.fromhex("60857405080200")[:-1]  # 2.16.756.5.8.2.x authentication mechanism


class ApplicationContext(IntEnum):
    """Application context names (Green Book 9.4.2.2.2)."""

    LN = 1
    SN = 2
    LN_CIPHERED = 3
    SN_CIPHERED = 4


class Mechanism(IntEnum):
    """Authentication mechanism names (Green Book 9.4.2.2.3)."""

    NONE = 0
    LLS = 1
    HLS = 2
    HLS_MD5 = 3
    HLS_SHA1 = 4
    HLS_GMAC = 5
    HLS_SHA256 = 6
    HLS_ECDSA = 7


class AssociationResult(IntEnum):
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class UserDiagnostic(IntEnum):
    """acse-service-user diagnostics (ISO 8650 / Green Book 9.4.2.2.4) used by DLMS."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return bytes([tag]) + length + value


def _parse(raw: bytes, what: str) -> list[tuple[int, bytes]]:
    """Single-octet-tag BER TLVs filling ``raw``."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(raw):
        if i + 2 > len(raw):
            raise ApduError(f"{what}: truncated element at byte {i}")
        tag, n = raw[i], raw[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 3 or i + k > len(raw):
                raise ApduError(f"{what}: bad length of element {tag:#04x}")
            n = int.from_bytes(raw[i:i + k], "big")
            i += k
        if i + n > len(raw):
            raise ApduError(f"{what}: element {tag:#04x} of {n} bytes runs past the end")
        out.append((tag, raw[i:i + n]))
        i += n
    return out


def _outer(raw: bytes, tag: int, what: str) -> dict[int, bytes]:
    if not raw or raw[0] != tag:
        raise ApduError(f"{what}: expected tag {tag:#04x}")
    parts = _parse(raw, what)
    if len(parts) != 1:
        raise ApduError(f"{what}: {len(parts) - 1} elements after the end of the APDU")
    _t, body = parts[0]
    fields: dict[int, bytes] = {}
    for ftag, value in _parse(body, what):
        fields[ftag] = value
    return fields


def _oid_field(value: bytes, prefix: bytes, what: str) -> int:
    """A1/8B … : [tag] { 06 07 <OID> } (context) or the bare OID (mechanism, IMPLICIT)."""
    if value[:1] == b"\x06":
        value = _octets_inside(value, 0x06, what)
    if len(value) != 7 or value[:6] != prefix:
        raise ApduError(f"{what}: unknown object identifier {value.hex(' ').upper()}")
    return value[6]


def _context(ctx: int) -> bytes:
    return _tlv(0xA1, _tlv(0x06, _CONTEXT_PREFIX + bytes([ctx])))


def _title(tag: int, title: bytes) -> bytes:
    return _tlv(tag, _tlv(0x04, title))


def _octets_inside(value: bytes, inner: int, what: str) -> bytes:
    parts = _parse(value, what)
    if len(parts) != 1 or parts[0][0] != inner:
        raise ApduError(f"{what}: expected one element {inner:#04x}")
    return parts[0][1]


_REQUIREMENTS = bytes.fromhex("0780")  # BIT STRING, 7 unused bits, bit 0 = authentication


@dataclass(frozen=True)
class Aarq:
    context: ApplicationContext
    user_information: bytes  # the xDLMS InitiateRequest (or glo-initiate-request)
    mechanism: Mechanism = Mechanism.NONE
    calling_title: bytes | None = None  # the client's system title (ciphered contexts)
    authentication: bytes | None = None  # LLS password, or the HLS challenge CtoS

    def encode(self) -> bytes:
        body = _context(self.context)
        if self.calling_title is not None:
            body += _title(0xA6, self.calling_title)
        if self.mechanism is not Mechanism.NONE:
            body += _tlv(0x8A, _REQUIREMENTS) + _tlv(0x8B, _MECHANISM_PREFIX + bytes([self.mechanism]))
            body += _tlv(0xAC, _tlv(0x80, self.authentication or b""))
        body += _tlv(0xBE, _tlv(0x04, self.user_information))
        return _tlv(0x60, body)

    @classmethod
    def decode(cls, raw: bytes) -> Aarq:
        f = _outer(raw, 0x60, "AARQ")
        if 0xA1 not in f:
            raise ApduError("AARQ: application-context-name missing")
        try:
            ctx = ApplicationContext(_oid_field(f[0xA1], _CONTEXT_PREFIX, "AARQ application-context-name"))
            mech = (Mechanism(_oid_field(f[0x8B], _MECHANISM_PREFIX, "AARQ mechanism-name")) if 0x8B in f
                    else Mechanism.NONE)
        except ValueError as exc:
            if isinstance(exc, ApduError):
                raise
            raise ApduError(f"AARQ: {exc}") from None
        title = _octets_inside(f[0xA6], 0x04, "AARQ calling-AP-title") if 0xA6 in f else None
        auth = _octets_inside(f[0xAC], 0x80, "AARQ calling-authentication-value") if 0xAC in f else None
        if 0xBE not in f:
            raise ApduError("AARQ: user-information (the xDLMS InitiateRequest) missing")
        user = _octets_inside(f[0xBE], 0x04, "AARQ user-information")
        return cls(ctx, user, mech, title, auth)


@dataclass(frozen=True)
class Aare:
    context: ApplicationContext
    result: AssociationResult
    diagnostic: int  # acse-service-user diagnostic (UserDiagnostic) unless ``provider``
    user_information: bytes | None  # InitiateResponse, glo-initiate-response or ConfirmedServiceError
    responding_title: bytes | None = None
    mechanism: Mechanism = Mechanism.NONE
    authentication: bytes | None = None  # the HLS challenge StoC
    provider: bool = False  # the diagnostic comes from the acse-service-provider

    def encode(self) -> bytes:
        diag_tag = 0xA2 if self.provider else 0xA1
        body = _context(self.context) + _tlv(0xA2, _tlv(0x02, bytes([self.result])))
        body += _tlv(0xA3, _tlv(diag_tag, _tlv(0x02, bytes([self.diagnostic]))))
        if self.responding_title is not None:
            body += _title(0xA4, self.responding_title)
        if self.mechanism is not Mechanism.NONE:
            body += _tlv(0x88, _REQUIREMENTS) + _tlv(0x89, _MECHANISM_PREFIX + bytes([self.mechanism]))
            if self.authentication is not None:
                body += _tlv(0xAA, _tlv(0x80, self.authentication))
        if self.user_information is not None:
            body += _tlv(0xBE, _tlv(0x04, self.user_information))
        return _tlv(0x61, body)

    @classmethod
    def decode(cls, raw: bytes) -> Aare:
        f = _outer(raw, 0x61, "AARE")
        for need, name in ((0xA1, "application-context-name"), (0xA2, "result"),
                           (0xA3, "result-source-diagnostic")):
            if need not in f:
                raise ApduError(f"AARE: {name} missing")
        try:
            ctx = ApplicationContext(_oid_field(f[0xA1], _CONTEXT_PREFIX, "AARE application-context-name"))
            result = AssociationResult(_octets_inside(f[0xA2], 0x02, "AARE result")[0])
            mech = (Mechanism(_oid_field(f[0x89], _MECHANISM_PREFIX, "AARE mechanism-name")) if 0x89 in f
                    else Mechanism.NONE)
        except (ValueError, IndexError) as exc:
            if isinstance(exc, ApduError):
                raise
            raise ApduError(f"AARE: {exc}") from None
        parts = _parse(f[0xA3], "AARE result-source-diagnostic")
        if len(parts) != 1 or parts[0][0] not in (0xA1, 0xA2):
            raise ApduError("AARE: result-source-diagnostic must be one acse-service-user or -provider element")
        source, inner = parts[0]
        diag = _octets_inside(inner, 0x02, "AARE diagnostic")
        title = _octets_inside(f[0xA4], 0x04, "AARE responding-AP-title") if 0xA4 in f else None
        auth = _octets_inside(f[0xAA], 0x80, "AARE responding-authentication-value") if 0xAA in f else None
        user = _octets_inside(f[0xBE], 0x04, "AARE user-information") if 0xBE in f else None
        return cls(ctx, result, diag[0] if diag else 0, user, title, mech, auth, provider=source == 0xA2)


@dataclass(frozen=True)
class Rlrq:
    reason: int | None = 0  # 0 normal
    user_information: bytes | None = None

    def encode(self) -> bytes:
        body = b"" if self.reason is None else _tlv(0x80, bytes([self.reason]))
        if self.user_information is not None:
            body += _tlv(0xBE, _tlv(0x04, self.user_information))
        return _tlv(0x62, body)

    @classmethod
    def decode(cls, raw: bytes) -> Rlrq:
        f = _outer(raw, 0x62, "RLRQ")
        user = _octets_inside(f[0xBE], 0x04, "RLRQ user-information") if 0xBE in f else None
        return cls(f[0x80][0] if f.get(0x80) else None, user)


@dataclass(frozen=True)
class Rlre:
    reason: int | None = 0
    user_information: bytes | None = None

    def encode(self) -> bytes:
        body = b"" if self.reason is None else _tlv(0x80, bytes([self.reason]))
        if self.user_information is not None:
            body += _tlv(0xBE, _tlv(0x04, self.user_information))
        return _tlv(0x63, body)

    @classmethod
    def decode(cls, raw: bytes) -> Rlre:
        f = _outer(raw, 0x63, "RLRE")
        user = _octets_inside(f[0xBE], 0x04, "RLRE user-information") if 0xBE in f else None
        return cls(f[0x80][0] if f.get(0x80) else None, user)
