"""Test kinds as plugins: what a kind provides, and the registry of the installed ones.

A kind is found through the entry-point group ``meterhil.kinds`` (``importlib.metadata``): its name is the plan's
``kind:`` value, its object a :class:`TestKind` subclass (or instance). MeterHIL registers its own kinds the same
way from its ``pyproject.toml``; a lab registers its own from its own package, without forking MeterHIL
(docs/writing-a-test-kind.md). A plugin that fails to load is reported, naming the plugin and its distribution,
when a plan asks for it; the other kinds still work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from hil.core.expand import PlanContext
    from hil.core.steps import Step

ENTRY_POINT_GROUP = "meterhil.kinds"


class KindError(ValueError):
    """A plan asks for a kind that is not installed, or whose plugin cannot be loaded; ``loc``: where."""

    def __init__(self, message: str, loc: tuple[int | str, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class TestKind:
    """A kind of plan test. Subclass it, set the class attributes and implement :meth:`expand`.

    - ``name``: the ``kind:`` of its plan entries (the entry point's name must be the same);
    - ``model``: the pydantic model of its plan entry (fields ``id`` and ``kind: Literal[name]``; base it on
      :class:`hil.core.plan.PlanSection`), validated by the core with file, line and field in every error;
    - ``description``: one line for ``hil kinds``.
    """

    __test__ = False  # not a pytest test class
    name: ClassVar[str]
    description: ClassVar[str] = ""
    model: ClassVar[type[BaseModel]]

    def check_in_plan(self, test: Any, earlier: list[Any]) -> None:
        """Checks of ``test`` against the plan's tests before it (raise ValueError to refuse it)."""

    def expand(self, test: Any, ctx: PlanContext) -> list[Step]:
        """The steps of ``test`` on the bench of ``ctx``, in run order; raise
        :class:`hil.core.steps.PlanError` if it cannot run there (nothing is energised yet)."""
        raise NotImplementedError


def literal_kind(model: type[BaseModel]) -> str:
    """The ``kind`` a plan-section model accepts (its ``kind: Literal["..."]`` field)."""
    import typing

    args = typing.get_args(model.model_fields["kind"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{model.__name__}.kind must be Literal['<name>']")
    return args[0]


def kind_class(model: type[BaseModel], description: str,
               expand: Callable[[Any, PlanContext], list[Step]]) -> type[TestKind]:
    """A kind whose plugin only expands: its name from the model's ``kind`` literal. A family of several kinds
    declares each in one line (``Starting = kind_class(StartingTest, "…", starting_steps)``)."""

    def _expand(self: TestKind, test: Any, ctx: PlanContext) -> list[Step]:
        return expand(test, ctx)

    name = literal_kind(model)
    cls = type(f"{model.__name__}Kind", (TestKind,), {"name": name, "model": model, "description": description,
                                                     "expand": _expand, "__doc__": description})
    return cls


@dataclass(frozen=True)
class KindInfo:
    """One installed kind: its plugin (None when it failed to load, ``error`` says why)."""

    name: str
    target: str  # the entry point's object reference, e.g. "hil.kinds.accuracy:Accuracy"
    distribution: str
    version: str
    plugin: TestKind | None
    error: str = ""

    @property
    def description(self) -> str:
        return self.plugin.description if self.plugin is not None else f"(failed to load: {self.error})"


class _Adapted(TestKind):
    """A plugin that does not subclass :class:`TestKind`, with TestKind's defaults where it has nothing."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self.name = obj.name  # type: ignore[misc]
        self.model = obj.model  # type: ignore[misc]
        self.description = getattr(obj, "description", "")  # type: ignore[misc]

    def check_in_plan(self, test: Any, earlier: list[Any]) -> None:
        check = getattr(self._obj, "check_in_plan", None)
        if check is not None:
            check(test, earlier)

    def expand(self, test: Any, ctx: PlanContext) -> list[Step]:
        steps: list[Step] = self._obj.expand(test, ctx)
        return steps


def _load(ep: metadata.EntryPoint) -> tuple[TestKind | None, str]:
    try:
        obj = ep.load()
        plugin = obj() if isinstance(obj, type) else obj
        for attr in ("name", "model", "expand"):
            if not hasattr(plugin, attr):
                return None, f"{ep.value} is not a test kind: it has no {attr!r}"
        if not isinstance(plugin, TestKind):  # duck-typed: the optional parts of TestKind filled in
            plugin = _Adapted(plugin)
        if plugin.name != ep.name:
            return None, f"{ep.value} names itself {plugin.name!r}, its entry point {ep.name!r}"
        if not (isinstance(plugin.model, type) and issubclass(plugin.model, BaseModel)):
            return None, f"{ep.value}.model is not a pydantic model"
        return plugin, ""
    except Exception as exc:  # a broken plugin must not take the other kinds down
        return None, f"{type(exc).__name__}: {exc}"


class Registry:
    """The installed kinds, by name."""

    def __init__(self, infos: list[KindInfo]) -> None:
        self.infos: dict[str, KindInfo] = {}
        self.conflicts: dict[str, list[KindInfo]] = {}
        for info in infos:
            if info.name in self.infos and self.infos[info.name].distribution != info.distribution:
                self.conflicts.setdefault(info.name, [self.infos[info.name]]).append(info)
                continue
            self.infos[info.name] = info

    @classmethod
    def from_entry_points(cls) -> Registry:
        infos = []
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            plugin, error = _load(ep)
            infos.append(KindInfo(ep.name, ep.value, dist.name if dist is not None else "?",
                                  dist.version if dist is not None else "?", plugin, error))
        return cls(infos)

    def names(self) -> list[str]:
        return sorted(self.infos)

    def names_text(self) -> str:
        return ", ".join(self.names()) or "none"

    def plugin_for(self, kind: object, loc: tuple[int | str, ...] = ()) -> TestKind:
        """The plugin of ``kind``, or a :class:`KindError` naming the installed kinds (or the failed plugin)."""
        name = str(kind)
        if name in self.conflicts:
            who = ", ".join(f"{i.distribution} {i.version} ({i.target})" for i in self.conflicts[name])
            raise KindError(f"kind {name!r} is registered by more than one distribution: {who}", loc)
        info = self.infos.get(name)
        if info is None:
            raise KindError(f"unknown kind {name!r}; installed kinds: {self.names_text()}", loc)
        if info.plugin is None:
            raise KindError(f"kind {name!r}: its plugin {info.target} (distribution {info.distribution} "
                            f"{info.version}) failed to load: {info.error}", loc)
        return info.plugin


@functools.cache
def registry() -> Registry:
    """The installed kinds (read once per process; :func:`reload` after installing one)."""
    return Registry.from_entry_points()


def reload() -> Registry:
    registry.cache_clear()
    return registry()


def type_text(ann: Any) -> str:
    """A field's type as a plan author reads it: ``list[str] | None``, ``Literal['balanced', 'single_element']``."""
    import types
    import typing

    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_text(a) for a in args)}]" if args else name
    if ann is type(None):
        return "None"
    return getattr(ann, "__name__", str(ann).replace("typing.", ""))


def kind_schema(plugin: TestKind) -> list[dict[str, Any]]:
    """The fields of a kind's plan section: name, type, default (or "required"), description."""
    out = []
    for name, f in plugin.model.model_fields.items():
        default = "required" if f.is_required() else f.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump()
        out.append({"field": f.alias or name, "type": type_text(f.annotation), "default": default,
                    "description": f.description or ""})
    return out
