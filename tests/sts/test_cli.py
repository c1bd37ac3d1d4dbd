"""``hil sts encode|decode|key`` as a lab runs them (a subprocess of the installed ``hil``): the published vectors
from the command line, and bad input as one ``hil: error: …`` line with exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hil.cli import main

_HIL = Path(sys.executable).with_name("hil")
HIL = [str(_HIL)] if _HIL.exists() else [sys.executable, "-m", "hil.cli"]

# CTSA setup (NectarAPI/tokens-service STS 531 compliance tests, see test_vectors.py)
DERIVE = ["--vending-key", "abababababababab", "--sgc", "123456", "--ti", "1", "--krn", "1",
          "--pan", "600727000000000009", "--base-date", "1993"]
KEY = "e653341f9d5bf36f"  # CTSA01's decoder key


def hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HIL, "sts", *args], capture_output=True, text=True, timeout=60)


def ok(*args: str) -> str:
    p = hil(*args)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_encode_ctsa01_step1_from_the_vending_key() -> None:
    p = hil("encode", "--class", "0", "--subclass", "0", "--amount", "0.1", "--issued", "2004-03-01T13:55",
            "--random", "5", *DERIVE)
    assert (p.returncode, p.stdout, p.stderr) == (0, "23716100501183194197\n", "")


def test_encode_with_the_decoder_key_and_json() -> None:
    out = json.loads(ok("encode", "--amount", "25.6", "--issued", "2004-04-01 00:30:00", "--random", "5",
                        "--decoder-key", KEY, "--base-date", "1993", "--json"))
    assert out["token"] == "26456622012185850752"  # CTSA10 step1
    assert out["grouped"] == "2645-6622-0121-8585-0752"
    assert (out["amount"], out["unit"], out["issued"], out["decoder_key"]) == (25.6, "kWh", "2004-04-01T00:30", KEY)


def test_derived_key() -> None:
    assert ok("key", *DERIVE) == f"{KEY}\n"
    assert json.loads(ok("key", *DERIVE, "--json")) == {"decoder_key": KEY}


def test_decode_prints_the_fields() -> None:
    out = ok("decode", "2371-6100-5011-8319-4197", *DERIVE)
    assert "0 TransferCredit" in out and "TransferCredit Electricity" in out
    assert "5871715 min (2004-03-01T13:55, base date 1993)" in out
    assert "0.1 kWh" in out and "valid" in out


def test_decode_json() -> None:
    out = json.loads(ok("decode", "23716100501183194197", "--decoder-key", KEY, "--base-date", "1993", "--json"))
    assert out["valid"] is True
    assert (out["class"], out["subclass"], out["fields"]) == (0, 0, {"random": 5, "tid": 5871715, "amount": 1})
    assert (out["amount"], out["issued"]) == (0.1, "2004-03-01T13:55")


def test_an_amount_between_representable_values_is_rounded_up_with_a_warning() -> None:
    p = hil("encode", "--amount", "18022.3", "--issued", "2004-04-01T00:50", "--random", "5", *DERIVE)
    assert p.returncode == 0 and p.stdout == "58589277912776864555\n"  # CTSA10 step5
    assert p.stderr.startswith("hil: warning: amount 18022.3 kWh is not representable") and "18022.4 kWh" in p.stderr


def test_class_1_needs_no_key() -> None:
    assert ok("encode", "--class", "1", "--subclass", "0", "--control", "0xFFFFFFFFF",
              "--manufacturer-code", "0") == "56493153725450313471\n"  # CTSA02 step1
    out = json.loads(ok("decode", "01152921509036054672", "--json"))  # CTSA11 step1, 4-digit code
    assert (out["class"], out["subclass"], out["fields"]) == (1, 1, {"control": 1, "manufacturer_code": 0})


def test_management_and_key_change_tokens() -> None:
    assert ok("encode", "--class", "2", "--subclass", "0", "--amount", "1000", "--issued", "2004-03-28T09:01",
              "--random", "5", *DERIVE) == "50901894209860263092\n"  # CTSA03
    assert ok("encode", "--class", "2", "--subclass", "1", "--register", "0xFFFF", "--issued", "2004-03-28T09:15",
              "--random", "5", *DERIVE) == "29511990995826640868\n"  # CTSA04 step1
    assert ok("encode", "--class", "2", "--subclass", "5", "--issued", "2004-03-28T10:00", "--random", "5",
              *DERIVE) == "37037300014464855694\n"  # CTSA06
    new = ok("key", *DERIVE[:4], "--ti", "2", *DERIVE[6:]).strip()
    change = ["--decoder-key", KEY, "--new-decoder-key", new, "--new-ken", "255"]
    assert ok("encode", "--class", "2", "--subclass", "3", *change, "--new-krn", "1",
              "--new-key-type", "2") == "51638423060042734509\n"  # CTSA05 step1, 1st section
    assert ok("encode", "--class", "2", "--subclass", "4", *change, "--new-ti", "2") == "15361891762113502242\n"
    out = json.loads(ok("decode", "15361891762113502242", "--decoder-key", KEY, "--json"))
    assert out["fields"] == {"ken_low": 15, "tariff_index": 2, "new_key_low": new[8:]}


def test_dkga04_and_base_date_2014() -> None:
    assert ok("encode", "--amount", "0.1", "--issued", "2014-01-01T08:00", "--random", "5",
              "--vending-key", "abababababababab949494949494949401234567", "--sgc", "123457", "--ti", "1",
              "--krn", "4", "--pan", "600727000000000009", "--base-date", "2014") == "20324881626382980759\n"  # CTSA25


BAD = [
    (["decode", "2371610050118319419", "--decoder-key", KEY], "token: 19 digits, a token has 20"),
    (["decode", "237161005011831941977", "--decoder-key", KEY], "token: 21 digits"),
    (["decode", "2371610050118319419x", "--decoder-key", KEY], "token: '2371610050118319419x' has a non-digit 'x'"),
    (["decode", "99999999999999999999", "--decoder-key", KEY], "token: 99999999999999999999 is beyond 66 bits"),
    (["decode", "23716100501183194197", "--decoder-key", "0123456789abcdef"], "token: CRC mismatch"),
    (["decode", "23716100501183194197"], "decoder key: this token is encrypted"),
    (["decode", "23716100501183194197", "--decoder-key", "e653341f9d5bf36"], "decoder key: 15 hex digits"),
    (["decode", "23716100501183194197", "--decoder-key", "e653341f9d5bf36fgg"], "decoder key: 'e653341f9d5bf36fgg' "
                                                                                 "is not hexadecimal"),
    (["encode", "--amount", "1", "--decoder-key", "00"], "decoder key: 2 hex digits, a key has 16"),
    (["encode", "--amount", "1", "--vending-key", "abababab", "--sgc", "123456", "--ti", "1", "--krn", "1",
      "--pan", "600727000000000009"], "vending key: 8 hex digits, a key has 16 hex digits (64 bits) or 40"),
    (["encode", "--amount", "1820162.5", "--issued", "2004-01-01", *DERIVE],
     "amount: 1820162.5 kWh is beyond the range 0 … 1820162.4 kWh"),
    (["encode", "--amount", "-1", "--issued", "2004-01-01", *DERIVE], "amount: -1 kWh is negative"),
    (["encode", "--amount", "0.05", "--issued", "2004-01-01", *DERIVE], "amount: 0.05 kWh is not a multiple"),
    (["encode", "--amount", "ten", "--issued", "2004-01-01", *DERIVE], "amount: 'ten' is not a number"),
    (["encode", "--class", "2", "--amount", "18201625", "--issued", "2004-01-01", *DERIVE],
     "max_power: 18201625 W is beyond the range 0 … 18201624 W"),
    (["encode", "--amount", "1", "--issued", "1992-12-31T23:59", *DERIVE],
     "issued: 1992-12-31T23:59 is before the base date 1993-01-01"),
    (["encode", "--amount", "1", "--issued", "2010-05-01T10:00", "--decoder-key", KEY],
     "issued: 2010-05-01T10:00 is before the base date 2014-01-01 (--base-date 2014)"),
    (["encode", "--amount", "1", "--issued", "2024-11-24T20:16", *DERIVE], "issued: 2024-11-24T20:16 is beyond the "
                                                                          "24-bit TID of base date 1993"),
    (["encode", "--amount", "1", "--issued", "yesterday", *DERIVE], "issued: 'yesterday' is not an ISO-8601"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", "--base-date", "1993"], "decoder key: this token is "
                                                                                   "encrypted"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", "--base-date", "1993", "--vending-key",
      "abababababababab"],
     "--vending-key: deriving the decoder key also needs --sgc, --ti, --krn, --pan"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", *DERIVE[:8], "--pan", "600727000000000008", *DERIVE[10:]],
     "pan: 600727000000000008: the check digit is 8, the Luhn check digit of 60072700000000000 is 9"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", *DERIVE[:8], "--pan", "6007270000", *DERIVE[10:]],
     "pan: 10 digits"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", *DERIVE[:2], "--sgc", "12345", *DERIVE[4:]],
     "sgc: '12345' is not a 6-digit supply group code"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", "--random", "16", *DERIVE], "random: 16 is beyond"),
    (["encode", "--class", "3"], "class: class 3 is reserved"),
    (["encode", "--class", "0", "--subclass", "4"], "subclass: class 0 subclass 4, TransferCredit Electricity "
                                                    "currency"),
    (["encode", "--class", "2", "--subclass", "12"], "subclass: class 2 has no subclass 12"),
    (["encode", "--amount", "1", "--register", "1", "--issued", "2004-01-01", *DERIVE],
     "--register: does not apply to TransferCredit Electricity tokens"),
    (["encode", "--class", "1", "--control", "1", "--manufacturer-code", "100"], "manufacturer_code: 100 is beyond"),
    (["encode", "--class", "2", "--subclass", "3", "--decoder-key", KEY], "--new-decoder-key: missing"),
    (["encode", "--amount", "1", "--base-date", "2000", "--decoder-key", KEY], "--base-date: 2000 is not one of"),
    (["encode", "--amount", "1", "--issued", "2004-01-01", "--ken", "85", *DERIVE],
     "tid: TID 5784480 is past the key's expiry: its top 8 bits 88 exceed the key expiry number 85"),
]


def _one_error_line(stderr: str, message: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hil: error: "), stderr
    assert message in lines[0]


#: the acceptance's bad inputs, each in its own ``hil`` process: a token of the wrong length, with a non-digit, a key
#: of the wrong length, an amount beyond the class's range, a TID before the base date
AS_A_LAB_TYPES_THEM = [0, 2, 6, 10, 14, 15, 16]


@pytest.mark.parametrize("case", AS_A_LAB_TYPES_THEM, ids=[BAD[i][1][:40] for i in AS_A_LAB_TYPES_THEM])
def test_bad_input_in_a_hil_process(case: int) -> None:
    argv, message = BAD[case]
    p = hil(*argv)
    assert p.returncode == 2, (p.stdout, p.stderr)
    _one_error_line(p.stderr, message)


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[m.split(":")[0] + ": " + m[-30:] for _, m in BAD])
def test_bad_input_is_one_error_line_and_exit_2(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """All of them through ``hil``'s own entry point, in this process (a process each would take ~1 s)."""
    assert main(["sts", *argv]) == 2
    _one_error_line(capsys.readouterr().err, message)


def test_an_invalid_token_with_json_says_why_on_stdout_too() -> None:
    p = hil("decode", "23716100501183194198", "--decoder-key", KEY, "--json")
    assert p.returncode == 2
    out = json.loads(p.stdout)
    assert out["valid"] is False and out["error"].startswith("token: CRC mismatch")
    assert p.stderr.startswith("hil: error: token: CRC mismatch")
