"""Decoder keys: key types, the meter PAN, and the decoder key generation algorithms DKGA02 and DKGA04.

A decoder key is a 64-bit number (STA, EA07); as text it is 16 hex digits, most significant first — the order in
which DKGA02's DES output and DKGA04's HMAC output come, and in which a key change token splits it into its high
(NKHO) and low (NKLO) 32 bits. (NectarAPI/tokens-service keeps keys byte-reversed internally: its test prints the
CTSA01 key as 6ff35b9d1f3453e6, which is e653341f9d5bf36f here.)

DKGA02 (64-bit DES vending key):

    PANBlock   = the 16 digits of IIN ‖ IAIN without the first digit, i.e. PAN digits 2 … 17 (no check digit);
                 for key type 3 (common) the IAIN digits are zeros
    CTLBlock   = KT ‖ SGC (6 digits) ‖ TI (2) ‖ KRN (1) ‖ FFFFFF          (16 hex digits)
    D          = PANBlock ⊕ CTLBlock                                      (digits read as hex nibbles)
    DecoderKey = DES_VK(D) ⊕ D ⊕ VK                                       (single DES, ECB)

DKGA04 (HMAC-SHA-256 with the vending key, 160 bits in the public vectors): the decoder key is the first 64 bits of
HMAC(VK, data), data = a length-prefixed list of the DKGA code "04", base date ("93"/"14"/"35"), EA code "07",
TI, then (after a 00 byte) SGC, KT, KRN and the 18-digit PAN, then the key length in bits (00000040) — the
arrangement that reproduces the published CTSA24/CTSA25/CTSA26 vectors.

The PAN (meter number) is IIN ‖ IAIN ‖ Luhn check digit, 18 digits: IIN 600727 with an 11-digit IAIN, or IIN 0000
with a 13-digit IAIN.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re

from instruments.sts.errors import TokenError
from instruments.sts.tid import base_datetime

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # cryptography < 43
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore[no-redef,unused-ignore]
from cryptography.hazmat.primitives.ciphers import Cipher, modes

DECODER_KEY_BYTES = 8
DKGA02_VENDING_KEY_BYTES = 8
DKGA04_VENDING_KEY_BYTES = 20
LEGACY_IIN = "600727"


class KeyType(enum.IntEnum):
    """KT: the decoder key's type (IEC 62055-41 6.1.6)."""

    DITK = 0  # initialisation
    DDTK = 1  # default
    DUTK = 2  # unique
    DCTK = 3  # common


_HEX = re.compile(r"[0-9a-fA-F]*")


def parse_hex(text: str, nbytes: int | tuple[int, ...], what: str) -> bytes:
    """A key given as hex digits (spaces, ``:`` and ``-`` between groups allowed, ``0x`` prefix allowed)."""
    digits = re.sub(r"[\s:-]", "", text)
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if not _HEX.fullmatch(digits):
        raise TokenError(what, f"{text!r} is not hexadecimal")
    sizes = (nbytes,) if isinstance(nbytes, int) else nbytes
    if len(digits) not in {2 * n for n in sizes}:
        want = " or ".join(f"{2 * n} hex digits ({8 * n} bits)" for n in sizes)
        raise TokenError(what, f"{len(digits)} hex digits, a key has {want}")
    return bytes.fromhex(digits)


def parse_decoder_key(text: str) -> int:
    """A 64-bit decoder key from 16 hex digits (most significant first)."""
    return int.from_bytes(parse_hex(text, DECODER_KEY_BYTES, "decoder key"), "big")


def key_hex(key: int) -> str:
    return f"{key:016x}"


def luhn_digit(digits: str) -> int:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return -total % 10


def parse_pan(text: str) -> str:
    """The 18-digit meter PAN; 17 digits get their Luhn check digit appended, 18 digits must carry the right one."""
    pan = re.sub(r"[\s-]", "", text)
    if not pan.isdigit() or not pan.isascii():
        raise TokenError("pan", f"{text!r} is not a string of digits")
    if len(pan) == 17:
        return pan + str(luhn_digit(pan))
    if len(pan) != 18:
        raise TokenError("pan", f"{len(pan)} digits, a meter PAN has 18 (IIN, IAIN and check digit) or 17 "
                                "(without the check digit)")
    want = luhn_digit(pan[:17])
    if int(pan[17]) != want:
        raise TokenError("pan", f"{pan}: the check digit is {pan[17]}, the Luhn check digit of {pan[:17]} is {want}")
    return pan


def make_pan(iin: str, drn: str) -> str:
    """The PAN of IIN and DRN (the decoder reference number: 11 digits after IIN 600727, 13 after 0000) with its
    Luhn check digit."""
    width = {LEGACY_IIN: 11, "0000": 13}.get(iin)
    if width is None:
        raise TokenError("iin", f"{iin!r} is not an STS IIN (600727 or 0000)")
    if not (drn.isascii() and drn.isdigit() and len(drn) == width):
        raise TokenError("drn", f"IIN {iin} takes a decoder reference number of {width} digits, got {drn!r}")
    return iin + drn + str(luhn_digit(iin + drn))


