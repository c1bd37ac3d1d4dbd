"""``hil sts``: STS prepayment tokens (IEC 62055-41) for the lab — encode a token from its fields and keys, decode one
to its fields, derive a meter's decoder key (instruments/sts, docs/sts.md).

Bad input (a token of the wrong length or with a non-digit, a key of the wrong length, an amount beyond the range,
a TID before the base date …) prints one ``hil: error: …`` line naming the field and exits 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from instruments.sts import (
    BASE_DATES,
    DEFAULT_BASE_DATE,
    Token,
    TokenError,
    decode_token,
    derive_decoder_key,
    describe,
    encode_token,
    from_66_bits,
    from_tenths,
    group,
    key_change,
    key_hex,
    parse_decoder_key,
    parse_hex,
    parse_issued,
    parse_token,
    round_up,
    tenths,
    tid_from_datetime,
    token_type,
)
from instruments.sts.keys import KeyType
from instruments.sts.token import format_token

EXIT_BAD_INPUT = 2
Handler = Callable[[argparse.Namespace], int]


def _err(msg: str) -> int:
    print(f"hil: error: {msg}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def _warn(msg: str) -> None:
    print(f"hil: warning: {msg}", file=sys.stderr, flush=True)


def _int(text: str | None, option: str, default: int | None = None) -> int:
    """A whole number given as decimal or 0x-hex."""
    if text is None:
        if default is None:
            raise TokenError(option, "missing")
        return default
    s = text.strip().replace("_", "")
    try:
        return int(s[2:], 16) if s[:2].lower() == "0x" else int(s, 10)
    except ValueError:
        raise TokenError(option, f"{text!r} is not a whole number") from None


def _base_date(args: argparse.Namespace) -> int:
    year = _int(args.base_date, "--base-date", DEFAULT_BASE_DATE)
    if year not in BASE_DATES:
        raise TokenError("--base-date", f"{year} is not one of {', '.join(map(str, BASE_DATES))}")
    return year


def _decoder_key(args: argparse.Namespace, needed: bool) -> int | None:
    """The decoder key: given (``--decoder-key``) or derived from the vending key and the meter's key data."""
    derive = {"--sgc": args.sgc, "--ti": args.ti, "--krn": args.krn, "--pan": args.pan}
    if args.decoder_key is not None:
        if args.vending_key is not None:
            raise TokenError("--decoder-key", "give the decoder key or the vending key to derive it, not both")
        return parse_decoder_key(args.decoder_key)
    if args.vending_key is None:
        if needed:
            raise TokenError("decoder key", "this token is encrypted: give --decoder-key HEX, or --vending-key HEX "
                                            "--sgc N --ti N --krn N --pan DIGITS to derive it")
        return None
    missing = [k for k, v in derive.items() if v is None]
    if missing:
        raise TokenError("--vending-key", f"deriving the decoder key also needs {', '.join(missing)}")
    vending_key = parse_hex(args.vending_key, (8, 20), "vending key")
    dkga = None if args.dkga is None else _int(args.dkga, "--dkga")
    return derive_decoder_key(vending_key, args.pan, args.sgc, _int(args.ti, "--ti"), _int(args.krn, "--krn"),
                              _int(args.key_type, "--key-type", int(KeyType.DUTK)), _base_date(args), dkga)


#: token-field options of ``hil sts encode`` and the field each sets
_VALUE_OPTIONS = {"register": "--register", "rate": "--rate", "pad": "--pad", "water_factor": "--water-factor"}


def _issued(args: argparse.Namespace) -> dt.datetime:
    if args.issued is None:
        return dt.datetime.now(dt.UTC)
    return parse_issued(args.issued)


