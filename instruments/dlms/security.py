"""Security suite 0: AES-128-GCM protection of xDLMS APDUs and HLS-GMAC authentication (IEC 62056-5-3:2017
9.2.7; Green Book ed. 9, 9.2.7.2 "cryptographic algorithms", 9.2.7.4 "HLS authentication with GMAC").

Ciphered APDU (glo-): tag, length, security header (security control byte SC, invocation counter IC, 4 octets),
then the ciphertext and a 12-octet tag. IV = system title of the sender (8 octets) ‖ IC; additional authenticated
data = SC ‖ authentication key (AK) ‖ (for authentication only: the plaintext). Status U in
reference/smart-functions.md for the IV and the tag length: kept honest by independent clients in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from instruments.dlms.axdr import encode_length

TAG_LENGTH = 12
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
SC_AUTHENTICATED_ENCRYPTED = 0x30
#: security suite id in the low nibble of SC (0: AES-GCM-128)
SUITE_0 = 0x00

#: the plain tag → its global-ciphering tag (Green Book 9.3: glo-get-request 200 …)
GLOBAL_TAGS = {0x01: 0x21, 0x08: 0x28, 0xC0: 0xC8, 0xC1: 0xC9, 0xC3: 0xCB, 0xC4: 0xCC, 0xC5: 0xCD, 0xC7: 0xCF,
               0xD8: 0xD8}
PLAIN_TAGS = {v: k for k, v in GLOBAL_TAGS.items() if k != 0xD8}


class SecurityError(ValueError):
    """A ciphered APDU that cannot be opened: wrong key or tag, replayed counter, bad header."""


@dataclass(frozen=True)
class Keys:
    """The keys of one association: global unicast encryption key (EK) and authentication key (AK)."""

    encryption: bytes
    authentication: bytes

    def __post_init__(self) -> None:
        for name, key in (("encryption", self.encryption), ("authentication", self.authentication)):
            if len(key) != 16:
                raise ValueError(f"the {name} key of suite 0 is 16 octets (AES-128), got {len(key)}")


def _iv(system_title: bytes, counter: int) -> bytes:
    if len(system_title) != 8:
        raise ValueError(f"a system title is 8 octets, got {len(system_title)}")
    if not 0 <= counter <= 0xFFFFFFFF:
        raise ValueError(f"invocation counter {counter} does not fit 4 octets")
    return system_title + counter.to_bytes(4, "big")


def _gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return ct, enc.tag[:TAG_LENGTH]


def _gcm_decrypt(key: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        plain: bytes = dec.update(ciphertext) + dec.finalize()
        return plain
    except InvalidTag:
        raise SecurityError("authentication tag does not match: wrong key or altered APDU") from None


def protect(plain: bytes, keys: Keys, system_title: bytes, counter: int, sc: int = SC_AUTHENTICATED_ENCRYPTED,
            tag: int | None = None) -> bytes:
    """The global-ciphered form of the APDU ``plain`` (its tag chooses the glo- tag unless ``tag`` is given)."""
    glo = tag if tag is not None else GLOBAL_TAGS.get(plain[0])
    if glo is None:
        raise ValueError(f"APDU tag {plain[0]:#04x} has no global-ciphered form")
    iv = _iv(system_title, counter)
    header = bytes([sc]) + counter.to_bytes(4, "big")
    if sc & 0xF0 == SC_AUTHENTICATED_ENCRYPTED:
        ct, mac = _gcm_encrypt(keys.encryption, iv, plain, bytes([sc]) + keys.authentication)
        body = ct + mac
    elif sc & 0xF0 == SC_AUTHENTICATED:
        _, mac = _gcm_encrypt(keys.encryption, iv, b"", bytes([sc]) + keys.authentication + plain)
        body = plain + mac
    elif sc & 0xF0 == SC_ENCRYPTED:
        enc = Cipher(algorithms.AES(keys.encryption), modes.GCM(iv)).encryptor()
        body = enc.update(plain) + enc.finalize()
    else:
        raise ValueError(f"security control {sc:#04x} protects nothing")
    payload = header + body
    return bytes([glo]) + encode_length(len(payload)) + payload


@dataclass(frozen=True)
class Opened:
    plain: bytes
    security_control: int
    invocation_counter: int


def unprotect(ciphered: bytes, keys: Keys, system_title: bytes) -> Opened:
    """Open a glo- APDU sent by the holder of ``system_title``; SecurityError names what is wrong.

    The caller checks the invocation counter against the last one it accepted (replay protection,
    IEC 62056-5-3 9.2.7.3)."""
    if len(ciphered) < 2:
        raise SecurityError("ciphered APDU truncated: no length")
    n = ciphered[1]
    start = 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(ciphered[2:2 + k], "big")
        start = 2 + k
    payload = ciphered[start:]
    if len(payload) != n:
        raise SecurityError(f"ciphered APDU length {n} but {len(payload)} octets follow")
    if n < 5:
        raise SecurityError("ciphered APDU truncated: no security header")
    sc, counter, body = payload[0], int.from_bytes(payload[1:5], "big"), payload[5:]
    if sc & 0x0F != SUITE_0:
        raise SecurityError(f"security suite {sc & 0x0F} is not supported (suite 0 only)")
    iv = _iv(system_title, counter)
    level = sc & 0xF0
    if level == SC_AUTHENTICATED_ENCRYPTED:
        if len(body) < TAG_LENGTH:
            raise SecurityError("ciphered APDU shorter than its tag")
        plain = _gcm_decrypt(keys.encryption, iv, body[:-TAG_LENGTH], body[-TAG_LENGTH:],
                             bytes([sc]) + keys.authentication)
    elif level == SC_AUTHENTICATED:
        if len(body) < TAG_LENGTH:
            raise SecurityError("authenticated APDU shorter than its tag")
        plain = body[:-TAG_LENGTH]
        _gcm_decrypt(keys.encryption, iv, b"", body[-TAG_LENGTH:], bytes([sc]) + keys.authentication + plain)
    elif level == SC_ENCRYPTED:
        dec = Cipher(algorithms.AES(keys.encryption), modes.GCM(iv)).decryptor()
        plain = dec.update(body)
    else:
        raise SecurityError(f"security control {sc:#04x}: neither authenticated nor encrypted")
    if not plain:
        raise SecurityError("ciphered APDU carries no APDU")
    return Opened(plain, sc, counter)


def gmac(keys: Keys, system_title: bytes, counter: int, challenge: bytes) -> bytes:
    """HLS-GMAC f(challenge) = SC ‖ IC ‖ GMAC(SC ‖ AK ‖ challenge) with IV = system title ‖ IC (Green Book
    9.2.7.4, mechanism 5); SC is 0x10 (authenticated, suite 0)."""
    _, mac = _gcm_encrypt(keys.encryption, _iv(system_title, counter), b"",
                          bytes([SC_AUTHENTICATED]) + keys.authentication + challenge)
    return bytes([SC_AUTHENTICATED]) + counter.to_bytes(4, "big") + mac


def check_gmac(keys: Keys, system_title: bytes, challenge: bytes, answer: bytes) -> int:
    """Verify the peer's f(challenge); returns its invocation counter. SecurityError if it does not hold."""
    if len(answer) != 5 + TAG_LENGTH or answer[0] != SC_AUTHENTICATED:
        raise SecurityError(f"HLS-GMAC answer must be 0x10 ‖ IC ‖ 12-octet tag, got {answer.hex().upper()}")
    counter = int.from_bytes(answer[1:5], "big")
    if gmac(keys, system_title, counter, challenge) != answer:
        raise SecurityError("HLS-GMAC answer does not match: wrong authentication key or challenge")
    return counter


