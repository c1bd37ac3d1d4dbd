"""Command trees declared with :func:`scpi` and the resolution of a program header to a handler.

Patterns use the manual notation of SCPI-1999 Vol. 1 §6.2: the upper-case part of a keyword is its short
form, ``[..]`` an optional node, ``#`` a numeric suffix (``#{1..3}``: its range). Each pattern is expanded once,
at class creation, into every spelling with and without its optional nodes, stored in a trie keyed by long and
short form; a header met at a given path is resolved once and cached, so a repeated query is one dict lookup.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from instruments.scpi.errors import ScpiError
from instruments.scpi.mnemonics import short_form
from instruments.scpi.params import ParamType

F = TypeVar("F", bound=Callable[..., Any])

#: attribute of a handler function holding its declarations
DECLARATIONS = "__scpi__"
#: attribute marking the handlers that wait for pending operations (*WAI, *OPC?)
WAITS = "__scpi_waits__"

MAX_MNEMONIC = 12  # IEEE 488.2 §7.6.1.2: a program mnemonic has at most 12 characters
CACHE_LIMIT = 4096  # resolutions kept per tree; garbage headers must not grow memory forever
CACHE_MAX_HEADER = 256  # longer headers (garbage, in practice) are resolved every time, never stored

_PATTERN_KEYWORD = re.compile(r"([A-Za-z][A-Za-z0-9_]*?)(#(?:\{(\d+)\.\.(\d+)\})?)?")
_HEADER_KEYWORD = re.compile(r"([A-Za-z][A-Za-z0-9_]*?)(\d*)")
_COMMON = re.compile(r"\*[A-Za-z]+")


@dataclass(frozen=True)
class Keyword:
    long: str  # upper case
    short: str  # upper case
    optional: bool
    suffix: bool
    suffix_range: tuple[int, int] | None


@dataclass(frozen=True)
class Pattern:
    text: str
    query: bool
    common: str | None  # "*IDN?" for common commands, else None
    keywords: tuple[Keyword, ...]

    @property
    def suffixes(self) -> int:
        return sum(k.suffix for k in self.keywords)


def parse_pattern(text: str) -> Pattern:
    """Parse a header in manual notation; ValueError names the pattern when it is malformed."""
    p = text.strip()
    query = p.endswith("?")
    if query:
        p = p[:-1]
    if p.startswith("*"):
        if not _COMMON.fullmatch(p):
            raise ValueError(f"bad common command pattern {text!r}")
        return Pattern(text, query, p.upper() + ("?" if query else ""), ())
    p = p.replace("[:", ":[")
    if p.startswith(":"):
        p = p[1:]
    keywords = []
    for part in p.split(":"):
        optional = part.startswith("[")
        if optional:
            if not part.endswith("]"):
                raise ValueError(f"unbalanced [ in pattern {text!r}")
            part = part[1:-1]
        m = _PATTERN_KEYWORD.fullmatch(part)
        if m is None or m.group(1)[-1].isdigit():
            raise ValueError(f"bad keyword {part!r} in pattern {text!r}")
        name = m.group(1)
        short = short_form(name)
        rng = (int(m.group(3)), int(m.group(4))) if m.group(3) else None
        keywords.append(Keyword(name.upper(), short, optional, m.group(2) is not None, rng))
    if all(k.optional for k in keywords):
        raise ValueError(f"pattern {text!r} has no required keyword")
    return Pattern(text, query, None, tuple(keywords))


@dataclass(frozen=True)
class Declaration:
    pattern: Pattern
    params: tuple[ParamType, ...]


def scpi(pattern: str, *params: ParamType) -> Callable[[F], F]:
    """Declare the decorated method as the handler of ``pattern`` (may be stacked for aliases).

    The handler receives the numeric suffixes in pattern order (a missing suffix is 1), then the converted
    parameters; a query's return value is formatted by the engine.
    """
    decl = Declaration(parse_pattern(pattern), params)

    def deco(func: F) -> F:
        func.__dict__.setdefault(DECLARATIONS, []).append(decl)
        return func

    return deco


class Entry:
    """One handler bound at a leaf: what to call and how to build its arguments."""

    __slots__ = ("func", "name", "params", "pattern", "query", "ranges", "rank", "suffix_map", "waits")

    def __init__(
        self,
        name: str,
        func: Callable[..., Any],
        decl: Declaration,
        suffix_map: tuple[int, ...],
        rank: int,
        waits: bool,
    ) -> None:
        self.name = name
        self.func = func
        self.params = decl.params
        self.pattern = decl.pattern.text
        self.query = decl.pattern.query
        self.ranges = tuple(k.suffix_range for k in decl.pattern.keywords if k.suffix)
        self.suffix_map = suffix_map  # handler suffix i ← collected suffix suffix_map[i]; -1: omitted → 1
        self.rank = rank  # depth of the declaring class in the MRO: subclasses override their bases
        self.waits = waits


class Node:
    """A keyword position in the trie (one per distinct spelled path from the root)."""

    __slots__ = ("children", "command", "long", "nsuf", "parent", "query", "short", "suffix")

    def __init__(self, long: str, short: str, suffix: bool, parent: Node | None) -> None:
        self.long = long
        self.short = short
        self.suffix = suffix
        self.parent = parent
        self.children: dict[str, Node] = {}
        self.command: Entry | None = None
        self.query: Entry | None = None
        # how many suffix values the path root..this node carries
        self.nsuf: int = (parent.nsuf if parent is not None else 0) + (1 if suffix else 0)

    def header(self, suffixes: tuple[int, ...], verbose: bool) -> str:
        """``:INTEGRATE:STATE`` style path of this node (for response headers, IEEE 488.2 §8.7.2)."""
        parts: list[str] = []
        node: Node | None = self
        i = len(suffixes)
        while node is not None and node.parent is not None:
            word = node.long if verbose else node.short
            if node.suffix:
                i -= 1
                word += str(suffixes[i])
            parts.append(word)
            node = node.parent
        return ":" + ":".join(reversed(parts))


#: resolution of a header: entry, the header's own suffixes, the leaf (its parent is the next header path)
Resolution = tuple[Entry, tuple[int, ...], Node]


class Tree:
    """The command tree of one device class."""

    def __init__(self) -> None:
        self.root = Node("", "", False, None)
        self.common: dict[str, Entry] = {}
        self.cache: dict[tuple[Node, str], Resolution | tuple[int, str]] = {}

    # -- building -------------------------------------------------------------------------------
    def add(self, name: str, func: Callable[..., Any], decl: Declaration, rank: int, waits: bool) -> None:
        pat = decl.pattern
        _check_arity(func, pat.suffixes + len(decl.params), pat.text)
        if pat.common is not None:
            self._place(self.common, pat.common, Entry(name, func, decl, (), rank, waits))
            return
        optional = [i for i, k in enumerate(pat.keywords) if k.optional]
        for present_opt in itertools.product((True, False), repeat=len(optional)):
            absent = {i for i, here in zip(optional, present_opt, strict=True) if not here}
            node = self.root
            suffix_map: list[int] = []
            for i, kw in enumerate(pat.keywords):
                if i in absent:
                    if kw.suffix:
                        suffix_map.append(-1)
                    continue
                node = self._child(node, kw, pat.text)
                if kw.suffix:
                    suffix_map.append(node.nsuf - 1)
            if node is self.root:
                continue
            entry = Entry(name, func, decl, tuple(suffix_map), rank, waits)
            slot = "query" if pat.query else "command"
            old: Entry | None = getattr(node, slot)
            if old is not None and old.rank >= rank and old.name != name:
                raise ValueError(f"SCPI pattern {pat.text!r} collides with {old.pattern!r}")
            setattr(node, slot, entry)

    @staticmethod
    def _place(table: dict[str, Entry], key: str, entry: Entry) -> None:
        old = table.get(key)
        if old is not None and old.rank >= entry.rank and old.name != entry.name:
            raise ValueError(f"SCPI pattern {entry.pattern!r} collides with {old.pattern!r}")
        table[key] = entry

    @staticmethod
    def _child(node: Node, kw: Keyword, text: str) -> Node:
        child = node.children.get(kw.long)
        if child is None:
            for key in (kw.long, kw.short):
                if key in node.children:
                    raise ValueError(f"keyword {key} of pattern {text!r} is ambiguous at its level")
            child = Node(kw.long, kw.short, kw.suffix, node)
            node.children[kw.long] = child
            node.children[kw.short] = child
        elif child.short != kw.short or child.suffix != kw.suffix:
            raise ValueError(f"keyword {kw.long} of pattern {text!r} conflicts with an earlier declaration")
        return child

    # -- resolving ------------------------------------------------------------------------------
    def resolve(self, path: Node, header: str) -> Resolution:
        """Resolve ``header`` (query mark included) at ``path``; ScpiError if it names no handler."""
        key = (path, header)
        hit = self.cache.get(key)
        if hit is None:
            try:
                hit = self._resolve(path, header)
            except ScpiError as exc:
                hit = (exc.code, exc.message)
            if len(header) <= CACHE_MAX_HEADER:
                if len(self.cache) >= CACHE_LIMIT:
                    self.cache.clear()
                self.cache[key] = hit
        if len(hit) == 2:
            raise ScpiError(*hit)
        return hit

    def _resolve(self, path: Node, header: str) -> Resolution:
        query = header.endswith("?")
        h = header[:-1] if query else header
        node = path
        if h.startswith(":"):
            node = self.root
            h = h[1:]
        suffixes: list[int] = []
        for word in h.split(":"):
            m = _HEADER_KEYWORD.fullmatch(word)
            if m is None:
                raise ScpiError(-102, f"Syntax error;bad header {_printable(header)}")
            mnemonic = m.group(1).upper()
            if len(mnemonic) > MAX_MNEMONIC:
                raise ScpiError(-112)
            child = node.children.get(mnemonic)
            if child is None or (m.group(2) and not child.suffix):
                raise ScpiError(-113, f"Undefined header;{_printable(header)}")
            if child.suffix:
                suffixes.append(int(m.group(2)) if m.group(2) else 1)
            node = child
        entry = node.query if query else node.command
        if entry is None:
            if node.command is not None or node.query is not None:
                raise ScpiError(-100, "Command error;command only" if query else "Command error;query only")
            raise ScpiError(-113, f"Undefined header;{_printable(header)}")
        return entry, tuple(suffixes), node


def _printable(text: str, limit: int = 40) -> str:
    clean = "".join(ch if " " < ch < "\x7f" and ch != '"' else "?" for ch in text[:limit])
    return clean + ("..." if len(text) > limit else "")


def _check_arity(func: Callable[..., Any], n: int, pattern: str) -> None:
    """Fail at class creation, not at the first command, when a handler's signature does not fit."""
    try:
        inspect.signature(func).bind(None, *([None] * n))
    except TypeError as exc:
        raise TypeError(
            f"handler {getattr(func, '__qualname__', func)!r} for {pattern!r} must take self, "
            f"{n} suffix/parameter argument(s): {exc}"
        ) from None


def build_tree(cls: type) -> Tree:
    """Collect every declaration along the MRO (bases first) into a tree for ``cls``."""
    tree = Tree()
    for rank, klass in enumerate(reversed(cls.__mro__)):
        for name, attr in vars(klass).items():
            decls: list[Declaration] | None = getattr(attr, DECLARATIONS, None)
            if not decls or not callable(attr):
                continue
            func = getattr(cls, name)  # the most derived override, even if it is not decorated itself
            waits = bool(getattr(attr, WAITS, False))
            for decl in decls:
                tree.add(name, func, decl, rank, waits)
    return tree
