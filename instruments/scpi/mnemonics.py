"""Mnemonics in manual notation (SCPI-1999 Vol. 1 §6.2.1): the upper-case part is the short form."""

from __future__ import annotations


def short_form(mnemonic: str) -> str:
    """Leading upper-case part, upper-cased (digits and '_' count with it): ``NORMal`` → ``NORM``,
    ``LAMBda`` → ``LAMB``; a mnemonic without lower-case letters (or starting with one) is its own short form."""
    for i, ch in enumerate(mnemonic):
        if ch.islower():
            return mnemonic[:i].upper() if i else mnemonic.upper()
    return mnemonic.upper()