def _amount_field(args: argparse.Namespace, token_class: int, name: str, unit: str) -> int:
    if args.amount is None:
        raise TokenError("--amount", f"missing: the token's amount in {unit}")
    if token_class == 0:
        return tenths(args.amount, "amount", unit)
    try:
        value = Decimal(args.amount.strip())
    except InvalidOperation:
        raise TokenError("amount", f"{args.amount!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise TokenError("amount", f"{args.amount} {unit}: a {name} is a whole number of {unit}")
    return int(value)


def _token_from_args(args: argparse.Namespace) -> tuple[Token, list[str]]:
    """The token the options describe, and the options it used (the others must not be given)."""
    token_class = _int(args.token_class, "--class", 0)
    subclass = _int(args.subclass, "--subclass", 0)
    t = token_type(token_class, subclass)
    used = ["--class", "--subclass"]
    fields: dict[str, int] = {}
    if t.has_tid:
        random = _int(args.random, "--random", secrets.randbelow(16))
        if not 0 <= random <= 15:
            raise TokenError("random", f"{random} is beyond the 4-bit range 0 … 15")
        fields["random"] = random
        fields["tid"] = tid_from_datetime(_issued(args), _base_date(args))
        used += ["--random", "--issued"]
        last = t.fields[-1]
        if last.amount:
            fields[last.name] = _amount_field(args, token_class, last.description, t.unit or last.unit)
            used.append("--amount")
        else:
            option = _VALUE_OPTIONS[last.name]
            given = getattr(args, last.name)
            fields[last.name] = _int(given, option, 0 if last.name == "pad" else None)
            used.append(option)
    elif token_class == 1:
        fields["control"] = _int(args.control, "--control")
        fields["manufacturer_code"] = _int(args.manufacturer_code, "--manufacturer-code")
        used += ["--control", "--manufacturer-code"]
    else:  # key change, 1st or 2nd section
        if args.new_decoder_key is None:
            raise TokenError("--new-decoder-key", f"missing: {t.name} tokens carry part of the new decoder key")
        new_key = parse_decoder_key(args.new_decoder_key)
        ken = _int(args.new_ken, "--new-ken", 255)
        if subclass == 3:
            first, _ = key_change(new_key, krn=_int(args.new_krn, "--new-krn"), ken=ken, rollover=args.rollover,
                                  key_type=_int(args.new_key_type, "--new-key-type", int(KeyType.DUTK)),
                                  tariff_index=0)
            used += ["--new-decoder-key", "--new-ken", "--new-krn", "--new-key-type", "--rollover"]
            return first, used
        _, second = key_change(new_key, krn=1, key_type=int(KeyType.DUTK), ken=ken,
                               tariff_index=_int(args.new_ti, "--new-ti"))
        used += ["--new-decoder-key", "--new-ken", "--new-ti"]
        return second, used
    return Token(token_class, subclass, fields), used


_FIELD_OPTIONS = {
    "--amount": "amount", "--issued": "issued", "--random": "random", "--register": "register", "--rate": "rate",
    "--pad": "pad", "--water-factor": "water_factor", "--control": "control",
    "--manufacturer-code": "manufacturer_code", "--new-decoder-key": "new_decoder_key", "--new-ken": "new_ken",
    "--new-krn": "new_krn", "--new-key-type": "new_key_type", "--new-ti": "new_ti", "--rollover": "rollover",
}


def cmd_encode(args: argparse.Namespace) -> int:
    token, used = _token_from_args(args)
    t = token.type
    stray = [opt for opt, dest in _FIELD_OPTIONS.items()
             if opt not in used and getattr(args, dest) not in (None, False)]
    if stray:
        raise TokenError(stray[0], f"does not apply to {t.name} tokens (class {t.token_class} subclass "
                                   f"{t.subclass})")
    key = _decoder_key(args, needed=t.encrypted)
    digits = encode_token(token, key, key_expiry=_int(args.ken, "--ken", 255))
    for f in t.fields:
        if f.amount and round_up(token.fields[f.name]) != token.fields[f.name]:
            given, carried = token.fields[f.name], round_up(token.fields[f.name])
            if token.token_class == 0:
                _warn(f"amount {from_tenths(given)} {t.unit} is not representable: the token carries "
                      f"{from_tenths(carried)} {t.unit} (rounded up in favour of the customer, IEC 62055-41)")
            else:
                _warn(f"{f.description} {given} W is not representable: the token carries {carried} W (rounded up)")
    if args.json:
        out: dict[str, Any] = {"token": digits, "grouped": group(digits),
                               **describe(decode_token(digits, key), _base_date(args))}
        if key is not None:
            out["decoder_key"] = key_hex(key)
        print(json.dumps(out, indent=2))
    else:
        print(digits)
    return 0


def _print_decoded(digits: str, info: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = [("token", f"{group(digits)}  valid"),
                                   ("class", f"{info['class']} {info['class_name']}"),
                                   ("subclass", f"{info['subclass']} {info['type']}")]
    for name, value in info["fields"].items():
        text = str(value)
        if name == "tid":
            text = f"{value} min ({info['issued']}, base date {info['base_date']})"
        elif name == "amount":
            text = f"{info['amount']:g} {info['unit']}"
        elif name in ("max_power", "max_phase_unbalance"):
            text = f"{value} W"
        elif name in ("control", "register"):
            text = f"{value} (0x{value:x})"
        rows.append((name, text))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")


def cmd_decode(args: argparse.Namespace) -> int:
    base_date = _base_date(args)
    try:
        number = parse_token(args.token)
        key = _decoder_key(args, needed=from_66_bits(number)[0] in (0, 2))
        token = decode_token(number, key)
    except TokenError as exc:
        if args.json and exc.field in ("token", "class", "subclass"):
            print(json.dumps({"token": args.token, "valid": False, "error": str(exc)}, indent=2))
        raise
    digits = format_token(number)
    info = describe(token, base_date)
    if args.json:
        print(json.dumps({"token": digits, "valid": True, **info}, indent=2))
    else:
        _print_decoded(digits, info)
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    key = _decoder_key(args, needed=True)
    assert key is not None
    print(json.dumps({"decoder_key": key_hex(key)}) if args.json else key_hex(key))
    return 0


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except TokenError as exc:
            return _err(str(exc))

    return run


def _key_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("decoder key (give it, or derive it from the vending key)")
    g.add_argument("--decoder-key", metavar="HEX", help="the meter's 64-bit decoder key, 16 hex digits")
    g.add_argument("--vending-key", metavar="HEX", help="vending key: 16 hex digits (DKGA02) or 40 (DKGA04)")
    g.add_argument("--sgc", metavar="N", help="supply group code, 6 digits")
    g.add_argument("--ti", metavar="N", help="tariff index, 0 … 99")
    g.add_argument("--krn", metavar="N", help="key revision number, 1 … 9")
    g.add_argument("--pan", metavar="DIGITS", help="meter PAN: IIN, IAIN and check digit, 18 digits (17 without)")
    g.add_argument("--key-type", metavar="N", help="key type 0 … 3 (default 2, unique)")
    g.add_argument("--dkga", metavar="N", help="decoder key generation algorithm 2 or 4 (default by the vending key's"
                                               " length: 8 bytes 2, 20 bytes 4)")
    g.add_argument("--base-date", metavar="YEAR", help=f"the key's base date, one of "
                   f"{', '.join(map(str, BASE_DATES))} (default {DEFAULT_BASE_DATE}); the TID counts from it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def add_sts_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sts`` and its subcommands to the ``hil`` subparsers ``sub``."""
    keys = _key_options()
    sts = sub.add_parser("sts", help="STS prepayment tokens (IEC 62055-41): encode, decode, derive a decoder key",
                         description="STS prepayment tokens (IEC 62055-41): 20-digit tokens of classes 0, 1 and 2, "
                                     "STA (EA07) encryption, decoder keys by DKGA02/DKGA04. See docs/sts.md.")
    ssub = sts.add_subparsers(dest="sts_command", required=True, metavar="COMMAND")

    e = ssub.add_parser("encode", parents=[keys], help="print the 20 digits of a token from its fields and keys",
                        description="Print the 20 digits of a token from its fields and the decoder key.",
                        epilog="example: hil sts encode --class 0 --amount 25.6 --issued 2004-04-01T00:30 "
                               "--random 5 --base-date 1993 --vending-key abababababababab --sgc 123456 --ti 1 "
                               "--krn 1 --pan 600727000000000009")
    f = e.add_argument_group("token fields")
    f.add_argument("--class", dest="token_class", metavar="N", help="token class 0, 1 or 2 (default 0)")
    f.add_argument("--subclass", metavar="N", help="subclass (default 0: class 0 electricity)")
    f.add_argument("--amount", metavar="VALUE", help="class 0: credit in kWh (0.1 kWh resolution, rounded up to "
                                                     "the amount coding); class 2 subclass 0 and 6: limit in W")
    f.add_argument("--issued", metavar="ISO-8601", help="issue date-time, the TID (default: now, UTC)")
    f.add_argument("--random", metavar="N", help="random number 0 … 15 (default: a random one)")
    f.add_argument("--register", metavar="N", help="class 2 subclass 1 (ClearCredit): register to clear, 0xFFFF all")
    f.add_argument("--rate", metavar="N", help="class 2 subclass 2 (SetTariffRate): the 16-bit rate")
    f.add_argument("--pad", metavar="N", help="class 2 subclass 5 (ClearTamperCondition): pad (default 0)")
    f.add_argument("--water-factor", metavar="N", help="class 2 subclass 7 (SetWaterMeterFactor): the 16-bit factor")
    f.add_argument("--control", metavar="N", help="class 1: the test/display control bits (decimal or 0x…)")
    f.add_argument("--manufacturer-code", metavar="N", help="class 1: manufacturer code (subclass 0: 2 digits, "
                                                            "subclass 1: 4 digits)")
    f.add_argument("--ken", metavar="N", help="key expiry number of the decoder key: a TID past it is refused "
                                              "(default 255, never)")
    k = e.add_argument_group("key change (class 2 subclass 3: 1st section, 4: 2nd section)")
    k.add_argument("--new-decoder-key", metavar="HEX", help="the new decoder key, 16 hex digits")
    k.add_argument("--new-krn", metavar="N", help="1st section: key revision number of the new key")
    k.add_argument("--new-key-type", metavar="N", help="1st section: key type of the new key (default 2)")
    k.add_argument("--rollover", action="store_true", help="1st section: rollover key change (new base date)")
    k.add_argument("--new-ti", metavar="N", help="2nd section: tariff index of the new key")
    k.add_argument("--new-ken", metavar="N", help="key expiry number of the new key (default 255)")
    e.set_defaults(func=_guarded(cmd_encode))

    d = ssub.add_parser("decode", parents=[keys], help="print the fields of a token, or why it is invalid",
                        description="Print the fields of a 20-digit token (classes 0 and 2 need the decoder key), "
                                    "or why it is invalid.",
                        epilog="example: hil sts decode 23716100501183194197 --base-date 1993 --vending-key "
                               "abababababababab --sgc 123456 --ti 1 --krn 1 --pan 600727000000000009")
    d.add_argument("token", metavar="TOKEN", help="the 20 digits (groups separated by - or spaces allowed)")
    d.set_defaults(func=_guarded(cmd_decode))

    kk = ssub.add_parser("key", parents=[keys], help="print a meter's decoder key derived from the vending key",
                         description="Print the 64-bit decoder key (16 hex digits) DKGA02/DKGA04 derive.")
    kk.set_defaults(func=_guarded(cmd_key))
