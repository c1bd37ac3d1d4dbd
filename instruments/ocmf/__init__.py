"""OCMF (Open Charge Metering Format, S.A.F.E. e.V.): signed meter readings of charging-station meters, pure.

A record is ``OCMF|{payload}|{signature}``: the payload is a JSON object (meter identity, pagination, identification,
readings ``RD``), the signature a JSON object with the algorithm ``SA``, encoding ``SE``, mime type ``SM`` and the
signature data ``SD``. The signature is ECDSA (here secp256r1 with SHA-256, the common choice) over the payload's
bytes exactly as they stand between the pipes, DER-encoded and written as hex.

Shared by the simulated charging-station meters and the ``ocmf_transaction`` kind; imports nothing from the bench
(like the STS codec ``instruments.sts``).
"""

from instruments.ocmf.codec import (
    SIGNATURE_ALGORITHM,
    OcmfError,
    OcmfRecord,
    Reading,
    generate_key,
    parse,
    public_key_hex,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_ALGORITHM",
    "OcmfError",
    "OcmfRecord",
    "Reading",
    "generate_key",
    "parse",
    "public_key_hex",
    "sign",
    "verify",
]
