"""Where ``hf-collector run`` takes its devices and settings from: a bundle, a settings file with Odoo, and a
tenant's Odoo at ``http://<db>.localhost:<port>`` (reached at loopback, the Host header naming the tenant)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import xmlrpc.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hf_testing import free_port
from test_delivery import tls_files

from hf_collector.cli import main
from hf_collector.config import OdooSource, load_bundle, read_env_file, within_topic_root
from hf_collector.model import parse_site
from hf_core.errors import ConfigError

DOCUMENT = {
    "edge": "line1-edge",
    "version": 3,
    "hash": "h3",
    "devices": [
        {
            "name": "press1-modbus",
            "protocol": "modbus",
            "host": "127.0.0.1",
            "port": 5020,
            "tags": [
                {
                    "name": "temperature",
                    "topic": "umh/v1/acme/hamburg/assembly/line1/press1/_historian/temperature",
                    "address": {"table": "holding", "address": 0, "type": "float32"},
                },
                {
                    "name": "speed",
                    "topic": "umh/v1/other/hamburg/assembly/line1/press1/_historian/speed",
                    "address": {"table": "holding", "address": 2, "type": "float32"},
                },
            ],
        }
    ],
}


class _Handler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")
    hosts: list[str] = []  # noqa: RUF012  (what each request's Host header said, for the test to read)

    def decode_request_content(self, data: bytes) -> bytes | None:
        self.hosts.append(self.headers["Host"])
        return super().decode_request_content(data)


class _EdgeApi:
    """What the tenant's Odoo answers its edge: common.authenticate, object.execute_kw of hf.uns.edge."""

    def authenticate(self, _db: str, _login: str, key: str, _context: dict[str, Any]) -> int | bool:
        return 7 if key == "EDGE-KEY" else False

    def execute_kw(self, _db: str, _uid: int, _key: str, model: str, method: str, _args: list[Any]) -> dict[str, Any]:
        assert (model, method) == ("hf.uns.edge", "get_collector_config")
        return DOCUMENT


@contextlib.contextmanager
def edge_api(tls: ssl.SSLContext | None = None, port: int = 0) -> Iterator[tuple[int, list[str]]]:
    """A tiny real XML-RPC server (over TLS with ``tls``) answering as a tenant's Odoo does for its edge
    (authenticate, the document), recording the Host header of every request: (port, the headers)."""
    port = port or free_port()
    server = xmlrpc.server.SimpleXMLRPCServer(
        ("127.0.0.1", port), requestHandler=_Handler, logRequests=False, allow_none=True
    )
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    hosts: list[str] = []
    _Handler.hosts = hosts
    server.register_instance(_EdgeApi())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, hosts
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tenant_odoo() -> Iterator[tuple[int, list[str]]]:
    with edge_api() as served:
        yield served


async def test_a_tenant_at_a_localhost_name_is_reached_with_its_host_header(
    tenant_odoo: tuple[int, list[str]], tmp_path: Path
) -> None:
    port, hosts = tenant_odoo
    source = OdooSource(
        f"http://hf_t_acme.localhost:{port}", "hf_t_acme", "edge-1", "EDGE-KEY", tmp_path / "config-cache.json"
    )
    site = await source.fetch()
    assert [d.name for d in site.devices] == ["press1-modbus"]
    assert hosts == [f"hf_t_acme.localhost:{port}"] * 2  # authenticate, then the document
    assert source.cached() == site


