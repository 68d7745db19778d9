"""The exchange-server simulator, over real HTTPS: the contract, auth, retention."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from exchanges.simulator import ExchangeServer, ServerUser, add_one_month, is_expired
from tests.exchanges.conftest import OTHER_USER, USER

PECGM = "PECGM_082_20250131_M.xml"
CGPEM = "CGPEM_082_20250131_M.xml"


def get(server, path, auth=(USER.username, USER.password), **kwargs):
    return requests.get(server.base_url + path, auth=auth, verify=str(server.ca_path), timeout=5, **kwargs)


def put(server, path, data, auth=(USER.username, USER.password)):
    return requests.put(server.base_url + path, data=data, auth=auth, verify=str(server.ca_path), timeout=5)


def test_index_lists_each_file_as_a_link(exchange_server):
    exchange_server.publish("082", PECGM, b"<PECGM/>")
    exchange_server.publish("082", "PECGM_082_20250203_Q.xml", b"<PECGM/>")
    response = get(exchange_server, "/082/PECGM/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert f'<a href="{PECGM}">' in response.text
    assert '<a href="PECGM_082_20250203_Q.xml">' in response.text


def test_download_returns_the_bytes(exchange_server):
    content = b"<?xml version='1.0' encoding='ISO-8859-1'?><PECGM>\xe9</PECGM>"
    exchange_server.publish("082", PECGM, content)
    response = get(exchange_server, f"/082/PECGM/{PECGM}")
    assert response.status_code == 200
    assert response.content == content
    assert get(exchange_server, "/082/PECGM/PECGM_082_20250228_M.xml").status_code == 404


def test_certificate_is_verified_by_clients(exchange_server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(exchange_server.base_url + "/082/PECGM/", timeout=5)


@pytest.mark.parametrize(
    "auth",
    [None, (USER.username, "mauvais"), ("inconnu", USER.password), (OTHER_USER.username, USER.password)],
)
def test_no_or_wrong_credentials_is_401(exchange_server, auth):
    response = get(exchange_server, "/082/PECGM/", auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert put(exchange_server, f"/082/CGPEM/{CGPEM}", b"x", auth=auth).status_code == 401


def test_another_departement_is_403(exchange_server):
    exchange_server.publish("031", "PECGM_031_20250131_M.xml", b"<PECGM/>")
    assert get(exchange_server, "/031/PECGM/").status_code == 403
    assert get(exchange_server, "/031/PECGM/PECGM_031_20250131_M.xml").status_code == 403
    assert put(exchange_server, "/031/CGPEM/CGPEM_031_20250131_M.xml", b"x").status_code == 403
    # and its own user sees it
    own = get(exchange_server, "/031/PECGM/", auth=(OTHER_USER.username, OTHER_USER.password))
    assert "PECGM_031_20250131_M.xml" in own.text


def test_deposit_201_then_409(exchange_server):
    first = put(exchange_server, f"/082/CGPEM/{CGPEM}", b"<CGPEM>1</CGPEM>")
    assert first.status_code == 201
    stored = exchange_server.root / "082" / "CGPEM" / CGPEM
    assert stored.read_bytes() == b"<CGPEM>1</CGPEM>"
    again = put(exchange_server, f"/082/CGPEM/{CGPEM}", b"<CGPEM>2</CGPEM>")
    assert again.status_code == 409
    assert stored.read_bytes() == b"<CGPEM>1</CGPEM>"


def test_deposit_refuses_names_outside_the_contract(exchange_server):
    assert put(exchange_server, "/082/CGPEM/notes.txt", b"x").status_code == 400
    assert put(exchange_server, "/082/CGPEM/CGPEM_031_20250131_M.xml", b"x").status_code == 400
    assert put(exchange_server, f"/082/PECGM/{PECGM}", b"x").status_code == 405
    assert get(exchange_server, f"/082/CGPEM/{CGPEM}").status_code == 405


def test_deposit_size_limit(tmp_path):
    with ExchangeServer(tmp_path, [USER], max_upload=10, quiet=True) as server:
        assert put(server, f"/082/CGPEM/{CGPEM}", b"x" * 11).status_code == 413
        assert not (tmp_path / "082" / "CGPEM" / CGPEM).exists()
        assert put(server, f"/082/CGPEM/{CGPEM}", b"x" * 10).status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "/082/PECGM/..%2F..%2Fsecret.xml",
        "/082/PECGM/%2E%2E/%2E%2E/secret.xml",
        "/082/PECGM/../../secret.xml",
        "/082/../031/PECGM/",
        "/082/PECGM/..%5Csecret.xml",
        "/082/PECGM/PECGM_082_20250131_M.xml%00",
    ],
)
def test_path_traversal_is_refused(exchange_server, path):
    (exchange_server.root / "secret.xml").write_text("secret")
    # requests would normalise "..": send the raw path through a prepared request.
    session = requests.Session()
    request = requests.Request("GET", exchange_server.base_url + "/", auth=(USER.username, USER.password))
    prepared = session.prepare_request(request)
    prepared.url = exchange_server.base_url + path
    response = session.send(prepared, verify=str(exchange_server.ca_path), timeout=5)
    assert response.status_code in (403, 404)
    assert "secret" not in response.text


def test_retention_monthly_one_month_daily_ten_days(exchange_server, clock):
    arrived = clock.now
    exchange_server.publish("082", PECGM, b"m", arrived=arrived)
    exchange_server.publish("082", "PECGM_082_20250203_Q.xml", b"q", arrived=arrived)
    clock.advance(days=9, hours=23)
    listing = get(exchange_server, "/082/PECGM/").text
    assert "PECGM_082_20250203_Q.xml" in listing and PECGM in listing
    clock.advance(hours=1)
    listing = get(exchange_server, "/082/PECGM/").text
    assert "PECGM_082_20250203_Q.xml" not in listing and PECGM in listing
    clock.advance(days=18)  # 3 March 09:00: one month after 3 February
    assert get(exchange_server, f"/082/PECGM/{PECGM}").status_code == 404
    assert not list((exchange_server.root / "082" / "PECGM").iterdir())


def test_retention_rule_helpers():
    jan31 = datetime(2025, 1, 31, tzinfo=UTC)
    assert add_one_month(jan31) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_one_month(datetime(2024, 12, 15, tzinfo=UTC)) == datetime(2025, 1, 15, tzinfo=UTC)
    assert not is_expired(PECGM, jan31, datetime(2025, 2, 27, tzinfo=UTC))
    assert is_expired(PECGM, jan31, datetime(2025, 2, 28, tzinfo=UTC))
    assert not is_expired("README", jan31, datetime(2030, 1, 1, tzinfo=UTC))


def test_injected_faults_answer_first(exchange_server):
    exchange_server.fail_next(503)
    assert get(exchange_server, "/082/PECGM/").status_code == 503
    assert get(exchange_server, "/082/PECGM/").status_code == 200


def test_user_spec_parsing():
    assert ServerUser.parse("82:cd82:a:b") == ServerUser("082", "cd82", "a:b")
    with pytest.raises(ValueError):
        ServerUser.parse("82:cd82")
    with pytest.raises(ValueError):
        ServerUser.parse("XX:u:p")


def test_demo_files_for_make_run(tmp_path, settings):
    from exchanges.management.commands.run_demo import write_demo_files

    settings.DEPARTEMENT = "82"
    written = write_demo_files(tmp_path)
    assert len(written) == 2 and all(
        name.startswith("PECGM_082_") and name.endswith("_M.xml") for name in written
    )
    assert sorted(p.name for p in (tmp_path / "082" / "PECGM").iterdir()) == sorted(written)
    assert write_demo_files(tmp_path) == []  # idempotent: kept as they are
