"""The client side of a DLMS/COSEM association, sans-IO (IEC 62056-5-3:2017 9.4; Green Book ed. 9, 9.4).

:class:`ClientAssociation` builds the request APDUs (ciphered when the association is) and reads the responses:
the driver only moves bytes. Errors are named: :class:`AssociationRefused` (result and diagnostic),
:class:`DataAccessError` (the Data-Access-Result of one attribute), :class:`ServiceRefused` (exception-response),
:class:`ProtocolError` (a response that does not fit the request).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from instruments.dlms import apdu, security
from instruments.dlms.acse import (
    Aare,
    Aarq,
    ApplicationContext,
    AssociationResult,
    Mechanism,
    Rlre,
    Rlrq,
    UserDiagnostic,
)
from instruments.dlms.apdu import (
    ApduError,
    AttributeDescriptor,
    Conformance,
    DataAccessResult,
    MethodDescriptor,
    Selection,
)
from instruments.dlms.axdr import Data, Reader, read_data
from instruments.dlms.cosem import Obis
from instruments.dlms.security import Keys, SecurityError

#: what MeterHIL's client proposes (Green Book 9.4.6.1): every service it implements
CLIENT_CONFORMANCE = (
    Conformance.GET | Conformance.SET | Conformance.ACTION | Conformance.SELECTIVE_ACCESS
    | Conformance.BLOCK_TRANSFER_WITH_GET | Conformance.BLOCK_TRANSFER_WITH_SET | Conformance.MULTIPLE_REFERENCES
    | Conformance.PRIORITY_MGMT
)
#: invoke-id-and-priority: high priority, confirmed, invoke id in the low nibble
_HIGH_CONFIRMED = 0xC0


class DlmsError(Exception):
    """Base of the client's errors."""


class AssociationRefused(DlmsError):
    def __init__(self, result: AssociationResult, diagnostic: str, detail: str = "") -> None:
        self.result = result
        self.diagnostic = diagnostic
        super().__init__(f"association {result.name.lower().replace('_', '-')}: {diagnostic}"
                         + (f" ({detail})" if detail else ""))


class DataAccessError(DlmsError):
    def __init__(self, what: str, result: DataAccessResult) -> None:
        self.result = result
        super().__init__(f"{what}: {result.name.lower().replace('_', '-')}")


class ServiceRefused(DlmsError):
    def __init__(self, response: apdu.ExceptionResponse) -> None:
        self.response = response
        extra = (f" (the meter expects an invocation counter ≥ {response.invocation_counter})"
                 if response.invocation_counter is not None else "")
        super().__init__(f"exception-response: {response.state_error.name.lower().replace('_', '-')} /"
                         f" {response.service_error.name.lower().replace('_', '-')}{extra}")


class ProtocolError(DlmsError):
    """A response that is malformed or does not answer the request."""


class Authentication(Enum):
    NONE = "none"
    LLS = "lls"
    HLS_GMAC = "hls-gmac"


@dataclass(frozen=True)
class ClientSettings:
    client_sap: int = 1
    authentication: Authentication = Authentication.LLS
    password: bytes | None = None
    keys: Keys | None = None
    system_title: bytes = b"MHL\x00\x00\x00\x00\x01"
    max_receive_pdu: int = 0xFFFF
    #: the first invocation counter this client sends (some meters want it above what they last saw)
    invocation_counter: int = 1
    #: ciphered context with suite 0 APDUs (needs ``keys``); None: ciphered exactly when authenticating by HLS-GMAC
    ciphered: bool | None = None


Transact = Callable[[bytes], bytes]


