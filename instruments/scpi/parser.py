"""Lexical layer: program message → message units → header and data elements (IEEE 488.2 §7.3–7.7).

Separators inside strings ('..' / "..") and parenthesised expressions (channel lists ``(@1,2)``) do not split.
Plain messages without quotes or parentheses take the fast path of ``str.split``.
"""

from __future__ import annotations

from instruments.scpi.errors import ScpiError

_OPENERS = "\"'("


def _needs_scan(text: str) -> bool:
    return '"' in text or "'" in text or "(" in text


def split_outside(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` except inside strings and parentheses ; unterminated: to the end."""
    if not _needs_scan(text):
        return text.split(sep)
    parts: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = text.find(c, i + 1)
            while j != -1 and j + 1 < n and text[j + 1] == c:  # doubled quote inside a string
                j = text.find(c, j + 2)
            if j == -1:
                break
            i = j + 1
            continue
        if c == "(":
            j = text.find(")", i + 1)
            if j == -1:
                break
            i = j + 1
            continue
        if c == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def split_units(message: str) -> list[str]:
    """Message units of one program message (separator ';', §7.3.3)."""
    return split_outside(message, ";")


def split_unit(unit: str) -> tuple[str, str]:
    """(header, data text) of one message unit; header separated from its data by white space (§7.4.3)."""
    parts = unit.split(None, 1)
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return parts[0], parts[1]


def split_data(text: str) -> list[str]:
    """Program data elements (separator ',', §7.4.2), stripped; -102 for an empty element."""
    if "," not in text:
        token = text.strip()
        return [token] if token else []
    tokens = [t.strip() for t in split_outside(text, ",")]
    if not all(tokens):
        raise ScpiError(-102, "Syntax error;empty parameter")
    return tokens


def contains_query(message: str) -> bool:
    """Whether any unit of ``message`` is a query (its header ends in '?')."""
    return any(split_unit(unit)[0].endswith("?") for unit in split_units(message))
