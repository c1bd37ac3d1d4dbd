"""The COSEM object model a simulated meter serves: objects, their attributes and methods, access rights
(IEC 62056-6-2:2021 4.1; Blue Book 4.1.2 "Class description notation").

An attribute is a getter (and maybe a setter) evaluated when the request arrives, so every value is read from the
physics world at that virtual instant; access rights are per client (Association LN attribute 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import Data, Tag
from instruments.dlms.cosem import Obis, ScalerUnit


class AttributeAccess(IntEnum):
    """attribute_access_mode (Blue Book 4.4.3, Association LN, version 1+)."""

    NO_ACCESS = 0
    READ = 1
    WRITE = 2
    READ_WRITE = 3


class MethodAccess(IntEnum):
    """method_access_mode (version 1+)."""

    NO_ACCESS = 0
    ACCESS = 1


class Caller(Protocol):
    """Who is asking: the association's client (its SAP and whether it may write)."""

    @property
    def client_sap(self) -> int: ...
    @property
    def may_write(self) -> bool: ...


class AccessError(Exception):
    """A getter, setter or method refusing with a Data-Access-Result."""

    def __init__(self, result: DataAccessResult, reason: str = "") -> None:
        super().__init__(reason or result.name.lower())
        self.result = result


Getter = Callable[[Caller, Selection | None], Data]
Setter = Callable[[Caller, Data], None]
Action = Callable[[Caller, Data | None], Data | None]


@dataclass
class Attribute:
    get: Getter | None = None
    set: Setter | None = None
    selectors: tuple[int, ...] = ()  # selective access the attribute supports
    #: only the management client may read it (secrets, keys)
    private: bool = False


@dataclass
class Method:
    call: Action
    #: only a client that may write may call it (disconnect, clock set, reset …)
    writes: bool = True


@dataclass
class CosemObject:
    class_id: int
    version: int
    logical_name: Obis
    attributes: dict[int, Attribute] = field(default_factory=dict)
    methods: dict[int, Method] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ln = Data.octets(bytes(self.logical_name))
        self.attributes.setdefault(1, Attribute(get=lambda _c, _s: ln))

    def attribute_access(self, caller: Caller, attribute: int) -> AttributeAccess:
        attr = self.attributes.get(attribute)
        if attr is None or (attr.private and not caller.may_write):
            return AttributeAccess.NO_ACCESS
        mode = AttributeAccess.READ if attr.get is not None else AttributeAccess.NO_ACCESS
        if attr.set is not None and caller.may_write:
            mode = AttributeAccess(mode | AttributeAccess.WRITE)
        return mode

    def method_access(self, caller: Caller, method: int) -> MethodAccess:
        m = self.methods.get(method)
        if m is None or (m.writes and not caller.may_write):
            return MethodAccess.NO_ACCESS
        return MethodAccess.ACCESS

    def access_rights(self, caller: Caller) -> Data:
        """access_rights of the object_list element (Blue Book 4.4.3, Association LN version ≥ 1)."""
        attrs = []
        for n in sorted(self.attributes):
            a = self.attributes[n]
            sel = (Data.array(Data.int8(s) for s in a.selectors) if a.selectors else Data.null())
            attrs.append(Data.structure([Data.int8(n), Data.enum(self.attribute_access(caller, n)), sel]))
        methods = [Data.structure([Data.int8(n), Data.enum(self.method_access(caller, n))])
                   for n in sorted(self.methods)]
        return Data.structure([Data.array(attrs), Data.array(methods)])


class ObjectDirectory:
    """The objects of one logical device, by (class id, logical name)."""

    def __init__(self, objects: list[CosemObject] | None = None) -> None:
        self._objects: dict[tuple[int, Obis], CosemObject] = {}
        self._order: list[CosemObject] = []
        for obj in objects or []:
            self.add(obj)

    def add(self, obj: CosemObject) -> CosemObject:
        key = (obj.class_id, obj.logical_name)
        if key in self._objects:
            raise ValueError(f"object IC {obj.class_id} {obj.logical_name} defined twice")
        self._objects[key] = obj
        self._order.append(obj)
        return obj

    def find(self, class_id: int, ln: Obis) -> CosemObject | None:
        return self._objects.get((class_id, ln))

    def by_name(self, ln: Obis) -> CosemObject | None:
        return next((o for o in self._order if o.logical_name == ln), None)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._order)

    def object_list(self, caller: Caller) -> Data:
        """Association LN attribute 2: {class_id, version, logical_name, access_rights} per object."""
        return Data.array(
            Data.structure([Data.uint16(o.class_id), Data.uint8(o.version), Data.octets(bytes(o.logical_name)),
                            o.access_rights(caller)])
            for o in self._order
        )


#: the integer types a method's or setter's integer argument may come as (clients differ in which they send)
INTEGER_TAGS = (Tag.INTEGER, Tag.LONG, Tag.DOUBLE_LONG, Tag.LONG64, Tag.UNSIGNED, Tag.LONG_UNSIGNED,
                Tag.DOUBLE_LONG_UNSIGNED, Tag.LONG64_UNSIGNED)


def no_data(v: Data | None, method: str) -> None:
    """A method whose data ::= integer (0) (Blue Book; also taken: any integer type 0, or no data)."""
    if v is not None and (v.tag not in INTEGER_TAGS or v.value != 0):
        raise AccessError(DataAccessResult.TYPE_UNMATCHED, f"{method} takes integer (0)")


def register(ln: Obis, read: Callable[[], Data], su: ScalerUnit) -> CosemObject:
    """Register IC 3 version 0 (Blue Book 4.3.2): value read when asked, scaler_unit."""
    return CosemObject(3, 0, ln, {2: Attribute(get=lambda _c, _s: read()),
                                  3: Attribute(get=lambda _c, _s: su.to_data())})
