"""IEEE 488.2 device model: status registers, error queue, common commands; subclass it to declare a device.

One status model and one error queue per device, shared by all of its connections (like a real instrument
with several remote interfaces); the header path and the input buffer belong to each connection (session).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from instruments.scpi.errors import ESR_OPC, esr_bit, standard_message
from instruments.scpi.params import Int
from instruments.scpi.response import quote
from instruments.scpi.tree import WAITS, Tree, build_tree, scpi

if TYPE_CHECKING:
    from instruments.scpi.session import ScpiSession

_MAX_MESSAGE = 255  # SCPI-1999 Vol. 2 §21.8.1: the error description is at most 255 characters


def _clean(text: str) -> str:
    """An error text that fits in a quoted response string on one line."""
    text = "".join(ch if " " <= ch < "\x7f" else " " for ch in text)
    return text[:_MAX_MESSAGE]


def _waits(func: Any) -> Any:
    setattr(func, WAITS, True)
    return func


class ScpiDevice:
    """Base of every simulated SCPI instrument: declare handlers with :func:`~instruments.scpi.scpi`.

    Built in (IEEE 488.2 §10 common commands, SCPI-1999 Vol. 2 §4.2 mandatory SYSTem commands):
    ``*IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE *ESE? *SRE *SRE? *STB? *TST?``, ``SYSTem:ERRor[:NEXT]?``,
    ``SYSTem:ERRor:COUNt?``, ``SYSTem:ERRor:ALL?``, ``SYSTem:VERSion?``.
    """

    idn: tuple[str, str, str, str] = ("MeterHIL", "Generic", "0", "0")
    error_queue_size: int = 10
    header_in_response: bool = False  # prefix query replies with their header (IEEE 488.2 §8.7.2)
    verbose_headers: bool = False  # ... in long form rather than short form
    scpi_version: str = "1999.0"
    _scpi_tree: ClassVar[Tree]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._scpi_tree = build_tree(cls)  # malformed patterns and handler signatures fail at import

    def __init__(self) -> None:
        self._errors: deque[tuple[int, str]] = deque()
        self.esr = 0  # standard event status register
        self.ese = 0  # its enable mask
        self.sre = 0  # service request enable mask
        self._opc_armed = False  # *OPC sent, ESR.OPC not yet set
        self._waiting: list[ScpiSession] = []  # sessions held by *WAI / *OPC?
        self._session: ScpiSession | None = None  # the session executing now (for MAV)

    # -- sessions -------------------------------------------------------------------------------
    def new_session(self) -> ScpiSession:
        from instruments.scpi.session import ScpiSession

        if "_errors" not in self.__dict__:  # a subclass that forgot super().__init__()
            ScpiDevice.__init__(self)
        return ScpiSession(self)

    # -- hooks for subclasses -------------------------------------------------------------------
    def reset(self) -> None:
        """*RST: defaults with outputs off. Subclasses override and call ``super().reset()``."""
        self._opc_armed = False  # IEEE 488.2 §10.32: *RST puts the device in OCIS

    def operations_pending(self) -> bool:
        """Whether an overlapped operation (e.g. a source settling) is still running."""
        return False

    def summary_bits(self) -> int:
        """Device-defined STB bits (0, 1, 3 QUES, 7 OPER summaries); bits 2, 4, 5, 6 are the engine's."""
        return 0

    def clear_status(self) -> None:
        """*CLS: error queue and event registers. Subclasses with SCPI STATus registers extend it."""
        self._errors.clear()
        self.esr = 0
        self._opc_armed = False  # IEEE 488.2 §10.3: *CLS also puts the device in OCIS

    def self_test(self) -> int:
        """*TST? result: 0 = passed."""
        return 0

    # -- status model ---------------------------------------------------------------------------
    def push_error(self, code: int, message: str | None = None) -> None:
        """Queue an error and set its ESR bit; when full, the last entry becomes -350 (SCPI-1999 §21.8.2)."""
        if code == 0:
            return
        text = _clean(standard_message(code) if message is None else message)
        q = self._errors
        if len(q) >= max(1, self.error_queue_size):
            q[-1] = (-350, standard_message(-350))
            self.esr |= esr_bit(-350)
        else:
            q.append((code, text))
        self.esr |= esr_bit(code)

    def pop_error(self) -> tuple[int, str]:
        """Oldest queued error, or ``(0, "No error")``."""
        return self._errors.popleft() if self._errors else (0, standard_message(0))

    @property
    def errors(self) -> list[tuple[int, str]]:
        """The queued errors, oldest first (a copy; for tests and diagnostics)."""
        return list(self._errors)

    def status_byte(self) -> int:
        """STB (IEEE 488.2 §11.2): 2 EAV, 4 MAV (this connection), 5 ESB, 6 MSS; others: summary_bits()."""
        stb = self.summary_bits() & 0x8B
        if self._errors:
            stb |= 0x04
        session = self._session
        if session is not None and session.message_available():
            stb |= 0x10
        if self.esr & self.ese:
            stb |= 0x20
        if stb & self.sre & 0xBF:
            stb |= 0x40
        return stb

    def power_loss(self) -> None:
        """Power cycle: status and error queue cleared, defaults (the endpoint drops the connections)."""
        self._errors.clear()
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self._opc_armed = False
        self.reset()
        self.operations_changed()

    def operations_changed(self) -> None:
        """Call when pending operations may have ended: sets ESR.OPC after *OPC, releases *WAI / *OPC?."""
        if self.operations_pending():
            return
        if self._opc_armed:
            self._opc_armed = False
            self.esr |= ESR_OPC
        waiting, self._waiting = self._waiting, []
        for session in waiting:
            session.resume()

    # -- common commands (IEEE 488.2 §10) -------------------------------------------------------
    @scpi("*IDN?")
    def star_idn_q(self) -> str:
        return ",".join(self.idn)

    @scpi("*RST")
    def star_rst(self) -> None:
        self.reset()
        # a reset may end pending operations (a settling source is settled at its defaults): release the
        # *OPC? / *WAI held on other connections now, not at the next clock advance
        self.operations_changed()

    @scpi("*CLS")
    def star_cls(self) -> None:
        self.clear_status()

    @scpi("*OPC")
    def star_opc(self) -> None:
        if self.operations_pending():
            self._opc_armed = True
        else:
            self.esr |= ESR_OPC

    @scpi("*OPC?")
    @_waits
    def star_opc_q(self) -> int:
        return 1  # the session holds this unit until no operation is pending

    @scpi("*WAI")
    @_waits
    def star_wai(self) -> None:
        pass  # the session holds this unit (and what follows) until no operation is pending

    @scpi("*ESR?")
    def star_esr_q(self) -> int:
        value, self.esr = self.esr, 0
        return value

    @scpi("*ESE", Int(0, 255))
    def star_ese(self, mask: int) -> None:
        self.ese = mask

    @scpi("*ESE?")
    def star_ese_q(self) -> int:
        return self.ese

    @scpi("*SRE", Int(0, 255))
    def star_sre(self, mask: int) -> None:
        self.sre = mask & 0xBF  # IEEE 488.2 §11.3.2.3: bit 6 of the SRE is ignored

    @scpi("*SRE?")
    def star_sre_q(self) -> int:
        return self.sre

    @scpi("*STB?")
    def star_stb_q(self) -> int:
        return self.status_byte()

    @scpi("*TST?")
    def star_tst_q(self) -> int:
        return self.self_test()

    # -- SYSTem (SCPI-1999 Vol. 2 §21) -----------------------------------------------------------
    @scpi("SYSTem:ERRor[:NEXT]?")
    def system_error_q(self) -> str:
        code, text = self.pop_error()
        return f"{code},{quote(text)}"

    @scpi("SYSTem:ERRor:COUNt?")
    def system_error_count_q(self) -> int:
        return len(self._errors)

    @scpi("SYSTem:ERRor:ALL?")
    def system_error_all_q(self) -> str:
        if not self._errors:
            return f"0,{quote(standard_message(0))}"
        items = [f"{code},{quote(text)}" for code, text in self._errors]
        self._errors.clear()
        return ",".join(items)

    @scpi("SYSTem:VERSion?")
    def system_version_q(self) -> str:
        return self.scpi_version


ScpiDevice._scpi_tree = build_tree(ScpiDevice)
