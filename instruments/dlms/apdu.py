"""xDLMS APDUs in A-XDR: GET, SET, ACTION, InitiateRequest/Response, errors (IEC 62056-5-3:2017 9.3, 9.5;
DLMS UA Green Book ed. 9, 9.3 "xDLMS APDUs" ASN.1 and A-XDR encoding).

Each APDU is a frozen dataclass; :func:`encode` and :func:`decode` are exact inverses on valid input, and a
malformed APDU raises :class:`ApduError` naming the APDU and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from instruments.dlms.axdr import AxdrError, Data, Reader, encode_length, read_data
from instruments.dlms.cosem import Obis


class ApduError(ValueError):
    """A malformed or unknown APDU."""


class ApduTag(IntEnum):
    """APDU tags (Green Book 9.3 xDLMS-APDU CHOICE; ciphered tags in 9.2.7)."""

    INITIATE_REQUEST = 0x01
    INITIATE_RESPONSE = 0x08
    CONFIRMED_SERVICE_ERROR = 0x0E
    GLO_INITIATE_REQUEST = 0x21
    GLO_INITIATE_RESPONSE = 0x28
    AARQ = 0x60
    AARE = 0x61
    RLRQ = 0x62
    RLRE = 0x63
    GET_REQUEST = 0xC0
    SET_REQUEST = 0xC1
    ACTION_REQUEST = 0xC3
    GET_RESPONSE = 0xC4
    SET_RESPONSE = 0xC5
    ACTION_RESPONSE = 0xC7
    GLO_GET_REQUEST = 0xC8
    GLO_SET_REQUEST = 0xC9
    GLO_ACTION_REQUEST = 0xCB
    GLO_GET_RESPONSE = 0xCC
    GLO_SET_RESPONSE = 0xCD
    GLO_ACTION_RESPONSE = 0xCF
    EXCEPTION_RESPONSE = 0xD8


class DataAccessResult(IntEnum):
    """Data-Access-Result (Green Book 9.3): also used as Action-Result, whose values coincide up to 16."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class Conformance(IntFlag):
    """The 24-bit conformance block (Green Book 9.4.6.1); bit n is 1 << (23 − n) in the three octets."""

    GENERAL_PROTECTION = 1 << (23 - 1)
    GENERAL_BLOCK_TRANSFER = 1 << (23 - 2)
    ATTRIBUTE0_WITH_SET = 1 << (23 - 8)
    PRIORITY_MGMT = 1 << (23 - 9)
    ATTRIBUTE0_WITH_GET = 1 << (23 - 10)
    BLOCK_TRANSFER_WITH_GET = 1 << (23 - 11)
    BLOCK_TRANSFER_WITH_SET = 1 << (23 - 12)
    BLOCK_TRANSFER_WITH_ACTION = 1 << (23 - 13)
    MULTIPLE_REFERENCES = 1 << (23 - 14)
    DATA_NOTIFICATION = 1 << (23 - 16)
    ACCESS = 1 << (23 - 17)
    GET = 1 << (23 - 19)
    SET = 1 << (23 - 20)
    SELECTIVE_ACCESS = 1 << (23 - 21)
    EVENT_NOTIFICATION = 1 << (23 - 22)
    ACTION = 1 << (23 - 23)


class StateError(IntEnum):
    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ServiceError(IntEnum):
    """Exception-Response service-error (Green Book 9.3)."""

    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


class InitiateError(IntEnum):
    """ConfirmedServiceError initiateError → ServiceError initiate (Green Book 9.3)."""

    OTHER = 0
    DLMS_VERSION_TOO_LOW = 1
    INCOMPATIBLE_CONFORMANCE = 2
    PDU_SIZE_TOO_SHORT = 3
    REFUSED_BY_VDE_HANDLER = 4


# -- descriptors ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributeDescriptor:
    class_id: int
    instance: Obis
    attribute: int

    def __str__(self) -> str:
        return f"IC {self.class_id} {self.instance} attr {self.attribute}"


