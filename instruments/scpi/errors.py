"""SCPI error/event codes and the IEEE 488.2 event-status bits they set.

Codes and texts: SCPI-1999 Vol. 2 §21.8 (error/event queue); ESR bit per error class: IEEE 488.2 §11.5.1.
"""

from __future__ import annotations

#: standard texts of the codes this engine reports (SCPI-1999 §21.8.9 .. §21.8.12)
STANDARD_MESSAGES: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -120: "Numeric data error",
    -121: "Invalid character in number",
    -123: "Exponent too large",
    -131: "Invalid suffix",
    -138: "Suffix not allowed",
    -151: "Invalid string data",
    -168: "Block data not allowed",
    -178: "Expression data not allowed",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -241: "Hardware missing",
    -300: "Device-specific error",
    -310: "System error",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
    -400: "Query error",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}

# IEEE 488.2 §11.5.1.1 standard event status register bits
ESR_OPC = 0x01  # operation complete
ESR_RQC = 0x02  # request control
ESR_QYE = 0x04  # query error (-4xx)
ESR_DDE = 0x08  # device-dependent error (-3xx and positive codes)
ESR_EXE = 0x10  # execution error (-2xx)
ESR_CME = 0x20  # command error (-1xx)
ESR_URQ = 0x40  # user request
ESR_PON = 0x80  # power on


def standard_message(code: int) -> str:
    """The standard text of ``code``, or a generic one for its class."""
    text = STANDARD_MESSAGES.get(code)
    if text is not None:
        return text
    if -499 <= code <= -100:
        return STANDARD_MESSAGES.get(-((-code) // 100) * 100, "Device-specific error")
    return "Device-specific error"


def esr_bit(code: int) -> int:
    """The ESR bit an error of ``code`` sets (SCPI-1999 §21.8.3: class by hundreds; positive codes: DDE)."""
    if -199 <= code <= -100:
        return ESR_CME
    if -299 <= code <= -200:
        return ESR_EXE
    if -399 <= code <= -300 or code > 0:
        return ESR_DDE
    if -499 <= code <= -400:
        return ESR_QYE
    return 0


class ScpiError(Exception):
    """An SCPI error a handler (or the engine) raises; it is queued, never sent to the client as text."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = standard_message(code) if message is None else message
        super().__init__(code, self.message)

    def __str__(self) -> str:
        return f"{self.code},{self.message}"
