"""The server side of one DLMS/COSEM application association (IEC 62056-5-3:2017 9.4 ACSE and xDLMS services;
Green Book ed. 9, 9.4 "Application layer"): AARQ/AARE with LLS or HLS-GMAC, security suite 0, GET (normal,
with list, block transfer), SET (normal, with list, block transfer), ACTION, RLRQ/RLRE.

Sans-IO: :meth:`ServerAssociation.handle` takes one APDU and returns the response APDU (or None). Every error is a
DLMS result code on the wire, never an exception out of the server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from instruments.dlms import acse, apdu, security
from instruments.dlms.acse import (
    Aare,
    Aarq,
    ApplicationContext,
    AssociationResult,
    Mechanism,
    UserDiagnostic,
)
from instruments.dlms.apdu import (
    ApduError,
    Conformance,
    DataAccessResult,
    ExceptionResponse,
    InitiateError,
    InitiateRequest,
    InitiateResponse,
    ServiceError,
    StateError,
)
from instruments.dlms.axdr import AxdrError, Data, Reader, read_data
from instruments.dlms.cosem import Obis
from instruments.dlms.security import Keys, SecurityError
from instruments.simulators.dlms.objects import AccessError, AttributeAccess, MethodAccess, ObjectDirectory

ASSOCIATION_LN = Obis(0, 0, 40, 0, 0, 255)
#: what the simulated meters offer (Green Book 9.4.6.1): LN referencing, GET/SET/ACTION, selective access,
#: block transfer with GET and SET, multiple references, priority management, general protection
#: (general-glo-ciphering)
SERVER_CONFORMANCE = (
    Conformance.GENERAL_PROTECTION | Conformance.GET | Conformance.SET | Conformance.ACTION
    | Conformance.SELECTIVE_ACCESS | Conformance.BLOCK_TRANSFER_WITH_GET | Conformance.BLOCK_TRANSFER_WITH_SET
    | Conformance.MULTIPLE_REFERENCES | Conformance.PRIORITY_MGMT
)
SERVER_MAX_RECEIVE_PDU = 1024
#: smallest client max receive PDU size served (Green Book 9.4.6.1: 12 is the minimum meaningful size)
MIN_CLIENT_PDU = 12
DLMS_VERSION = 6
#: overhead of a glo- response beyond its plaintext: tag, length (≤ 3), SC, IC, 12-octet tag
_CIPHER_OVERHEAD = 1 + 3 + 5 + security.TAG_LENGTH


class State(IntEnum):
    """association_status of the Association LN (Blue Book 4.4.3 attribute 8)."""

    NON_ASSOCIATED = 0
    PENDING = 1
    ASSOCIATED = 2


@dataclass(frozen=True)
class ClientPolicy:
    """What a client SAP may do on this meter, and how it must authenticate (one of ``mechanisms``)."""

    sap: int
    mechanisms: tuple[Mechanism, ...]
    may_write: bool
    password: bytes | None = None  # LLS
    #: only the ciphered context (suite 0 APDUs) is accepted; otherwise the client chooses (Green Book 9.4.2.2.2)
    require_ciphering: bool = False


@dataclass
class Counters:
    """Invocation counters that outlive an association (per meter): the last one accepted from each client and
    the meter's own, which starts at 1 (some clients refuse 0)."""

    received: dict[int, int] = field(default_factory=dict)
    sent: int = 0

    def next_sent(self) -> int:
        self.sent += 1
        return self.sent


@dataclass
class SecurityContext:
    keys: Keys
    system_title: bytes  # the meter's
    counters: Counters