@dataclass(frozen=True)
class MethodDescriptor:
    class_id: int
    instance: Obis
    method: int

    def __str__(self) -> str:
        return f"IC {self.class_id} {self.instance} method {self.method}"


@dataclass(frozen=True)
class Selection:
    """Selective access: selector (Profile Generic: 1 by range, 2 by entry) and its parameters."""

    selector: int
    parameters: Data


GetResult = Data | DataAccessResult


# -- service APDUs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GetRequestNormal:
    invoke_id: int
    attribute: AttributeDescriptor
    selection: Selection | None = None


@dataclass(frozen=True)
class GetRequestNext:
    invoke_id: int
    block_number: int


@dataclass(frozen=True)
class GetRequestWithList:
    invoke_id: int
    attributes: tuple[tuple[AttributeDescriptor, Selection | None], ...]


@dataclass(frozen=True)
class GetResponseNormal:
    invoke_id: int
    result: GetResult


@dataclass(frozen=True)
class GetResponseWithBlock:
    invoke_id: int
    last: bool
    block_number: int
    raw: bytes | DataAccessResult


@dataclass(frozen=True)
class GetResponseWithList:
    invoke_id: int
    results: tuple[GetResult, ...]


@dataclass(frozen=True)
class SetRequestNormal:
    invoke_id: int
    attribute: AttributeDescriptor
    value: Data
    selection: Selection | None = None


@dataclass(frozen=True)
class SetRequestFirstBlock:
    invoke_id: int
    attribute: AttributeDescriptor
    last: bool
    block_number: int
    raw: bytes
    selection: Selection | None = None


@dataclass(frozen=True)
class SetRequestBlock:
    invoke_id: int
    last: bool
    block_number: int
    raw: bytes


@dataclass(frozen=True)
class SetRequestWithList:
    invoke_id: int
    attributes: tuple[tuple[AttributeDescriptor, Selection | None], ...]
    values: tuple[Data, ...]


@dataclass(frozen=True)
class SetResponseNormal:
    invoke_id: int
    result: DataAccessResult


@dataclass(frozen=True)
class SetResponseBlock:
    invoke_id: int
    block_number: int


@dataclass(frozen=True)
class SetResponseLastBlock:
    invoke_id: int
    result: DataAccessResult
    block_number: int


@dataclass(frozen=True)
class SetResponseWithList:
    invoke_id: int
    results: tuple[DataAccessResult, ...]


@dataclass(frozen=True)
class ActionRequestNormal:
    invoke_id: int
    method: MethodDescriptor
    parameters: Data | None = None


@dataclass(frozen=True)
class ActionResponseNormal:
    invoke_id: int
    result: DataAccessResult
    data: GetResult | None = None


@dataclass(frozen=True)
class ExceptionResponse:
    state_error: StateError
    service_error: ServiceError
    invocation_counter: int | None = None  # with INVOCATION_COUNTER_ERROR: the lowest counter accepted


@dataclass(frozen=True)
class InitiateRequest:
    conformance: Conformance
    max_receive_pdu: int
    dlms_version: int = 6
    dedicated_key: bytes | None = None
    response_allowed: bool = True
    quality_of_service: int | None = None


@dataclass(frozen=True)
class InitiateResponse:
    conformance: Conformance
    max_receive_pdu: int
    dlms_version: int = 6
    vaa_name: int = 0x0007  # LN referencing (Green Book 9.4.6.1)
    quality_of_service: int | None = None


@dataclass(frozen=True)
class ConfirmedServiceError:
    """E.g. initiateError (1) / initiate (6) / a reason: what a refused InitiateRequest gets."""

    service: int
    error_class: int
    error: int


