"""The STS codec reproduces the published compliance vectors exactly, encoding and decoding.

Sources (facts and vectors only — no code taken):

* STS 531-1-0-02 compliance test vectors (CTSA01 … CTSA26) as published by the open implementation
  NectarAPI/tokens-service (AGPL-3.0), commit 609cea0e0c8a547ad875fd7950e3aceee788eb9f,
  ``src/test/java/ke/co/nectar/token/domain/token/STSComplianceTests_STS_531_1_0_02_CTSAnn.java``
  (https://github.com/NectarAPI/tokens-service). Each vector below names its file and step. Common setup there:
  vending key abababababababab, SGC 123456, TI 01, KRN 1, KT 2 (unique), KEN 255, random number 5, base date 1993,
  meter PAN 600727000000000009 (or 000001000000000082 where noted).
* NectarAPI/tokens-service ``STSComplianceTests_Nectar_1.java`` (the vendor's own vectors, with the decoded CRC).
* The STS Association's page on the key expiry number, https://www.sts.org.za/wiki/what-is-a-ken-key-expiry-number
  (a worked class 0 token: RND 0101, TID C02A55 = 2016/12/11 15:49, amount 2710 hex, CRC 1970 hex; KEN validity
  ranges ending 24/11/2024, 24/11/2045, 24/11/2066 20:15 for base dates 1993, 2014, 2035).

The times in the Java files are local date-times of a day; they are used here as naive minutes since the base date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from instruments.sts import (
    TID_MAX,
    Token,
    TokenError,
    crc16,
    data_block,
    datetime_from_tid,
    decode_amount,
    decode_token,
    decrypt,
    dkga02,
    dkga04,
    encode_token,
    from_66_bits,
    key_change,
    key_hex,
    round_up,
    tenths,
    tid_from_datetime,
)

NECTAR = "NectarAPI/tokens-service@609cea0e src/test/java/ke/co/nectar/token/domain/token/"
VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")  # CTSA24/25/26, 160-bit DKGA04 vending key
PAN_A = "600727000000000009"
PAN_B = "000001000000000082"


def k02(pan: str = PAN_A, *, ti: int = 1, krn: int = 1, sgc: str = "123456", kt: int = 2,
        vk: bytes = VK02) -> int:
    return dkga02(vk, pan, sgc, ti, krn, kt)


def k04(base_date: int, krn: int, pan: str = PAN_A) -> int:
    return dkga04(VK04, pan, "123457", 1, krn, 2, base_date)


@dataclass(frozen=True)
class Vector:
    source: str  #: file (under NECTAR) and step
    token: str  #: the published 20 digits
    content: Token
    key: int | None
    base_date: int = 1993


def _when(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%d/%m/%Y %H:%M:%S")


def tid(text: str, base_date: int = 1993) -> int:
    return tid_from_datetime(_when(text), base_date)


def credit(source: str, token: str, when: str, amount: str, key: int, subclass: int = 0,
           base_date: int = 1993) -> Vector:
    return Vector(source, token, Token.of(0, subclass, random=5, tid=tid(when, base_date), amount=tenths(amount)),
                  key, base_date)


def mgmt(source: str, token: str, when: str, subclass: int, value: int, key: int) -> Vector:
    name = {0: "max_power", 1: "register", 5: "pad", 6: "max_phase_unbalance"}[subclass]
    return Vector(source, token, Token.of(2, subclass, random=5, tid=tid(when), **{name: value}), key)


A, B = k02(PAN_A), k02(PAN_B)
E, W, G = 0, 1, 2  # class 0 subclasses electricity, water, gas

VECTORS: list[Vector] = [
    credit("CTSA01 step1", "23716100501183194197", "01/03/2004 13:55:00", "0.1", A),
    credit("CTSA01 step2 (PAN 000001000000000082)", "67206107716095682372", "01/03/2004 14:00:00", "0.1", B),
    credit("CTSA01 step3 water", "42502136492215507402", "01/03/2004 14:05:00", "0.1", A, W),
    credit("CTSA01 step4 water (PAN B)", "09109691696351271646", "01/03/2004 14:10:00", "0.1", B, W),
    credit("CTSA01 step5 gas", "67586531586639825066", "01/03/2004 14:15:00", "0.1", A, G),
    credit("CTSA01 step6 gas (PAN B)", "35758660990071466853", "01/03/2004 14:20:00", "0.1", B, G),
    Vector("CTSA02 step1", "56493153725450313471", Token.of(1, 0, control=(1 << 36) - 1, manufacturer_code=0), None),
    Vector("CTSA02 step2", "02305843005052951967", Token.of(1, 1, control=(1 << 28) - 1, manufacturer_code=0), None),
    mgmt("CTSA03_CTSA04 step1CTSA03", "50901894209860263092", "28/03/2004 09:01:00", 0, 1000, A),
    mgmt("CTSA03_CTSA04 step1CTSA04", "29511990995826640868", "28/03/2004 09:15:00", 1, 0xFFFF, A),
    mgmt("CTSA03_CTSA04 step2CTSA04 (PAN B)", "69986678528351463847", "28/03/2004 09:20:00", 1, 0xFFFF, B),
    mgmt("CTSA06 step1", "37037300014464855694", "28/03/2004 10:00:00", 5, 0, A),
    mgmt("CTSA07 step1", "30220533115430798647", "28/03/2004 10:20:00", 6, 10, A),
    mgmt("CTSA09 step1", "10208942296089183521", "29/03/2004 00:00:00", 1, 0xFFFF, A),
    # The Java test issues this one at 00:01 and adds a minute to the TID when the minute of the day is 1; the
    # published token is the one for 00:02 (TID + 1). Reproduced as such; why the step wants 00:02 is not confirmed.
    mgmt("CTSA09 step2 (TID of 00:02)", "20388873191656671689", "29/03/2004 00:02:00", 1, 0xFFFF, A),
    mgmt("CTSA09 step3", "43348834939937913498", "29/03/2004 00:03:00", 1, 0xFFFF, A),
    mgmt("CTSA09 step3, second minute", "51681104150374451564", "29/03/2004 00:04:00", 1, 0xFFFF, A),
    mgmt("CTSA09 step3, third minute", "50526247723864280405", "29/03/2004 00:05:00", 1, 0xFFFF, A),
]

# CTSA10: class 0 amounts across every exponent boundary, electricity (steps 1-9), water (10-18), gas (19-27)
_CTSA10_TIMES = ["00:30", "00:35", "00:40", "00:45", "00:50", "00:55", "01:44", "01:49", "01:54"]
_CTSA10_AMOUNTS = ["25.6", "1638.3", "1638.4", "2000.0", "18022.3", "18022.4", "181862.3", "181862.4", "1820162.4"]
_CTSA10_TOKENS = {
    E: ["26456622012185850752", "02194538019157867319", "49848950875249585071", "71997443697501228179",
        "58589277912776864555", "16328229234437142451", "45001756646344378677", "15810488151857362998",
        "42222423067848970276"],
    W: ["44275716003808438853", "18252763951429538816", "27315011099256270180", "63822263014624002901",
        "09641054211308025667", "44446096428101342168", "28708466031297612806", "10341114843091227763",
        "05942777944950076038"],
    G: ["55421978213496083894", "19542256788533803049", "00240351248989131846", "09767096307961035977",
        "48113663060937699726", "03981404420542897416", "14196243940519813244", "49902394914324621132",
        "13610552847224033160"],
}
for _sub, _tokens in _CTSA10_TOKENS.items():
    for _i, (_t, _a, _tok) in enumerate(zip(_CTSA10_TIMES, _CTSA10_AMOUNTS, _tokens, strict=True)):
        VECTORS.append(credit(f"CTSA10 step{_sub * 9 + _i + 1}", _tok, f"01/04/2004 {_t}:00", _a, A, _sub))

# CTSA12 (maximum power limit) and CTSA13 (phase power unbalance limit), W, across the amount boundaries
_LIMITS = [256, 16383, 16384, 20000, 180223, 180224, 1818623, 1818624, 18201624]
_CTSA12 = ["41932934023937597177", "39962525051716972228", "49726922948713857933", "49240429350369491663",
           "59901462710025767433", "19230023168014606006", "15202793104399278539", "39289527337368539951",
           "64902502692705103624"]
_CTSA13 = ["31529222328157245680", "73693330413053816261", "54550534704168942701", "59764600311380323340",
           "40345762458084906193", "66940669945224810632", "39456295247583474882", "71498975780521030688",
           "57078032150370797843"]
for _i, (_w, _a12, _a13) in enumerate(zip(_LIMITS, _CTSA12, _CTSA13, strict=True)):
    VECTORS.append(mgmt(f"CTSA12 step{_i + 1}", _a12, f"01/04/2004 07:{5 * _i:02d}:00", 0, _w, A))
    VECTORS.append(mgmt(f"CTSA13 step{_i + 1}", _a13, f"01/04/2004 08:{5 * _i:02d}:00", 6, _w, A))

# CTSA14: clear credit, registers 0, FFFF, 4, 5, 6, 7
for _i, (_reg, _tok) in enumerate(zip([0, 0xFFFF, 4, 5, 6, 7], [
        "24406351748405762287", "48263195037886996694", "17696673116286267663", "47739859634763202644",
        "23456948011089526127", "51867282903899304686"], strict=True)):
    VECTORS.append(mgmt(f"CTSA14 step{_i + 1}", _tok, f"01/04/2004 09:{5 * _i:02d}:00", 1, _reg, A))

# CTSA21 (water) and CTSA22 (gas): amounts in whole units
_CTSA21 = [
    ("23/05/2005 10:01:00", "1", "15415954497866603070"), ("24/05/2005 10:02:00", "16383", "37577557589608193918"),
    ("23/04/2006 23:10:03", "16384", "64605231735471529556"), ("24/04/2006 10:04:00", "180224", "61396462165248534316"),
    ("24/04/2006 11:00:00", "1818624", "27442853458265256809"),
    ("24/04/2006 11:01:00", "182262", "60366325560961667086"),
    ("24/04/2006 11:02:00", "182264", "49837510367703553651"),
    ("24/04/2006 11:03:00", "182024", "65892074689465900210"), ("24/04/2006 11:04:00", "182.5", "31056801750423680816"),
    ("24/04/2006 11:05:00", "1673.8", "20363556736975891316"), ("24/04/2006 20:10:00", "0", "16838670950350007721"),
    ("24/04/2006 11:00:00", "17654.3", "20884251612329507769"), ("24/04/2006 20:12:00", "123", "29433837651179279051"),
    ("24/04/2006 20:14:00", "180224", "56221045810819914754"),
    ("12/05/2006 20:15:00", "15671.4", "07426208391727345260"),
]
_CTSA22 = [
    ("26/04/2006 10:01:00", "1", "30790445533281098559"), ("27/05/2006 10:02:00", "16383", "42894813892015838675"),
    ("23/04/2007 10:03:00", "16384", "52434363099394415104"), ("24/04/2007 10:04:00", "180224", "02188175533508938765"),
    ("25/04/2007 11:00:00", "18824", "37844075275013703544"), ("26/04/2007 11:01:00", "182624", "21792662786579369978"),
    ("26/04/2007 11:02:00", "18204", "49679852898684944605"), ("26/04/2007 11:03:00", "42624", "23701256401082544774"),
    ("26/04/2007 11:04:00", "182044", "37625880630538746268"), ("26/04/2007 11:05:00", "17814", "41502904237047264837"),
    ("26/04/2007 20:10:00", "120345", "69115163697886873528"), ("26/04/2007 11:00:00", "10449", "57141025105111259130"),
    ("26/04/2007 20:12:00", "12449", "07841085711493671481"), ("26/04/2007 20:14:00", "80224", "53540735038206224963"),
    ("26/04/2007 20:15:00", "120414", "64397019565756691049"),
]
for _name, _sub, _rows in (("CTSA21", W, _CTSA21), ("CTSA22", G, _CTSA22)):
    for _i, (_when_text, _a, _tok) in enumerate(_rows):
        VECTORS.append(credit(f"{_name} step{_i + 1}", _tok, _when_text, _a, A, _sub))

# CTSA11: class 1 control bit sweep; 36-bit control with the 2-digit manufacturer code 00 (subclass 0) and 28-bit
# control with the 4-digit code 0000 (subclass 1)
_CTSA11 = [
    (0x1, "00000000000150997584", "01152921509036054672"), (0x2, "00000000000167774880", "01152921513331042448"),
    (0x4, "00000000000201328896", "01152921521920952465"), (0x8, "18446744073843772416", "01152921539100838034"),
    (0x10, "36893488147553322496", "01152921573460543637"), (0x20, "00000000000671093248", "01152921642180020378"),
    (0x40, "00000000001207974400", "01152921779618973828"), (0x80, "00000000002281728512", "01152922054496880824"),
    (0x100, "00000000004429208064", "01152922604252694700"), (0x200, "00000000008724195840", "01152923703764322536"),
    (0x400, "00000000017314105857", "01152925902787577952"), (0x2000, "00000000137573173770", "01152956689113154192"),
    (0x4000, "00000000275012127252", "01152991873485249680"), (0x8000, "00000000549890034216", "01153062242229428368"),
    (0x10000, "00000001099645848124", "01153202979717788816"),
    (0x20000, "00000002199157475960", "01153484454694514832"),
]
for _i, (_ctl, _t0, _t1) in enumerate(_CTSA11):
    VECTORS.append(Vector(f"CTSA11 step{_i + 1} (2-digit)", _t0, Token.of(1, 0, control=_ctl, manufacturer_code=0),
                          None))
    VECTORS.append(Vector(f"CTSA11 step{_i + 1} (4-digit)", _t1, Token.of(1, 1, control=_ctl, manufacturer_code=0),
                          None))

# CTSA05: key change from the TI 01 key to the TI 02 key (and back), encrypted with the current key
_TI1, _TI2 = k02(PAN_A, ti=1), k02(PAN_A, ti=2)
_TI1B, _TI2B = k02(PAN_B, ti=1), k02(PAN_B, ti=2)


def kct(source: str, tokens: tuple[str, str], old: int, new: int, *, krn: int, ti: int, ken: int = 255,
        rollover: bool = False, base_date: int = 1993) -> list[Vector]:
    first, second = key_change(new, krn=krn, key_type=2, tariff_index=ti, ken=ken, rollover=rollover)
    return [Vector(f"{source} 1st section", tokens[0], first, old, base_date),
            Vector(f"{source} 2nd section", tokens[1], second, old, base_date)]


VECTORS += kct("CTSA05 step1", ("51638423060042734509", "15361891762113502242"), _TI1, _TI2, krn=1, ti=2)
VECTORS += kct("CTSA05 step2", ("26553210520543055412", "00943705441908264439"), _TI2, _TI1, krn=1, ti=1)
VECTORS += kct("CTSA05 step3 (PAN B)", ("36495265416911568628", "35908059266238070883"), _TI1B, _TI2B, krn=1, ti=2)

# CTSA19: key change tokens (to the key they carry) and a credit token with it; KEN 85 in steps 1, 2 and 4
_K19 = [k02(ti=2, krn=1), k02(ti=1, krn=2), k02(ti=1, krn=2), k02(ti=1, krn=1, sgc="888888",
                                                                  vk=bytes.fromhex("9494949494949494"))]
for _i, (_key, _ti, _krn, _ken, _toks, _when_text) in enumerate([
        (_K19[0], 2, 1, 85, ("31337250623187821174", "25365690080149305690", "40823728429161791369"), "10:05"),
        (_K19[1], 1, 2, 85, ("44144630105464684572", "31162823148845145254", "07731698895042112630"), "10:10"),
        (_K19[2], 1, 2, 255, ("27767097093580610394", "37287781995519266010", "02838142732283753296"), "10:15"),
        (_K19[3], 1, 1, 85, ("54413905164151863438", "70335822849409372395", "17352963892501043261"), "10:20")]):
    VECTORS += kct(f"CTSA19 step{_i + 1}", _toks[:2], _key, _key, krn=_krn, ti=_ti, ken=_ken)
    VECTORS.append(credit(f"CTSA19 step{_i + 1} credit", _toks[2], f"01/04/2002 {_when_text}:00", "0.1", _key))

# DKGA04 (HMAC-SHA-256, 160-bit vending key, SGC 123457) with the STA
VECTORS += [
    mgmt("CTSA24 step1 (DKGA04)", "08144275084202187413", "26/05/2008 08:00:00", 1, 0xFFFF, k04(1993, 1)),
    credit("CTSA25 step1 (DKGA04, 1993)", "15697331168573253829", "01/01/2009 08:00:00", "0.1", k04(1993, 1)),
    credit("CTSA25 step2 (DKGA04, 1993) water", "56727749990719585416", "01/01/2009 08:05:00", "0.1", k04(1993, 1), W),
    credit("CTSA25 step3 (DKGA04, 1993) gas", "25938479605175185937", "01/01/2009 08:10:00", "0.1", k04(1993, 1), G),
    credit("CTSA25 step5 (DKGA04, 2014)", "20324881626382980759", "01/01/2014 08:00:00", "0.1", k04(2014, 4),
           base_date=2014),
    credit("CTSA25 step6 (DKGA04, 2014) water", "09907513011694393160", "01/01/2014 08:05:00", "0.1", k04(2014, 4), W,
           base_date=2014),
    credit("CTSA25 step7 (DKGA04, 2014) gas", "50054427724775110925", "01/01/2014 08:10:00", "0.1", k04(2014, 4), G,
           base_date=2014),
    credit("CTSA25 step9 (DKGA04, 2035)", "09239624803025986815", "01/01/2035 08:00:00", "0.1", k04(2035, 5),
           base_date=2035),
    credit("CTSA25 step10 (DKGA04, 2035) water", "31176414469542247929", "01/01/2035 08:05:00", "0.1", k04(2035, 5),
           W, base_date=2035),
    credit("CTSA25 step11 (DKGA04, 2035) gas", "13512126869939531125", "01/01/2035 08:10:00", "0.1", k04(2035, 5), G,
           base_date=2035),
]
# CTSA26: rollover key change from the 2014 key (KRN 4) to the 2035 key (KRN 5), DKGA04
VECTORS += kct("CTSA26 step1", ("44163577485799480640", "26556810679164981397"), k04(2014, 4), k04(2035, 5),
               krn=5, ti=1, rollover=True)
VECTORS += kct("CTSA26 step2 (PAN B)", ("09658886361133612086", "22434017728466234784"), k04(2014, 4, PAN_B),
               k04(2035, 5, PAN_B), krn=5, ti=1, rollover=True)


def _ids() -> list[str]:
    return [v.source for v in VECTORS]


def test_every_published_vector_is_listed_once() -> None:
    assert len(VECTORS) == 163
    assert len({v.token for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("v", VECTORS, ids=_ids())
def test_encode_reproduces_the_published_token(v: Vector) -> None:
    assert encode_token(v.content, v.key) == v.token, NECTAR + v.source


@pytest.mark.parametrize("v", VECTORS, ids=_ids())
def test_decode_gives_back_the_fields(v: Vector) -> None:
    want = dict(v.content.fields)
    for name in ("amount", "max_power", "max_phase_unbalance"):
        if name in want:  # an amount between two representable values is carried rounded up
            want[name] = round_up(want[name])
    got = decode_token(v.token, v.key)
    assert (got.token_class, got.subclass, dict(got.fields)) == (v.content.token_class, v.content.subclass, want)
    assert encode_token(got, v.key) == v.token


def test_ctsa01_decoder_key() -> None:
    """CTSA01 step1 asserts the DKGA02 key 6ff35b9d1f3453e6 as NectarAPI stores it, byte-reversed; the key, most
    significant byte first as DES puts it out, is e653341f9d5bf36f."""
    assert key_hex(A) == "e653341f9d5bf36f"
    assert A.to_bytes(8, "little").hex() == "6ff35b9d1f3453e6"


def test_ctsa10_amounts_round_up_at_the_range_boundaries() -> None:
    """18022.3 kWh and 1818623 W fall between representable values: the token carries the next one up."""
    assert round_up(tenths("18022.3")) == tenths("18022.4")
    assert round_up(tenths("2000.0")) == tenths("2000.4")
    assert round_up(1818623) == 1818624
    assert round_up(18201624) == 18201624


def test_ctsa16_a_tid_past_the_key_expiry_number_is_refused() -> None:
    """CTSA16: key type 1, KEN 85, PAN 600727111111111153, issued 01/04/2004 09:30: the TID's top 8 bits (90) exceed
    the KEN, the vending side refuses the token."""
    key = k02("600727111111111153", kt=1)
    token = Token.of(0, 0, random=5, tid=tid("01/04/2004 09:30:00"), amount=1)
    assert token.fields["tid"] >> 16 == 90
    with pytest.raises(TokenError, match=r"^tid: .*key expiry number 85"):
        encode_token(token, key, key_expiry=85)
    encode_token(token, key, key_expiry=90)  # the same TID within the KEN is fine


def test_ctsa17_a_pan_of_the_wrong_length_is_refused() -> None:
    """CTSA17: the 22-digit PAN 1234567890411111111113 is not a meter PAN."""
    with pytest.raises(TokenError, match=r"^pan: 22 digits"):
        k02("1234567890411111111113")


@pytest.mark.parametrize(("token", "when", "units", "crc"), [
    ("66475648316756821785", "21/04/2004 10:01:00", "1", 0b0011010100000100),
    ("14605694188309739537", "21/05/2004 10:02:00", "16383", 0b1010110000100001),
    ("11019866711865218477", "21/04/2005 10:03:00", "16384", 0b0001001011111011),
])
def test_nectar_1_vendor_vectors_decode_with_their_crc(token: str, when: str, units: str, crc: int) -> None:
    """STSComplianceTests_Nectar_1.java (NectarAPI's own electricity vectors): token, decoded fields and CRC."""
    got = decode_token(token, A)
    assert dict(got.fields) == {"random": 5, "tid": tid(when), "amount": round_up(tenths(units))}
    token_class, block = from_66_bits(int(token))
    assert token_class == 0
    assert decrypt(block, A) & 0xFFFF == crc == data_block(got) & 0xFFFF


def test_sts_association_worked_example_crc() -> None:
    """https://www.sts.org.za/wiki/what-is-a-ken-key-expiry-number: class 00, subclass 0000, RND 0101,
    TID 110000000010101001010101 (2016/12/11 15:49), amount 0010011100010000, CRC 0001100101110000 (1970 hex)."""
    covered = 0 << 48 | 0 << 44 | 0b0101 << 40 | 0b110000000010101001010101 << 16 | 0b0010011100010000
    assert crc16(covered) == 0x1970
    assert datetime_from_tid(0b110000000010101001010101, 1993) == dt.datetime(2016, 12, 11, 15, 49)
    assert decode_amount(0b0010011100010000) == 10000  # tenths: 1000 kWh
    content = Token.of(0, 0, random=5, tid=0xC02A55, amount=10000)
    assert data_block(content) == (0b0101 << 56 | 0xC02A55 << 32 | 0x2710 << 16 | 0x1970)


@pytest.mark.parametrize(("base_date", "last"), [(1993, dt.datetime(2024, 11, 24, 20, 15)),
                                                 (2014, dt.datetime(2045, 11, 24, 20, 15)),
                                                 (2035, dt.datetime(2066, 11, 24, 20, 15))])
def test_last_minute_of_each_base_date(base_date: int, last: dt.datetime) -> None:
    """The STS Association's KEN page: the 24-bit TID of base date 1993 ends 24/11/2024 20:15 (the rollover),
    2014 on 24/11/2045, 2035 on 24/11/2066."""
    assert datetime_from_tid(TID_MAX, base_date) == last
    assert tid_from_datetime(last, base_date) == TID_MAX
    with pytest.raises(TokenError, match=r"^issued: .*rolled over"):
        tid_from_datetime(last + dt.timedelta(minutes=1), base_date)