class ServerAssociation:
    """One client's association with the meter's logical device (one per connection and client SAP)."""

    def __init__(
        self,
        directory: ObjectDirectory,
        policies: dict[int, ClientPolicy],
        client_sap: int,
        sec: SecurityContext | None,
        on_event: Callable[[str], None] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.directory = directory
        self.policies = policies
        self.policy = policies.get(client_sap)
        self.client_sap = client_sap
        self.sec = sec
        self.state = State.NON_ASSOCIATED
        self.client_title: bytes | None = None
        self.client_max_pdu = SERVER_MAX_RECEIVE_PDU
        self.conformance = Conformance(0)
        self._challenge_ctos = b""
        self._challenge_stoc = b""
        self._random = random_bytes
        self._on_event = on_event or (lambda _msg: None)
        self._ciphered_sc: int | None = None  # SC of the request being answered
        self._general = False  # … and whether it came general-glo-ciphered
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self._get_blocks: list[bytes] = []
        self._get_sent = 0  # the last block sent: the next GET-Request-Next must acknowledge exactly it
        self._set_buffer: bytearray | None = None
        self._set_target: apdu.SetRequestFirstBlock | None = None
        self._set_block = 0

    # -- Caller -----------------------------------------------------------------------------------
    @property
    def may_write(self) -> bool:
        return self.policy is not None and self.policy.may_write and self.state is State.ASSOCIATED

    # -- entry -------------------------------------------------------------------------------------
    def handle(self, raw: bytes) -> bytes | None:
        """The response to one APDU. A request the server cannot make sense of gets an exception-response; a bug
        of ours surfacing here is logged and answered the same way, so the client (and the others) go on."""
        try:
            return self._handle(raw)
        except Exception as exc:
            self._on_event(f"internal error on {raw[:16].hex()}…: {type(exc).__name__}: {exc}")
            self._ciphered_sc = None
            return apdu.encode(ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.OTHER_REASON))

    def _handle(self, raw: bytes) -> bytes | None:
        if not raw:
            return None
        tag = raw[0]
        if tag == apdu.ApduTag.AARQ:
            return self._aarq(raw)
        if tag == apdu.ApduTag.RLRQ:
            return self._rlrq(raw)
        if self.state is State.NON_ASSOCIATED:
            self._on_event(f"{_tag_name(tag)} outside an association refused")
            return apdu.encode(ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.OPERATION_NOT_POSSIBLE))
        self._ciphered_sc = None
        self._general = False
        if self.ciphered:
            opened = self._open(raw)
            if isinstance(opened, ExceptionResponse):
                return apdu.encode(opened)
            raw = opened
        elif security.is_ciphered(raw):
            return apdu.encode(ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.DECIPHERING_ERROR))
        try:
            request = apdu.decode(raw)
        except ApduError as exc:
            self._on_event(f"malformed APDU refused: {exc}")
            return self._seal(apdu.encode(ExceptionResponse(StateError.SERVICE_UNKNOWN,
                                                            ServiceError.OTHER_REASON)))
        if not isinstance(request, apdu.REQUESTS):
            return self._seal(apdu.encode(ExceptionResponse(StateError.SERVICE_UNKNOWN,
                                                            ServiceError.SERVICE_NOT_SUPPORTED)))
        if self.state is State.PENDING and not _is_hls_reply(request):
            return self._seal(apdu.encode(ExceptionResponse(StateError.SERVICE_NOT_ALLOWED,
                                                            ServiceError.OPERATION_NOT_POSSIBLE)))
        return self._seal(self._service(request))

    def release(self) -> None:
        """The link went down (TCP closed, HDLC DISC): the association ends."""
        self.state = State.NON_ASSOCIATED
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self._get_blocks = []
        self._set_buffer = None

    # -- ciphering ---------------------------------------------------------------------------------
    def _open(self, raw: bytes) -> bytes | ExceptionResponse:
        """The plain APDU, or the exception-response its failure gets (sent in clear: the peer may not have
        the keys we think it has)."""
        assert self.sec is not None and self.client_title is not None
        if not security.is_ciphered(raw):
            self._on_event("unciphered APDU in a ciphered association refused")
            return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.DECIPHERING_ERROR)
        general = raw[0] == security.GENERAL_GLO_CIPHERING
        try:
            if general:
                title, opened = security.unprotect_general(raw, self.sec.keys)
                if title != self.client_title:
                    raise SecurityError(f"system title {title.hex().upper()} is not the associated client's")
            else:
                opened = security.unprotect(raw, self.sec.keys, self.client_title)
        except SecurityError as exc:
            self._on_event(f"APDU not deciphered: {exc}")
            return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.DECIPHERING_ERROR)
        last = self.sec.counters.received.get(self.client_sap, 0)
        if opened.invocation_counter <= last:
            self._on_event(f"invocation counter {opened.invocation_counter} not above {last}: replay refused")
            return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.INVOCATION_COUNTER_ERROR, last + 1)
        if not general and security.PLAIN_TAGS[raw[0]] != opened.plain[0]:
            return ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.DECIPHERING_ERROR)
        self.sec.counters.received[self.client_sap] = opened.invocation_counter
        self._ciphered_sc = opened.security_control
        self._general = general
        return opened.plain

    def _seal(self, plain: bytes) -> bytes:
        """The response protected as the request was (glo- or general-glo-ciphering, the same SC)."""
        if self._ciphered_sc is None or self.sec is None:
            return plain
        if self._general:
            return security.protect_general(plain, self.sec.keys, self.sec.system_title,
                                            self.sec.counters.next_sent(), self._ciphered_sc)
        return security.protect(plain, self.sec.keys, self.sec.system_title, self.sec.counters.next_sent(),
                                self._ciphered_sc)

    # -- association -------------------------------------------------------------------------------
    def _reject(self, ctx: ApplicationContext, diag: UserDiagnostic, why: str,
                user: bytes | None = None) -> bytes:
        self._on_event(f"association refused: {why}")
        self.state = State.NON_ASSOCIATED
        return Aare(ctx, AssociationResult.REJECTED_PERMANENT, diag, user).encode()

    def _aarq(self, raw: bytes) -> bytes:
        self.release()
        try:
            req = Aarq.decode(raw)
        except ApduError as exc:
            return self._reject(ApplicationContext.LN, UserDiagnostic.NO_REASON_GIVEN, f"malformed AARQ: {exc}")
        policy = self.policy
        if policy is None:
            return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN,
                                f"client SAP {self.client_sap} is not known to this meter")
        if req.mechanism not in policy.mechanisms:
            diag = (UserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED if req.mechanism is Mechanism.NONE
                    else UserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
            allowed = " or ".join(m.name for m in policy.mechanisms)
            return self._reject(req.context, diag, f"client {self.client_sap} must authenticate with {allowed},"
                                f" asked {req.mechanism.name}")
        if req.context not in (ApplicationContext.LN, ApplicationContext.LN_CIPHERED):
            return self._reject(ApplicationContext.LN, UserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
                                f"context {req.context.name}: the meter serves logical name referencing only")
        if req.context is not ApplicationContext.LN_CIPHERED and policy.require_ciphering:
            return self._reject(ApplicationContext.LN_CIPHERED, UserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
                                f"client {self.client_sap} must use the ciphered context")
        if req.mechanism is Mechanism.LLS and req.authentication != policy.password:
            return self._reject(req.context, UserDiagnostic.AUTHENTICATION_FAILURE, "wrong LLS password")
        self.mechanism = req.mechanism
        self.ciphered = req.context is ApplicationContext.LN_CIPHERED
        user = req.user_information
        if self.ciphered or self.mechanism is Mechanism.HLS_GMAC:
            if self.sec is None or req.calling_title is None or len(req.calling_title) != 8:
                self.ciphered = False
                return self._reject(req.context, UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED,
                                    "ciphering and HLS-GMAC need the client's 8-octet system title")
            self.client_title = req.calling_title
        if self.ciphered:
            assert self.sec is not None and self.client_title is not None
            if not user or user[0] not in (apdu.ApduTag.GLO_INITIATE_REQUEST, security.GENERAL_GLO_CIPHERING):
                return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN,
                                    "the InitiateRequest of a ciphered context must be ciphered")
            try:
                if user[0] == security.GENERAL_GLO_CIPHERING:
                    _title, opened = security.unprotect_general(user, self.sec.keys)
                else:
                    opened = security.unprotect(user, self.sec.keys, self.client_title)
            except SecurityError as exc:
                return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN, f"InitiateRequest: {exc}",
                                    apdu.encode(apdu.ConfirmedServiceError(1, 6, InitiateError.OTHER)))
            last = self.sec.counters.received.get(self.client_sap, 0)
            if opened.invocation_counter <= last:
                return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN,
                                    f"invocation counter {opened.invocation_counter} not above {last}",
                                    apdu.encode(apdu.ConfirmedServiceError(1, 6, InitiateError.OTHER)))
            self.sec.counters.received[self.client_sap] = opened.invocation_counter
            self._ciphered_sc = opened.security_control
            user = opened.plain
        try:
            initiate = apdu.decode(user)
        except ApduError as exc:
            return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN, f"InitiateRequest: {exc}")
        if not isinstance(initiate, InitiateRequest):
            return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN, "user-information is no InitiateRequest")
        error = None
        if initiate.dlms_version < DLMS_VERSION:
            error = InitiateError.DLMS_VERSION_TOO_LOW
        elif initiate.max_receive_pdu and initiate.max_receive_pdu < MIN_CLIENT_PDU:
            error = InitiateError.PDU_SIZE_TOO_SHORT
        elif not initiate.conformance & SERVER_CONFORMANCE:
            error = InitiateError.INCOMPATIBLE_CONFORMANCE
        if error is not None:
            return self._reject(req.context, UserDiagnostic.NO_REASON_GIVEN, f"InitiateRequest: {error.name}",
                                self._seal(apdu.encode(apdu.ConfirmedServiceError(1, 6, error))))
        self.conformance = Conformance(initiate.conformance & SERVER_CONFORMANCE)
        self.client_max_pdu = initiate.max_receive_pdu or 0xFFFF
        response = self._seal(apdu.encode(InitiateResponse(self.conformance, SERVER_MAX_RECEIVE_PDU)))
        titled = self.ciphered or self.mechanism is Mechanism.HLS_GMAC
        title = self.sec.system_title if (titled and self.sec) else None
        if self.mechanism is Mechanism.HLS_GMAC:
            self._challenge_ctos = req.authentication or b""
            if not 8 <= len(self._challenge_ctos) <= 64:
                return self._reject(req.context, UserDiagnostic.AUTHENTICATION_FAILURE,
                                    "an HLS challenge is 8 to 64 octets")
            self._challenge_stoc = self._random(16)
            self.state = State.PENDING
            return Aare(req.context, AssociationResult.ACCEPTED, UserDiagnostic.AUTHENTICATION_REQUIRED, response,
                        title, Mechanism.HLS_GMAC, self._challenge_stoc).encode()
        self.state = State.ASSOCIATED
        return Aare(req.context, AssociationResult.ACCEPTED, UserDiagnostic.NULL, response, title,
                    self.mechanism).encode()

    def _rlrq(self, raw: bytes) -> bytes:
        try:
            acse.Rlrq.decode(raw)
        except ApduError as exc:
            self._on_event(f"malformed RLRQ: {exc}")
        self.release()
        return acse.Rlre(0).encode()

    def reply_to_hls(self, answer: Data | None) -> Data:
        """Association LN method 1: check f(StoC) from the client, answer f(CtoS) (Green Book 9.2.7.4 pass 3/4)."""
        if self.state is not State.PENDING or self.sec is None or self.client_title is None:
            raise AccessError(DataAccessResult.READ_WRITE_DENIED, "no HLS authentication pending")
        if answer is None or not isinstance(answer.value, bytes):
            raise AccessError(DataAccessResult.TYPE_UNMATCHED, "f(StoC) must be an octet-string")
        try:
            security.check_gmac(self.sec.keys, self.client_title, self._challenge_stoc, answer.value)
        except SecurityError as exc:
            self._on_event(f"HLS authentication failed: {exc}")
            self.state = State.NON_ASSOCIATED
            raise AccessError(DataAccessResult.OTHER_REASON, str(exc)) from None
        self.state = State.ASSOCIATED
        reply = security.gmac(self.sec.keys, self.sec.system_title, self.sec.counters.next_sent(),
                              self._challenge_ctos)
        return Data.octets(reply)

    # -- services ----------------------------------------------------------------------------------
    def _max_response(self) -> int:
        overhead = _CIPHER_OVERHEAD if self._ciphered_sc is not None else 0
        return max(self.client_max_pdu - overhead, MIN_CLIENT_PDU)

    def _service(self, req: apdu.Apdu) -> bytes:
        match req:
            case apdu.GetRequestNormal(iid, attr, sel):
                self._get_blocks = []
                return self._respond_get(iid, self._get(attr, sel), single=True)
            case apdu.GetRequestWithList(iid, items):
                self._get_blocks = []
                if not self.conformance & Conformance.MULTIPLE_REFERENCES:
                    return apdu.encode(ExceptionResponse(StateError.SERVICE_NOT_ALLOWED,
                                                         ServiceError.SERVICE_NOT_SUPPORTED))
                results = tuple(self._get(a, s) for a, s in items)
                return self._respond_get(iid, results, single=False)
            case apdu.GetRequestNext(iid, block):
                return self._next_block(iid, block)
            case apdu.SetRequestNormal(iid, attr, value, sel):
                return apdu.encode(apdu.SetResponseNormal(iid, self._set(attr, value)))
            case apdu.SetRequestWithList(iid, items, values):
                return apdu.encode(apdu.SetResponseWithList(iid, tuple(self._set(a, v) for (a, _), v
                                                                        in zip(items, values, strict=True))))
            case apdu.SetRequestFirstBlock() | apdu.SetRequestBlock():
                return self._set_block_step(req)
            case apdu.ActionRequestNormal(iid, method, params):
                result, data = self._action(method, params)
                return apdu.encode(apdu.ActionResponseNormal(iid, result, data))
        return apdu.encode(ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.SERVICE_NOT_SUPPORTED))

    def _get(self, attr: apdu.AttributeDescriptor, sel: apdu.Selection | None) -> apdu.GetResult:
        obj = self.directory.find(attr.class_id, attr.instance)
        if obj is None:
            other = self.directory.by_name(attr.instance)
            return DataAccessResult.OBJECT_CLASS_INCONSISTENT if other else DataAccessResult.OBJECT_UNDEFINED
        if obj.attribute_access(self, attr.attribute) & AttributeAccess.READ == 0:
            exists = attr.attribute in obj.attributes
            return DataAccessResult.READ_WRITE_DENIED if exists else DataAccessResult.OBJECT_UNAVAILABLE
        a = obj.attributes[attr.attribute]
        if sel is not None and sel.selector not in a.selectors:
            return DataAccessResult.SCOPE_OF_ACCESS_VIOLATED
        assert a.get is not None
        try:
            return a.get(self, sel)
        except AccessError as exc:
            self._on_event(f"GET {attr}: {exc}")
            return exc.result

    def _respond_get(self, iid: int, result: apdu.GetResult | tuple[apdu.GetResult, ...], single: bool) -> bytes:
        if single:
            assert not isinstance(result, tuple)
            whole = apdu.encode(apdu.GetResponseNormal(iid, result))
        else:
            assert isinstance(result, tuple)
            whole = apdu.encode(apdu.GetResponseWithList(iid, result))
        limit = self._max_response()
        if len(whole) <= limit:
            return whole
        if not self.conformance & Conformance.BLOCK_TRANSFER_WITH_GET:
            return apdu.encode(apdu.GetResponseNormal(iid, DataAccessResult.OTHER_REASON))
        # raw data of the blocks: the Data (normal) or the SEQUENCE OF Get-Data-Result (with list), Green Book
        # 9.3.7 "GET service with block transfer"
        raw = whole[4:] if single else whole[3:]
        size = max(limit - 12, 1)  # C4 02 iid last block(4) 00 length(≤3)
        self._get_blocks = [raw[i:i + size] for i in range(0, len(raw), size)]
        return self._block(iid, 1)

    def _block(self, iid: int, number: int) -> bytes:
        self._get_sent = number
        last = number == len(self._get_blocks)
        block = self._get_blocks[number - 1]
        return apdu.encode(apdu.GetResponseWithBlock(iid, last, number, block))

    def _next_block(self, iid: int, acknowledged: int) -> bytes:
        if not self._get_blocks:
            return apdu.encode(apdu.GetResponseWithBlock(iid, True, acknowledged,
                                                         DataAccessResult.NO_LONG_GET_IN_PROGRESS))
        number = acknowledged + 1
        if acknowledged != self._get_sent or number > len(self._get_blocks):
            self._get_blocks = []
            return apdu.encode(apdu.GetResponseWithBlock(iid, True, acknowledged,
                                                         DataAccessResult.DATA_BLOCK_NUMBER_INVALID))
        response = self._block(iid, number)
        if number == len(self._get_blocks):
            self._get_blocks = []
        return response

    def _set(self, attr: apdu.AttributeDescriptor, value: Data) -> DataAccessResult:
        obj = self.directory.find(attr.class_id, attr.instance)
        if obj is None:
            other = self.directory.by_name(attr.instance)
            return DataAccessResult.OBJECT_CLASS_INCONSISTENT if other else DataAccessResult.OBJECT_UNDEFINED
        if attr.attribute not in obj.attributes:
            return DataAccessResult.OBJECT_UNAVAILABLE
        if obj.attribute_access(self, attr.attribute) & AttributeAccess.WRITE == 0:
            return DataAccessResult.READ_WRITE_DENIED
        setter = obj.attributes[attr.attribute].set
        assert setter is not None
        try:
            setter(self, value)
        except AccessError as exc:
            self._on_event(f"SET {attr}: {exc}")
            return exc.result
        return DataAccessResult.SUCCESS

    def _set_block_step(self, req: apdu.SetRequestFirstBlock | apdu.SetRequestBlock) -> bytes:
        if isinstance(req, apdu.SetRequestFirstBlock):
            if req.block_number != 1:
                return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                                                             req.block_number))
            self._set_target, self._set_buffer, self._set_block = req, bytearray(req.raw), 1
        else:
            if self._set_buffer is None or self._set_target is None:
                return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, DataAccessResult.NO_LONG_SET_IN_PROGRESS,
                                                             req.block_number))
            if req.block_number != self._set_block + 1:
                self._set_buffer = None
                return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                                                             req.block_number))
            self._set_buffer += req.raw
            self._set_block = req.block_number
            if len(self._set_buffer) > 0x10000:
                self._set_buffer = None
                return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, DataAccessResult.LONG_SET_ABORTED,
                                                             req.block_number))
        if not req.last:
            return apdu.encode(apdu.SetResponseBlock(req.invoke_id, self._set_block))
        target, raw = self._set_target, bytes(self._set_buffer)
        self._set_buffer, self._set_target = None, None
        try:
            r = Reader(raw)
            value = read_data(r)
            r.expect_end("SET block data")
        except AxdrError:
            return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, DataAccessResult.TYPE_UNMATCHED,
                                                         self._set_block))
        assert target is not None
        return apdu.encode(apdu.SetResponseLastBlock(req.invoke_id, self._set(target.attribute, value),
                                                     self._set_block))

    def _action(self, m: apdu.MethodDescriptor, params: Data | None) -> tuple[DataAccessResult, apdu.GetResult | None]:
        if m.class_id == 15 and m.instance == ASSOCIATION_LN and m.method == 1:
            try:
                return DataAccessResult.SUCCESS, self.reply_to_hls(params)
            except AccessError as exc:
                return exc.result, None
        obj = self.directory.find(m.class_id, m.instance)
        if obj is None:
            other = self.directory.by_name(m.instance)
            return (DataAccessResult.OBJECT_CLASS_INCONSISTENT if other else DataAccessResult.OBJECT_UNDEFINED), None
        if m.method not in obj.methods:
            return DataAccessResult.OBJECT_UNAVAILABLE, None
        if obj.method_access(self, m.method) is MethodAccess.NO_ACCESS:
            return DataAccessResult.READ_WRITE_DENIED, None
        try:
            out = obj.methods[m.method].call(self, params)
        except AccessError as exc:
            self._on_event(f"ACTION {m}: {exc}")
            return exc.result, None
        return DataAccessResult.SUCCESS, out


def _is_hls_reply(req: apdu.Apdu) -> bool:
    return (isinstance(req, apdu.ActionRequestNormal) and req.method.class_id == 15
            and req.method.instance == ASSOCIATION_LN and req.method.method == 1)


def _tag_name(tag: int) -> str:
    try:
        return apdu.ApduTag(tag).name.lower()
    except ValueError:
        return f"APDU {tag:#04x}"