Apdu = (
    GetRequestNormal | GetRequestNext | GetRequestWithList | GetResponseNormal | GetResponseWithBlock
    | GetResponseWithList | SetRequestNormal | SetRequestFirstBlock | SetRequestBlock | SetRequestWithList
    | SetResponseNormal | SetResponseBlock | SetResponseLastBlock | SetResponseWithList | ActionRequestNormal
    | ActionResponseNormal | ExceptionResponse | InitiateRequest | InitiateResponse | ConfirmedServiceError
)

REQUESTS = (GetRequestNormal, GetRequestNext, GetRequestWithList, SetRequestNormal, SetRequestFirstBlock,
            SetRequestBlock, SetRequestWithList, ActionRequestNormal)


# -- encoding ------------------------------------------------------------------------------------------
def _u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def _u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def _attr(d: AttributeDescriptor) -> bytes:
    return _u16(d.class_id) + bytes(d.instance) + d.attribute.to_bytes(1, "big", signed=True)


def _selection(s: Selection | None) -> bytes:
    return b"\x00" if s is None else b"\x01" + bytes([s.selector]) + s.parameters.encode()


def _result(r: GetResult) -> bytes:
    return b"\x01" + bytes([r]) if isinstance(r, DataAccessResult) else b"\x00" + r.encode()


def _conformance(c: int) -> bytes:
    """[APPLICATION 31] IMPLICIT BIT STRING (SIZE 24), BER: 5F 1F 04 00 + three octets."""
    return b"\x5f\x1f\x04\x00" + int(c).to_bytes(3, "big")


def _octets(raw: bytes) -> bytes:
    return encode_length(len(raw)) + raw


def _list(items: tuple[tuple[AttributeDescriptor, Selection | None], ...]) -> bytes:
    return encode_length(len(items)) + b"".join(_attr(a) + _selection(s) for a, s in items)


def encode(apdu: Apdu) -> bytes:
    """The A-XDR bytes of one xDLMS APDU."""
    match apdu:
        case GetRequestNormal(iid, attr, sel):
            return bytes([0xC0, 1, iid]) + _attr(attr) + _selection(sel)
        case GetRequestNext(iid, block):
            return bytes([0xC0, 2, iid]) + _u32(block)
        case GetRequestWithList(iid, items):
            return bytes([0xC0, 3, iid]) + _list(items)
        case GetResponseNormal(iid, result):
            return bytes([0xC4, 1, iid]) + _result(result)
        case GetResponseWithBlock(iid, last, block, raw):
            body = b"\x01" + bytes([raw]) if isinstance(raw, DataAccessResult) else b"\x00" + _octets(raw)
            return bytes([0xC4, 2, iid, 1 if last else 0]) + _u32(block) + body
        case GetResponseWithList(iid, results):
            return bytes([0xC4, 3, iid]) + encode_length(len(results)) + b"".join(_result(r) for r in results)
        case SetRequestNormal(iid, attr, value, sel):
            return bytes([0xC1, 1, iid]) + _attr(attr) + _selection(sel) + value.encode()
        case SetRequestFirstBlock(iid, attr, last, block, raw, sel):
            return (bytes([0xC1, 2, iid]) + _attr(attr) + _selection(sel) + bytes([1 if last else 0])
                    + _u32(block) + _octets(raw))
        case SetRequestBlock(iid, last, block, raw):
            return bytes([0xC1, 3, iid, 1 if last else 0]) + _u32(block) + _octets(raw)
        case SetRequestWithList(iid, items, values):
            return (bytes([0xC1, 4, iid]) + _list(items) + encode_length(len(values))
                    + b"".join(v.encode() for v in values))
        case SetResponseNormal(iid, result):
            return bytes([0xC5, 1, iid, result])
        case SetResponseBlock(iid, block):
            return bytes([0xC5, 2, iid]) + _u32(block)
        case SetResponseLastBlock(iid, result, block):
            return bytes([0xC5, 3, iid, result]) + _u32(block)
        case SetResponseWithList(iid, results):
            return bytes([0xC5, 5, iid]) + encode_length(len(results)) + bytes(results)
        case ActionRequestNormal(iid, m, params):
            head = bytes([0xC3, 1, iid]) + _u16(m.class_id) + bytes(m.instance) + m.method.to_bytes(1, "big")
            return head + (b"\x00" if params is None else b"\x01" + params.encode())
        case ActionResponseNormal(iid, result, data):
            return bytes([0xC7, 1, iid, result]) + (b"\x00" if data is None else b"\x01" + _result(data))
        case ExceptionResponse(state, service, counter):
            tail = _u32(counter or 0) if service is ServiceError.INVOCATION_COUNTER_ERROR else b""
            return bytes([0xD8, state, service]) + tail
        case InitiateRequest(conf, pdu, version, key, allowed, qos):
            return (b"\x01" + (b"\x00" if key is None else b"\x01" + _octets(key))
                    + (b"\x00" if allowed else b"\x01\x00")
                    + (b"\x00" if qos is None else bytes([1, qos])) + bytes([version]) + _conformance(conf)
                    + _u16(pdu))
        case InitiateResponse(conf, pdu, version, vaa, qos):
            return (b"\x08" + (b"\x00" if qos is None else bytes([1, qos])) + bytes([version])
                    + _conformance(conf) + _u16(pdu) + _u16(vaa))
        case ConfirmedServiceError(service, cls, err):
            return bytes([0x0E, service, cls, err])
    raise TypeError(f"not an xDLMS APDU: {apdu!r}")