def _key_type(key_type: int) -> KeyType:
    try:
        return KeyType(key_type)
    except ValueError:
        raise TokenError("key type", f"{key_type} is not 0 … 3 (0 DITK, 1 DDTK, 2 DUTK, 3 DCTK)") from None


def _sgc(sgc: str | int) -> str:
    text = f"{sgc:06d}" if isinstance(sgc, int) and not isinstance(sgc, bool) and sgc >= 0 else str(sgc).strip()
    if not (text.isascii() and text.isdigit() and len(text) == 6):
        raise TokenError("sgc", f"{sgc!r} is not a 6-digit supply group code")
    return text


def _ti(ti: int) -> int:
    if isinstance(ti, bool) or not isinstance(ti, int) or not 0 <= ti <= 99:
        raise TokenError("ti", f"{ti!r} is not a tariff index 0 … 99")
    return ti


def _krn(krn: int) -> int:
    if isinstance(krn, bool) or not isinstance(krn, int) or not 1 <= krn <= 9:
        raise TokenError("krn", f"{krn!r} is not a key revision number 1 … 9")
    return krn


def pan_block(pan: str, key_type: int = KeyType.DUTK) -> str:
    """The 16-digit PANBlock of DKGA02."""
    pan = parse_pan(pan)
    block = pan[1:17]
    if _key_type(key_type) is KeyType.DCTK:  # common key: the IIN alone (U: no public vector)
        keep = 5 if pan.startswith(LEGACY_IIN) else 3
        block = block[:keep] + "0" * (16 - keep)
    return block


def control_block(key_type: int, sgc: str | int, ti: int, krn: int) -> str:
    """The 16-hex-digit CTLBlock of DKGA02."""
    return f"{int(_key_type(key_type))}{_sgc(sgc)}{_ti(ti):02d}{_krn(krn)}FFFFFF"


def _des_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # K1 = K2 = K3: single DES
    return enc.update(block) + enc.finalize()


def dkga02(vending_key: bytes, pan: str, sgc: str | int, ti: int, krn: int, key_type: int = KeyType.DUTK) -> int:
    """The decoder key for the meter ``pan`` (DecoderKeyGenerationAlgorithm02, 64-bit DES vending key)."""
    if len(vending_key) != DKGA02_VENDING_KEY_BYTES:
        raise TokenError("vending key", f"{len(vending_key)} bytes, DKGA02 takes an 8-byte (64-bit) DES key")
    data = bytes.fromhex(pan_block(pan, key_type))
    data = bytes(a ^ b for a, b in zip(data, bytes.fromhex(control_block(key_type, sgc, ti, krn)), strict=True))
    out = bytes(e ^ d ^ v for e, d, v in zip(_des_encrypt(vending_key, data), data, vending_key, strict=True))
    return int.from_bytes(out, "big")


def _item(text: str) -> bytes:
    raw = text.encode("ascii")
    return bytes([len(raw)]) + raw


def dkga04(vending_key: bytes, pan: str, sgc: str | int, ti: int, krn: int, key_type: int = KeyType.DUTK,
           base_date: int = 1993) -> int:
    """The 64-bit STA decoder key by DecoderKeyGenerationAlgorithm04 (HMAC-SHA-256 of the vending key)."""
    if not vending_key:
        raise TokenError("vending key", "empty")
    base_datetime(base_date)
    label = bytes([4]) + _item("04") + _item(f"{base_date % 100:02d}") + _item("07") + _item(f"{_ti(ti):02d}")
    context = (bytes([4]) + _item(_sgc(sgc)) + _item(f"{int(_key_type(key_type)):x}") + _item(f"{_krn(krn):x}")
               + _item(parse_pan(pan)))
    data = label + b"\x00" + context + (64).to_bytes(4, "big")
    return int.from_bytes(hmac.new(vending_key, data, hashlib.sha256).digest()[:DECODER_KEY_BYTES], "big")


def derive_decoder_key(vending_key: bytes, pan: str, sgc: str | int, ti: int, krn: int,
                       key_type: int = KeyType.DUTK, base_date: int = 1993, dkga: int | None = None) -> int:
    """DKGA02 for an 8-byte vending key, DKGA04 for a 20-byte one (or as ``dkga`` says)."""
    if dkga is None:
        dkga = 2 if len(vending_key) == DKGA02_VENDING_KEY_BYTES else 4
    if dkga == 2:
        return dkga02(vending_key, pan, sgc, ti, krn, key_type)
    if dkga == 4:
        return dkga04(vending_key, pan, sgc, ti, krn, key_type, base_date)
    raise TokenError("dkga", f"{dkga} is not a supported decoder key generation algorithm (2 or 4)")
