"""The exchange client against the in-process simulator over HTTPS (no HTTP mocks)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

import pytest
import trustme

from exchanges.client import (
    DepositConflict,
    ExchangeClient,
    ExchangeConfig,
    FinalExchangeError,
    TransientExchangeError,
    parse_index,
)
from exchanges.simulator import free_port
from tests.exchanges.conftest import USER


@pytest.fixture
def config(exchange_settings) -> ExchangeConfig:
    return ExchangeConfig.from_settings()


def test_lists_pecgm_files_in_reference_date_order(exchange_server, config):
    for name in ("PECGM_082_20250228_M.xml", "PECGM_082_20250131_Q.xml", "PECGM_082_20250131_M.xml"):
        exchange_server.publish("082", name, b"<PECGM/>")
    names = [f.name for f in ExchangeClient(config).list_pecgm()]
    assert names == ["PECGM_082_20250131_M.xml", "PECGM_082_20250131_Q.xml", "PECGM_082_20250228_M.xml"]


def test_index_parsing_keeps_only_our_pecgm_names():
    page = """<html><body>
      <a href="../">parent</a> <a href="?C=N;O=D">sort</a>
      <a href="PECGM_082_20250131_M.xml">ok</a>
      <a href="./PECGM_082_20250228_M.xml">ok too</a>
      <a href="PECGM_031_20250131_M.xml">other département</a>
      <a href="../../etc/PECGM_082_20250331_M.xml">climbing</a>
      <a href="https://evil.example/PECGM_082_20250430_M.xml">absolute</a>
      <a href="PECGM_082_20250531_M.xml?x=1">query</a>
      <a href="CGPEM_082_20250131_M.xml">not a PECGM</a>
      <a href="notes.txt">other</a> <a>no href</a> <a href="PECGM_082_20250131_M.xml">twice</a>
      <a href="PECGM_082_20250630_M.xml%0A">a trailing newline</a>
    </body></html>"""
    assert [f.name for f in parse_index(page, "82")] == [
        "PECGM_082_20250131_M.xml",
        "PECGM_082_20250228_M.xml",
    ]


def test_download_streams_to_a_temporary_file_with_its_sha256(exchange_server, config, tmp_path):
    content = b"<PECGM>" + b"x" * 300_000 + b"</PECGM>"
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", content)
    download = ExchangeClient(config).download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert download.path.read_bytes() == content
    assert download.path.parent == tmp_path / "in"
    assert download.sha256 == hashlib.sha256(content).hexdigest()
    assert download.size == len(content)


def test_download_size_limit(exchange_server, config, tmp_path):
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"x" * 2000)
    client = ExchangeClient(replace(config, max_file_size=1000))
    with pytest.raises(FinalExchangeError, match="taille maximale"):
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert not (tmp_path / "in").exists() or list((tmp_path / "in").iterdir()) == []


def test_download_size_limit_without_content_length(exchange_server, config, tmp_path):
    # A server that does not announce the size is cut off while streaming.
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"x" * 600_000)
    client = ExchangeClient(replace(config, max_file_size=300_000))

    def hide_length(response, **kwargs):
        response.headers.pop("Content-Length", None)
        return response

    client.session.hooks["response"].append(hide_length)
    with pytest.raises(FinalExchangeError, match="taille maximale"):
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert list((tmp_path / "in").iterdir()) == []


def test_missing_file_is_final_404(exchange_server, config, tmp_path):
    with pytest.raises(FinalExchangeError, match="404"):
        ExchangeClient(config).download("PECGM_082_20250131_M.xml", tmp_path)


def test_deposit_then_conflict(exchange_server, config, tmp_path):
    path = tmp_path / "CGPEM_082_20250131_M.xml"
    path.write_bytes(b"<CGPEM/>")
    client = ExchangeClient(config)
    assert client.deposit(path.name, path) == 201
    assert (exchange_server.root / "082" / "CGPEM" / path.name).read_bytes() == b"<CGPEM/>"
    with pytest.raises(DepositConflict):
        client.deposit(path.name, path)


def test_deposit_refuses_a_name_of_another_departement(config, tmp_path):
    path = tmp_path / "f.xml"
    path.write_bytes(b"x")
    with pytest.raises(FinalExchangeError, match="refusé"):
        ExchangeClient(config).deposit("CGPEM_031_20250131_M.xml", path)


def test_wrong_password_is_final_with_a_clear_message_and_no_secret(exchange_server, config, caplog):
    client = ExchangeClient(replace(config, password="pas-le-bon-mot-de-passe"))
    with caplog.at_level(logging.DEBUG), pytest.raises(FinalExchangeError) as info:
        client.list_pecgm()
    message = str(info.value)
    assert "401" in message and "EXCHANGE_PASSWORD" in message
    assert "pas-le-bon-mot-de-passe" not in message + caplog.text
    assert USER.password not in message + caplog.text
    assert not info.value.retryable


def test_another_departement_is_final_403(exchange_server, config):
    with pytest.raises(FinalExchangeError, match="403"):
        ExchangeClient(replace(config, departement="31")).list_pecgm()


def test_5xx_is_retried_then_succeeds(exchange_server, config):
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"<PECGM/>")
    exchange_server.fail_next(503, 502)
    assert [f.name for f in ExchangeClient(config).list_pecgm()] == ["PECGM_082_20250131_M.xml"]


def test_5xx_every_time_is_transient(exchange_server, config):
    exchange_server.fail_next(500, 500, 500)
    with pytest.raises(TransientExchangeError, match="500") as info:
        ExchangeClient(config).list_pecgm()
    assert info.value.retryable


def test_server_down_is_transient(config):
    client = ExchangeClient(replace(config, url=f"https://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientExchangeError, match="injoignable"):
        client.list_pecgm()


def test_untrusted_certificate_is_final(exchange_server, config, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with pytest.raises(FinalExchangeError, match="certificat"):
        ExchangeClient(replace(config, ca_bundle=str(other_ca))).list_pecgm()


def test_system_authorities_do_not_trust_the_simulator(exchange_server, config):
    with pytest.raises(FinalExchangeError, match="certificat"):
        ExchangeClient(replace(config, ca_bundle="")).list_pecgm()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8443", "https://user:secret@127.0.0.1:8443", "ftp://example.fr"]
)
def test_only_plain_https_urls(config, url):
    with pytest.raises(FinalExchangeError) as info:
        ExchangeClient(replace(config, url=url))
    assert "secret" not in str(info.value)


def test_unconfigured_names_the_variables(settings):
    settings.EXCHANGE_URL = ""
    settings.EXCHANGE_USERNAME = "cd82"
    settings.EXCHANGE_PASSWORD = ""
    with pytest.raises(FinalExchangeError, match="EXCHANGE_URL, EXCHANGE_PASSWORD"):
        ExchangeConfig.from_settings()


def test_config_repr_hides_the_password(config):
    assert config.password not in repr(config)