# -- decoding ------------------------------------------------------------------------------------------
def _read_attr(r: Reader) -> AttributeDescriptor:
    cls = r.uint(2, "class-id")
    inst = Obis.from_bytes(r.take(6, "instance-id"))
    attr = int.from_bytes(r.take(1, "attribute-id"), "big", signed=True)
    return AttributeDescriptor(cls, inst, attr)


def _read_selection(r: Reader) -> Selection | None:
    if not r.optional("access-selection"):
        return None
    return Selection(r.byte("access-selector"), read_data(r))


def _read_result(r: Reader) -> GetResult:
    choice = r.byte("Get-Data-Result")
    if choice == 0:
        return read_data(r)
    if choice == 1:
        return _access_result(r)
    raise ApduError(f"Get-Data-Result choice {choice} is neither data (0) nor data-access-result (1)")


def _access_result(r: Reader) -> DataAccessResult:
    raw = r.byte("data-access-result")
    try:
        return DataAccessResult(raw)
    except ValueError:
        raise ApduError(f"unknown data-access-result {raw}") from None


def _read_conformance(r: Reader) -> Conformance:
    head = r.take(4, "conformance")
    if head != b"\x5f\x1f\x04\x00":
        raise ApduError(f"conformance must start 5F 1F 04 00, got {head.hex(' ').upper()}")
    return Conformance(r.uint(3, "conformance bits"))


def _read_list(r: Reader) -> tuple[tuple[AttributeDescriptor, Selection | None], ...]:
    n = r.length("attribute list count")
    return tuple((_read_attr(r), _read_selection(r)) for _ in range(n))


def _bool(r: Reader, what: str) -> bool:
    return r.byte(what) != 0


def decode(raw: bytes) -> Apdu:
    """One xDLMS APDU filling ``raw`` (ciphered APDUs are opened by :mod:`instruments.dlms.security` first)."""
    if not raw:
        raise ApduError("empty APDU")
    try:
        apdu = _decode(Reader(raw))
    except AxdrError as exc:
        raise ApduError(f"{_name(raw[0])}: {exc}") from None
    return apdu


def _name(tag: int) -> str:
    try:
        return ApduTag(tag).name.replace("_", "-").lower()
    except ValueError:
        return f"APDU tag {tag:#04x}"


