"""The checker harness, end to end: each third-party client against each third-party server.

They need the checker packages (the test-only extra ``dlms-check``, or an interpreter named by
``$DLMS_CHECKER_PYTHON``); without them they fail, naming the extra to install (they skip only with
MHL_ALLOW_MISSING_CHECKERS=1). They check the harness, not MeterHIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dlms_checkers.harness import require_checkers, run_client, server

CLIENTS = ["gurux_client.py", "dlmscosem_client.py", "pydlms_client.py"]
KEYS = {
    "security": "authentication_encryption",
    "block_cipher_key": "000102030405060708090A0B0C0D0E0F",
    "authentication_key": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
    "system_title": "4D4D4D0000000001",
}
CLOCK = {"op": "get", "ic": 8, "obis": "0.0.1.0.0.255", "attr": 2}
ENERGY = {"op": "get_scaled", "ic": 3, "obis": "1.0.1.8.0.255"}
LDN = {"op": "get", "ic": 1, "obis": "0.0.42.0.0.255", "attr": 2}
PROFILE = "1.0.99.1.0.255"
LLS = {"client": 1, "auth": "low", "password": "12345678"}
SET_CLOCK = {"ic": 8, "obis": "0.0.1.0.0.255", "attr": 2, "type": "datetime", "value": "2024-06-01T10:00:00+01:00"}




def values(doc: dict[str, Any]) -> list[Any]:
    assert doc["associated"], doc.get("error")
    assert doc["exit"] == 0
    for result in doc["results"]:
        assert "error" not in result, result
    return [r["value"] for r in doc["results"]]


@pytest.fixture(scope="module")
def pydlms_wrapper() -> Iterator[int]:
    require_checkers("third_party_server.py")
    with server("third_party_server.py") as port:
        yield port


@pytest.fixture(scope="module")
def gurux_wrapper() -> Iterator[int]:
    require_checkers("gurux_server.py")
    with server("gurux_server.py", "--clock", "2024-05-01T12:00:00+02:00") as port:
        yield port


@pytest.mark.parametrize("client", CLIENTS)
def test_public_client_reads_the_pydlms_meter(client: str, pydlms_wrapper: int) -> None:
    require_checkers(client)
    doc = run_client(client, {"port": pydlms_wrapper, "ops": [CLOCK, ENERGY, LDN, {"op": "object_list"}]})
    clock, energy, ldn, objects = values(doc)
    assert clock == "2024-05-01T12:00:00+02:00"
    assert energy == 12345678
    assert bytes.fromhex(ldn) == b"PYD1000000000001"
    assert {"ic": 7, "obis": PROFILE, "version": 1} in objects


@pytest.mark.parametrize("client", CLIENTS)
def test_profile_by_range_and_entry(client: str, pydlms_wrapper: int) -> None:
    require_checkers(client)
    ops = [
        {"op": "profile_range", "obis": PROFILE, "from": "2024-05-01T01:00:00Z", "to": "2024-05-01T02:00:00Z"},
        {"op": "profile_entries", "obis": PROFILE, "first": 1, "last": 3},
        {"op": "profile_range", "obis": PROFILE, "from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
    ]
    doc = run_client(client, {"port": pydlms_wrapper, "ops": ops})
    assert doc["associated"], doc
    by_range, by_entry, whole_day = doc["results"]
    assert len(whole_day["value"]) == 96  # about 2 kB: GET with data blocks at the meter's 1024-octet PDU
    assert whole_day["value"][-1] == ["2024-05-01T23:45:00+00:00", 1665]
    assert by_range["value"][0] == ["2024-05-01T01:00:00+00:00", 1028]
    assert len(by_range["value"]) == 5
    assert by_range["columns"] == [[8, "0.0.1.0.0.255", 2], [3, "1.0.1.8.0.255", 2]]
    if client == "dlmscosem_client.py":
        assert "not implemented" in by_entry["error"]  # dlms-cosem 25.1.0 cannot encode an entry descriptor
    else:
        assert by_entry["value"] == [
            ["2024-05-01T00:00:00+00:00", 1000],
            ["2024-05-01T00:15:00+00:00", 1007],
            ["2024-05-01T00:30:00+00:00", 1014],
        ]


@pytest.mark.parametrize("client", CLIENTS)
def test_lls_management_client_and_wrong_password(client: str, pydlms_wrapper: int) -> None:
    require_checkers(client)
    good = run_client(client, {"port": pydlms_wrapper, **LLS, "ops": [CLOCK]})
    assert values(good) == ["2024-05-01T12:00:00+02:00"]
    bad = run_client(client, {"port": pydlms_wrapper, "client": 1, "auth": "low", "password": "00000000", "ops": []})
    assert not bad["associated"] and bad["exit"] == 1 and bad["error"]


@pytest.mark.parametrize("client", CLIENTS)
def test_hls_gmac_ciphered(client: str) -> None:
    require_checkers(client, "third_party_server.py")
    with server("third_party_server.py") as port:
        config = {"port": port, "client": 2, "auth": "high-gmac", "invocation_counter": 1, **KEYS}
        doc = run_client(client, {**config, "ops": [CLOCK, ENERGY]})
        assert values(doc) == ["2024-05-01T12:00:00+02:00", 12345678]
        assert doc["association"]["server_system_title"] == "5059440000000001"
        replay = run_client(client, {**config, "ops": []})  # the same counter again
        assert not replay["associated"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("physical", [None, 16])
def test_hdlc_over_tcp(client: str, physical: int | None) -> None:
    require_checkers(client, "third_party_server.py")
    with server("third_party_server.py", "--hdlc") as port:
        doc = run_client(client, {"port": port, "transport": "hdlc", "physical": physical, "ops": [CLOCK, LDN]})
        assert values(doc)[0] == "2024-05-01T12:00:00+02:00"


@pytest.mark.parametrize("client", ["gurux_client.py", "pydlms_client.py"])
def test_mode_e_opening_then_hdlc(client: str) -> None:
    require_checkers(client, "third_party_server.py")
    with server("third_party_server.py", "--mode-e") as port:
        doc = run_client(client, {"port": port, "transport": "hdlc", "mode_e": True, "trace": True, "ops": [CLOCK]})
        assert values(doc) == ["2024-05-01T12:00:00+02:00"]
        assert doc["trace"][0] == {"dir": "tx", "hex": b"/?!\r\n".hex()}
        assert doc["trace"][2] == {"dir": "tx", "hex": b"\x06252\r\n".hex()}


@pytest.mark.parametrize("client", CLIENTS)
def test_clients_write_and_act(client: str) -> None:
    require_checkers(client, "third_party_server.py")
    with server("third_party_server.py") as port:
        ops = [
            {"op": "set", **SET_CLOCK},
            CLOCK,
            {"op": "action", "ic": 70, "obis": "0.0.96.3.10.255", "method": 1, "data": 0},
            {"op": "get", "ic": 70, "obis": "0.0.96.3.10.255", "attr": 2},
        ]
        doc = run_client(client, {"port": port, **LLS, "ops": ops})
        assert values(doc) == [None, "2024-06-01T10:00:00+01:00", None, False]


@pytest.mark.parametrize("client", CLIENTS)
def test_clients_read_the_gurux_server(client: str, gurux_wrapper: int) -> None:
    require_checkers(client)
    doc = run_client(client, {"port": gurux_wrapper, "ops": [ENERGY, LDN, {"op": "object_list"}]})
    energy, ldn, objects = values(doc)
    assert energy == 12345678.9
    assert bytes.fromhex(ldn) == b"GRX0000000000001"
    assert [o["obis"] for o in objects] == ["0.0.40.0.0.255", "0.0.1.0.0.255", "1.0.1.8.0.255", "0.0.42.0.0.255"]
    lls = run_client(client, {"port": gurux_wrapper, **LLS, "ops": [CLOCK]})
    assert values(lls)[0].startswith("2024-05-01T12:00:")
    bad = run_client(client, {"port": gurux_wrapper, "client": 1, "auth": "low", "password": "wrong", "ops": []})
    assert not bad["associated"]


def test_gurux_server_over_hdlc_and_its_access_rights() -> None:
    require_checkers("gurux_server.py", "gurux_client.py")
    with server("gurux_server.py", "--hdlc") as port:
        base = {"port": port, "transport": "hdlc", "physical": 16}
        public = run_client("gurux_client.py", {**base, "ops": [{**CLOCK, "op": "get"}, {"op": "set", **SET_CLOCK}]})
        assert public["associated"]
        assert public["results"][1]["code"] == 3  # read-write-denied for the public client
        mgmt = {**base, **LLS}
        doc = run_client("gurux_client.py", {**mgmt, "ops": [{"op": "set", **SET_CLOCK}, CLOCK]})
        written = values(doc)[1]
        assert written.startswith("2024-06-01T10:00:")