async def test_a_tenant_over_https_at_a_localhost_name_is_checked_against_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS to a ``*.localhost`` tenant dials loopback and checks the certificate against the tenant's name
    (the certificate names only it; its CA is trusted here through OpenSSL's SSL_CERT_FILE)."""
    ca, cert, key = tls_files(tmp_path, "tenant.localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with edge_api(context) as (port, hosts):
        source = OdooSource(
            f"https://tenant.localhost:{port}", "hf_t_acme", "edge-1", "EDGE-KEY", tmp_path / "config-cache.json"
        )
        site = await source.fetch()
    assert [d.name for d in site.devices] == ["press1-modbus"]
    assert hosts == [f"tenant.localhost:{port}"] * 2


async def test_the_first_pull_waits_for_an_odoo_still_starting(tmp_path: Path) -> None:
    """No cache yet and the tenant's Odoo not up: the collector asks again (1 s, 2 s …) instead of exiting."""
    port = free_port()
    source = OdooSource(f"http://127.0.0.1:{port}", "hf_t_acme", "edge-1", "EDGE-KEY", tmp_path / "config-cache.json")
    pulling = asyncio.create_task(source.fetch_first())
    await asyncio.sleep(1.5)  # two attempts refused meanwhile
    assert not pulling.done()
    with edge_api(port=port):
        site = await asyncio.wait_for(pulling, 10)
    assert [d.name for d in site.devices] == ["press1-modbus"]
    assert source.cached() == site


async def test_a_refused_key_still_ends_the_first_pull(tenant_odoo: tuple[int, list[str]], tmp_path: Path) -> None:
    port, _hosts = tenant_odoo
    source = OdooSource(f"http://127.0.0.1:{port}", "hf_t_acme", "edge-1", "WRONG", tmp_path / "config-cache.json")
    with pytest.raises(ConfigError, match="refused edge"):
        await asyncio.wait_for(source.fetch_first(), 10)


def test_tags_outside_the_edges_topic_root_are_left_out_and_named() -> None:
    site = within_topic_root(parse_site(DOCUMENT), "umh/v1/acme")
    assert [t.name for t in site.devices[0].tags] == ["temperature"]
    assert site.errors == (
        (
            "Device press1-modbus, tag speed: topic "
            "umh/v1/other/hamburg/assembly/line1/press1/_historian/speed is outside this edge's topic "
            "root umh/v1/acme; the broker accepts nothing else from this edge."
        ),
    )
    assert within_topic_root(parse_site(DOCUMENT), "") == parse_site(DOCUMENT)


def bundle(
    folder: Path,
    env: str = "HF_COLLECTOR_API_KEY=EDGE-KEY\nHF_COLLECTOR_MQTT_URL=mqtt://e:pw@m:1883\n",
    **transport: str,
) -> Path:
    folder.mkdir()
    settings = {
        "odoo": {"url": "http://hf_t_acme.localhost:8070", "db": "hf_t_acme", "login": "edge-1"},
        "mqtt": {"url": "mqtt://m:1883", "topic_root": "umh/v1/acme"},
        "transport": {"kind": "direct", **transport},
        "state_dir": "state",
    }
    (folder / "hf-collector.yaml").write_text(yaml.safe_dump(settings))
    (folder / ".env").write_text(env)
    return folder


def test_a_bundles_paths_are_its_own_and_its_env_holds_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_COLLECTOR_API_KEY", raising=False)
    monkeypatch.delenv("HF_COLLECTOR_MQTT_URL", raising=False)
    folder = bundle(tmp_path / "edge", kind="ziti", identity="identity.json")
    document, env = load_bundle(folder)
    assert document["state_dir"] == str(folder.resolve() / "state")
    assert document["transport"]["identity"] == str(folder.resolve() / "identity.json")
    assert env == {"HF_COLLECTOR_API_KEY": "EDGE-KEY", "HF_COLLECTOR_MQTT_URL": "mqtt://e:pw@m:1883"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("HF_COLLECTOR_MQTT_URL=mqtt://e:pw@m:1883\n", ".env has no HF_COLLECTOR_API_KEY (the edge's API key)"),
        (
            "# only a comment\n",
            ".env has no HF_COLLECTOR_API_KEY (the edge's API key); .env has no HF_COLLECTOR_MQTT_URL",
        ),
        ("HF_COLLECTOR_API_KEY\n", ".env, line 1: expected KEY=VALUE."),
    ],
    ids=["no key", "no secrets", "not KEY=VALUE"],
)
def test_a_bundle_without_a_secret_names_the_file_and_the_key(
    tmp_path: Path, env: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_COLLECTOR_API_KEY", raising=False)
    monkeypatch.delenv("HF_COLLECTOR_MQTT_URL", raising=False)
    folder = bundle(tmp_path / "edge", env)
    assert main(["run", "--bundle", str(folder)]) == 2
    assert message in capsys.readouterr().err


def test_a_bundle_without_an_odoo_login_names_the_key(tmp_path: Path) -> None:
    folder = bundle(tmp_path / "edge")
    settings = yaml.safe_load((folder / "hf-collector.yaml").read_text())
    del settings["odoo"]["login"]
    (folder / "hf-collector.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError, match=r"hf-collector.yaml has no odoo.login \(the edge's login\)"):
        load_bundle(folder)


def test_no_bundle_folder_and_bundle_with_config_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--bundle", str(tmp_path / "missing")]) == 2
    assert "is not a directory: unpack the bundle's zip" in capsys.readouterr().err
    assert main(["run", "--bundle", str(tmp_path), "--config", "x.yaml"]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_settings_file_names_its_ziti_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """(The identity was read only from --ziti-identity or HF_COLLECTOR_ZITI_IDENTITY.)"""
    path = tmp_path / "site.yaml"
    path.write_text(
        yaml.safe_dump({"transport": {"kind": "ziti", "identity": str(tmp_path / "id.json")}, "devices": []})
    )
    assert main(["run", "--config", str(path)]) == 2
    assert f"Ziti identity {tmp_path / 'id.json'} does not exist" in capsys.readouterr().err


def test_env_files_read_as_compose_reads_them(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\n\nA=1\nexport B='two words'\nC=\"x=y\"\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x=y"}