GENERAL_GLO_CIPHERING = 0xDB


def protect_general(plain: bytes, keys: Keys, system_title: bytes, counter: int,
                    sc: int = SC_AUTHENTICATED_ENCRYPTED) -> bytes:
    """general-glo-ciphering (Green Book 9.3: tag 219, system-title, ciphered-content): any APDU, the sender's
    system title carried along."""
    inner = protect(plain, keys, system_title, counter, sc, tag=GENERAL_GLO_CIPHERING)
    content = inner[1:]  # length ‖ SC ‖ IC ‖ ciphertext ‖ tag, as a length-prefixed octet string
    return bytes([GENERAL_GLO_CIPHERING]) + encode_length(len(system_title)) + system_title + content


def unprotect_general(ciphered: bytes, keys: Keys) -> tuple[bytes, Opened]:
    """The sender's system title and the opened APDU of a general-glo-ciphering APDU."""
    if len(ciphered) < 3 or ciphered[0] != GENERAL_GLO_CIPHERING:
        raise SecurityError("not a general-glo-ciphering APDU")
    n = ciphered[1]
    if n != 8 or len(ciphered) < 2 + n:
        raise SecurityError(f"general-glo-ciphering: system title of {n} octets (8 expected)")
    title = ciphered[2:10]
    return title, unprotect(bytes([GENERAL_GLO_CIPHERING]) + ciphered[10:], keys, title)


def is_ciphered(apdu: bytes) -> bool:
    return bool(apdu) and (apdu[0] in PLAIN_TAGS or apdu[0] == GENERAL_GLO_CIPHERING)