def _decode(r: Reader) -> Apdu:
    tag = r.byte("APDU tag")
    apdu: Apdu
    if tag == 0x01:
        key = r.take(r.length("dedicated-key length"), "dedicated-key") if r.optional("dedicated-key") else None
        allowed = _bool(r, "response-allowed") if r.optional("response-allowed") else True
        qos = r.byte("proposed-quality-of-service") if r.optional("proposed-quality-of-service") else None
        version = r.byte("proposed-dlms-version-number")
        conf = _read_conformance(r)
        apdu = InitiateRequest(conf, r.uint(2, "client-max-receive-pdu-size"), version, key, allowed, qos)
    elif tag == 0x08:
        qos = r.byte("negotiated-quality-of-service") if r.optional("negotiated-quality-of-service") else None
        version = r.byte("negotiated-dlms-version-number")
        conf = _read_conformance(r)
        pdu = r.uint(2, "server-max-receive-pdu-size")
        apdu = InitiateResponse(conf, pdu, version, r.uint(2, "vaa-name"), qos)
    elif tag == 0x0E:
        apdu = ConfirmedServiceError(r.byte("service"), r.byte("service-error"), r.byte("error"))
    elif tag == 0xD8:
        state, service = r.byte("state-error"), r.byte("service-error")
        try:
            s_err, sv_err = StateError(state), ServiceError(service)
        except ValueError:
            raise ApduError(f"exception-response: unknown state-error {state} or service-error {service}") from None
        counter = r.uint(4, "invocation-counter") if sv_err is ServiceError.INVOCATION_COUNTER_ERROR else None
        apdu = ExceptionResponse(s_err, sv_err, counter)
    elif tag in (0xC0, 0xC1, 0xC3, 0xC4, 0xC5, 0xC7):
        apdu = _service(tag, r.byte("choice"), r.byte("invoke-id-and-priority"), r)
    else:
        raise ApduError(f"{_name(tag)} is not an xDLMS APDU this implementation decodes")
    r.expect_end(_name(tag))
    return apdu


def _service(tag: int, choice: int, iid: int, r: Reader) -> Apdu:
    name = f"{_name(tag)} choice {choice}"
    if tag == 0xC0:
        if choice == 1:
            return GetRequestNormal(iid, _read_attr(r), _read_selection(r))
        if choice == 2:
            return GetRequestNext(iid, r.uint(4, "block-number"))
        if choice == 3:
            return GetRequestWithList(iid, _read_list(r))
    elif tag == 0xC4:
        if choice == 1:
            return GetResponseNormal(iid, _read_result(r))
        if choice == 2:
            last, block = _bool(r, "last-block"), r.uint(4, "block-number")
            kind = r.byte("DataBlock-G result")
            if kind == 0:
                return GetResponseWithBlock(iid, last, block, r.take(r.length("raw-data length"), "raw-data"))
            if kind == 1:
                return GetResponseWithBlock(iid, last, block, _access_result(r))
            raise ApduError(f"{name}: DataBlock-G result choice {kind}")
        if choice == 3:
            return GetResponseWithList(iid, tuple(_read_result(r) for _ in range(r.length("result count"))))
    elif tag == 0xC1:
        if choice == 1:
            attr, sel = _read_attr(r), _read_selection(r)
            return SetRequestNormal(iid, attr, read_data(r), sel)
        if choice == 2:
            attr, sel = _read_attr(r), _read_selection(r)
            last, block = _bool(r, "last-block"), r.uint(4, "block-number")
            return SetRequestFirstBlock(iid, attr, last, block, r.take(r.length("raw-data length"), "raw-data"), sel)
        if choice == 3:
            last, block = _bool(r, "last-block"), r.uint(4, "block-number")
            return SetRequestBlock(iid, last, block, r.take(r.length("raw-data length"), "raw-data"))
        if choice == 4:
            items = _read_list(r)
            values = tuple(read_data(r) for _ in range(r.length("value count")))
            if len(values) != len(items):
                raise ApduError(f"{name}: {len(items)} attributes but {len(values)} values")
            return SetRequestWithList(iid, items, values)
    elif tag == 0xC5:
        if choice == 1:
            return SetResponseNormal(iid, _access_result(r))
        if choice == 2:
            return SetResponseBlock(iid, r.uint(4, "block-number"))
        if choice == 3:
            result = _access_result(r)
            return SetResponseLastBlock(iid, result, r.uint(4, "block-number"))
        if choice == 5:
            return SetResponseWithList(iid, tuple(_access_result(r) for _ in range(r.length("result count"))))
    elif tag == 0xC3:
        if choice == 1:
            cls = r.uint(2, "class-id")
            inst = Obis.from_bytes(r.take(6, "instance-id"))
            method = MethodDescriptor(cls, inst, r.byte("method-id"))
            return ActionRequestNormal(iid, method, read_data(r) if r.optional("method-invocation-parameters")
                                       else None)
    elif tag == 0xC7 and choice == 1:
        result = _access_result(r)
        return ActionResponseNormal(iid, result, _read_result(r) if r.optional("return-parameters") else None)
    raise ApduError(f"{name} is not supported")