class ClientAssociation:
    """One association over a ``transact(request) -> response`` exchange the driver supplies."""

    def __init__(self, settings: ClientSettings, transact: Transact,
                 on_apdu: Callable[[str, str | Callable[[], str]], None] | None = None,
                 random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        if (settings.authentication is Authentication.HLS_GMAC or settings.ciphered) and settings.keys is None:
            raise ValueError("HLS-GMAC and ciphering need the encryption and authentication keys")
        if settings.authentication is Authentication.LLS and not settings.password:
            raise ValueError("LLS needs a password")
        self.settings = settings
        self._transact = transact
        self._log = on_apdu or (lambda _d, _t: None)
        self._random = random_bytes
        self.counter = settings.invocation_counter
        self.server_title: bytes | None = None
        self.server_counter = 0
        self.associated = False
        self.conformance = Conformance(0)
        self.server_max_pdu = 0
        self._invoke = 0

    @property
    def ciphered(self) -> bool:
        if self.settings.ciphered is not None:
            return self.settings.ciphered
        return self.settings.authentication is Authentication.HLS_GMAC

    # -- sealing -------------------------------------------------------------------------------------
    def _seal(self, plain: bytes) -> bytes:
        if not self.ciphered:
            return plain
        assert self.settings.keys is not None
        out = security.protect(plain, self.settings.keys, self.settings.system_title, self.counter)
        self.counter += 1
        return out

    def _open(self, raw: bytes) -> bytes:
        if not self.ciphered or not security.is_ciphered(raw):
            return raw  # an exception-response to a request that could not be deciphered comes in clear
        assert self.settings.keys is not None and self.server_title is not None
        try:
            opened = security.unprotect(raw, self.settings.keys, self.server_title)
        except SecurityError as exc:
            raise ProtocolError(f"response not deciphered: {exc}") from None
        if opened.invocation_counter <= self.server_counter:
            raise ProtocolError(f"server invocation counter {opened.invocation_counter} not above"
                                f" {self.server_counter}: a replayed response")
        self.server_counter = opened.invocation_counter
        return opened.plain

    def _exchange(self, request: apdu.Apdu) -> apdu.Apdu:
        self._log("request", lambda: apdu.describe(request))
        raw = self._transact(self._seal(apdu.encode(request)))
        try:
            response = apdu.decode(self._open(raw))
        except ApduError as exc:
            raise ProtocolError(f"malformed response to {apdu.describe(request)}: {exc}") from None
        self._log("response", lambda: apdu.describe(response))
        if isinstance(response, apdu.ExceptionResponse):
            raise ServiceRefused(response)
        return response

    def _iid(self) -> int:
        self._invoke = (self._invoke + 1) & 0x0F
        return _HIGH_CONFIRMED | self._invoke

    # -- association -------------------------------------------------------------------------------
    def associate(self) -> None:
        s = self.settings
        initiate = apdu.encode(apdu.InitiateRequest(CLIENT_CONFORMANCE, s.max_receive_pdu))
        mechanism = {Authentication.NONE: Mechanism.NONE, Authentication.LLS: Mechanism.LLS,
                     Authentication.HLS_GMAC: Mechanism.HLS_GMAC}[s.authentication]
        ctos = self._random(16) if mechanism is Mechanism.HLS_GMAC else None
        auth = s.password if mechanism is Mechanism.LLS else ctos
        context = ApplicationContext.LN_CIPHERED if self.ciphered else ApplicationContext.LN
        titled = self.ciphered or mechanism is Mechanism.HLS_GMAC  # GMAC's IV is the sender's system title too
        aarq = Aarq(context, self._seal(initiate), mechanism, s.system_title if titled else None, auth)
        self._log("request", f"AARQ client {s.client_sap} {mechanism.name}")
        raw = self._transact(aarq.encode())
        if raw[:1] == bytes([apdu.ApduTag.EXCEPTION_RESPONSE]):  # some meters answer a bad AARQ with this
            try:
                refusal = apdu.decode(raw)
            except ApduError as exc:
                raise ProtocolError(f"malformed exception-response to the AARQ: {exc}") from None
            assert isinstance(refusal, apdu.ExceptionResponse)
            self._log("response", apdu.describe(refusal))
            raise ServiceRefused(refusal)
        try:
            aare = Aare.decode(raw)
        except ApduError as exc:
            raise ProtocolError(f"malformed AARE: {exc}") from None
        diag = _diagnostic(aare)
        self._log("response", f"AARE {aare.result.name.lower()} ({diag})")
        if aare.result is not AssociationResult.ACCEPTED:
            raise AssociationRefused(aare.result, diag, self._initiate_error(aare))
        self.server_title = aare.responding_title
        if self.ciphered and self.server_title is None:
            raise ProtocolError("AARE of a ciphered association carries no server system title")
        if aare.user_information is None:
            raise ProtocolError("AARE carries no InitiateResponse")
        try:
            response = apdu.decode(self._open(aare.user_information))
        except ApduError as exc:
            raise ProtocolError(f"InitiateResponse: {exc}") from None
        if not isinstance(response, apdu.InitiateResponse):
            raise ProtocolError(f"AARE user-information is {type(response).__name__}, not an InitiateResponse")
        self.conformance = response.conformance
        self.server_max_pdu = response.max_receive_pdu
        if mechanism is Mechanism.HLS_GMAC:
            self._hls(aare, ctos or b"")
        self.associated = True

    def _initiate_error(self, aare: Aare) -> str:
        if not aare.user_information:
            return ""
        try:
            err = apdu.decode(self._open(aare.user_information))
        except (ApduError, DlmsError):
            return ""
        if isinstance(err, apdu.ConfirmedServiceError):
            try:
                return f"initiate error: {apdu.InitiateError(err.error).name.lower().replace('_', '-')}"
            except ValueError:
                return f"confirmed-service-error {err.service}/{err.error_class}/{err.error}"
        return ""

    def _hls(self, aare: Aare, ctos: bytes) -> None:
        """Pass 3 and 4 of HLS-GMAC (Green Book 9.2.7.4): send f(StoC), check the meter's f(CtoS)."""
        keys = self.settings.keys
        assert keys is not None
        if self.server_title is None:
            raise ProtocolError("AARE for HLS-GMAC carries no server system title")
        stoc = aare.authentication
        if not stoc:
            raise ProtocolError("AARE for HLS-GMAC carries no challenge StoC")
        answer = security.gmac(keys, self.settings.system_title, self.counter, stoc)
        self.counter += 1
        method = MethodDescriptor(15, _ASSOCIATION_LN, 1)
        result = self.action_descriptor(method, Data.octets(answer), pending=True)
        if result is None or not isinstance(result.value, bytes):
            raise AssociationRefused(AssociationResult.REJECTED_PERMANENT, "authentication-failure",
                                     "the meter returned no f(CtoS)")
        try:
            security.check_gmac(keys, self.server_title, ctos, result.value)
        except SecurityError as exc:
            raise AssociationRefused(AssociationResult.REJECTED_PERMANENT, "authentication-failure",
                                     f"the meter's f(CtoS) is wrong: {exc}") from None

    def release(self) -> None:
        if not self.associated:
            return
        self.associated = False
        self._log("request", "RLRQ")
        raw = self._transact(Rlrq(0).encode())
        try:
            Rlre.decode(raw)
        except ApduError as exc:
            raise ProtocolError(f"malformed RLRE: {exc}") from None
        self._log("response", "RLRE")

    # -- services ----------------------------------------------------------------------------------
    def get(self, attr: AttributeDescriptor, selection: Selection | None = None) -> Data:
        iid = self._iid()
        response = self._exchange(apdu.GetRequestNormal(iid, attr, selection))
        if isinstance(response, apdu.GetResponseWithBlock):
            raw = self._blocks(iid, response, str(attr))
            r = Reader(raw)
            value = read_data(r)
            r.expect_end("GET block data")
            return value
        if not isinstance(response, apdu.GetResponseNormal):
            raise ProtocolError(f"GET {attr} answered with {type(response).__name__}")
        if isinstance(response.result, DataAccessResult):
            raise DataAccessError(f"GET {attr}", response.result)
        return response.result

    def get_many(self, attrs: list[tuple[AttributeDescriptor, Selection | None]]) -> list[apdu.GetResult]:
        iid = self._iid()
        response = self._exchange(apdu.GetRequestWithList(iid, tuple(attrs)))
        if isinstance(response, apdu.GetResponseWithBlock):
            r = Reader(self._blocks(iid, response, "GET with list"))
            results: list[apdu.GetResult] = []
            for _ in range(r.length("result count")):
                choice = r.byte("Get-Data-Result")
                results.append(read_data(r) if choice == 0 else DataAccessResult(r.byte("data-access-result")))
            return results
        if not isinstance(response, apdu.GetResponseWithList) or len(response.results) != len(attrs):
            raise ProtocolError(f"GET with list of {len(attrs)} answered with {response!r:.80}")
        return list(response.results)

    def _blocks(self, iid: int, first: apdu.GetResponseWithBlock, what: str) -> bytes:
        """GET with block transfer (Green Book 9.3.7): acknowledge each block with GET-Request-Next."""
        data = bytearray()
        block = first
        expected = 1
        while True:
            if isinstance(block.raw, DataAccessResult):
                raise DataAccessError(f"GET {what} block {block.block_number}", block.raw)
            if block.block_number != expected:
                raise ProtocolError(f"GET {what}: block {block.block_number} where {expected} was due")
            data += block.raw
            if block.last:
                return bytes(data)
            response = self._exchange(apdu.GetRequestNext(iid, block.block_number))
            if not isinstance(response, apdu.GetResponseWithBlock):
                raise ProtocolError(f"GET {what}: {type(response).__name__} in a block transfer")
            block = response
            expected += 1

    def set(self, attr: AttributeDescriptor, value: Data, selection: Selection | None = None) -> None:
        iid = self._iid()
        encoded = value.encode()
        room = max(self.server_max_pdu - 40, 16) if self.server_max_pdu else 0xFFFF
        if len(encoded) <= room:
            response = self._exchange(apdu.SetRequestNormal(iid, attr, value, selection))
            if not isinstance(response, apdu.SetResponseNormal):
                raise ProtocolError(f"SET {attr} answered with {type(response).__name__}")
            if response.result is not DataAccessResult.SUCCESS:
                raise DataAccessError(f"SET {attr}", response.result)
            return
        chunks = [encoded[i:i + room] for i in range(0, len(encoded), room)]
        for n, chunk in enumerate(chunks, 1):
            last = n == len(chunks)
            req: apdu.Apdu = (apdu.SetRequestFirstBlock(iid, attr, last, n, chunk, selection) if n == 1
                              else apdu.SetRequestBlock(iid, last, n, chunk))
            response = self._exchange(req)
            if last:
                if not isinstance(response, apdu.SetResponseLastBlock):
                    raise ProtocolError(f"SET {attr}: {type(response).__name__} after the last block")
                if response.result is not DataAccessResult.SUCCESS:
                    raise DataAccessError(f"SET {attr}", response.result)
            elif isinstance(response, apdu.SetResponseLastBlock):
                raise DataAccessError(f"SET {attr} block {n}", response.result)
            elif not isinstance(response, apdu.SetResponseBlock) or response.block_number != n:
                raise ProtocolError(f"SET {attr}: block {n} acknowledged with {response!r:.80}")

    def action(self, method: MethodDescriptor, params: Data | None = None) -> Data | None:
        return self.action_descriptor(method, params)

    def action_descriptor(self, method: MethodDescriptor, params: Data | None, pending: bool = False) -> Data | None:
        response = self._exchange(apdu.ActionRequestNormal(self._iid(), method, params))
        if not isinstance(response, apdu.ActionResponseNormal):
            raise ProtocolError(f"ACTION {method} answered with {type(response).__name__}")
        if response.result is not DataAccessResult.SUCCESS:
            if pending:
                raise AssociationRefused(AssociationResult.REJECTED_PERMANENT, "authentication-failure",
                                         f"reply_to_HLS_authentication: {response.result.name.lower()}")
            raise DataAccessError(f"ACTION {method}", response.result)
        if isinstance(response.data, DataAccessResult):
            raise DataAccessError(f"ACTION {method} return parameters", response.data)
        return response.data


_ASSOCIATION_LN = Obis(0, 0, 40, 0, 0, 255)


def _diagnostic(aare: Aare) -> str:
    if aare.provider:
        return f"acse-service-provider {aare.diagnostic}"
    try:
        return UserDiagnostic(aare.diagnostic).name.lower().replace("_", "-")
    except ValueError:
        return f"acse-service-user {aare.diagnostic}"
