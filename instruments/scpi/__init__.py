"""IEEE 488.2 / SCPI-1999 server engine used by the simulated instruments (sans-IO; see docs/scpi-engine.md).

Declare a device by subclassing :class:`ScpiDevice` and decorating handler methods with :func:`scpi`; serve it
with :class:`instruments.simulators.net.Endpoint` (``device.new_session()`` gives one session per connection).
"""

from instruments.scpi.device import ScpiDevice
from instruments.scpi.errors import ScpiError
from instruments.scpi.mnemonics import short_form
from instruments.scpi.params import Any_, Bool, Choice, Int, Num, ParamType, Str
from instruments.scpi.session import ScpiSession
from instruments.scpi.tree import scpi

__all__ = [
    "Any_",
    "Bool",
    "Choice",
    "Int",
    "Num",
    "ParamType",
    "ScpiDevice",
    "ScpiError",
    "ScpiSession",
    "Str",
    "scpi",
    "short_form",
]