def describe(apdu: Apdu) -> str:
    """One line a transcript shows for an APDU (decoded, not hex)."""
    match apdu:
        case GetRequestNormal(_, attr, sel):
            return f"GET {attr}" + (f" selector {sel.selector} {_render(sel.parameters)}" if sel else "")
        case GetRequestNext(_, block):
            return f"GET next block {block}"
        case GetRequestWithList(_, items):
            return "GET with list: " + "; ".join(str(a) for a, _ in items)
        case GetResponseNormal(_, result):
            return f"GET response {_show(result)}"
        case GetResponseWithList(_, results):
            return "GET response " + "; ".join(_show(r) for r in results)
        case GetResponseWithBlock(_, last, block, raw):
            size = f"{len(raw)} bytes" if isinstance(raw, bytes) else raw.name.lower()
            return f"GET response block {block}{' (last)' if last else ''}: {size}"
        case SetRequestNormal(_, attr, value, sel):
            return f"SET {attr} = {_show(value)}"
        case ActionRequestNormal(_, m, params):
            return f"ACTION {m}" + ("" if params is None else f" ({_show(params)})")
        case ActionResponseNormal(_, result, data):
            return f"ACTION response {result.name.lower()}" + ("" if data is None else f": {_show(data)}")
        case SetResponseNormal(_, result):
            return f"SET response {result.name.lower()}"
        case ExceptionResponse(state, service, _):
            return f"exception-response {state.name.lower()} / {service.name.lower()}"
    return type(apdu).__name__


def _show(r: GetResult) -> str:
    if isinstance(r, DataAccessResult):
        return r.name.lower()
    text = _render(r)
    return text if len(text) <= 160 else text[:157] + "…"


def _render(d: Data) -> str:
    """A value as a reader of the transcript wants it: date-times and logical names decoded, other octets hex."""
    from instruments.dlms.axdr import Tag
    from instruments.dlms.cosem import CosemDateTime

    if d.tag in (Tag.ARRAY, Tag.STRUCTURE):
        inner = ", ".join(_render(x) for x in d.value[:8]) + (", …" if len(d.value) > 8 else "")
        return f"[{inner}]" if d.tag is Tag.ARRAY else f"{{{inner}}}"
    if d.tag in (Tag.OCTET_STRING, Tag.DATE_TIME) and isinstance(d.value, bytes):
        if len(d.value) == 12:
            try:
                return CosemDateTime.decode(d.value).to_datetime().isoformat()
            except ValueError:
                pass
        if len(d.value) == 6 and d.value[5] == 0xFF:
            return str(Obis.from_bytes(d.value))
        if d.value.isascii() and d.value.decode("ascii").isprintable() and d.value:
            return repr(d.value.decode("ascii"))
        return d.value.hex(" ").upper() if len(d.value) <= 24 else d.value[:24].hex(" ").upper() + " …"
    return repr(d.value)
