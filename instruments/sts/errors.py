"""The one exception of the STS codec."""

from __future__ import annotations


class TokenError(ValueError):
    """Bad input to the STS codec, or a token that does not decode: ``field`` names what is wrong (``token``,
    ``decoder key``, ``amount``, ``issued`` …), the message says why, in one line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
