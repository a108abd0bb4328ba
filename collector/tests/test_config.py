"""Configuration: what a plant engineer writes, and the clear errors when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from hf_collector.cli import main
from hf_collector.config import load_yaml, setting
from hf_core.errors import ConfigError

SITE = """
edge: line1-edge
mqtt: {url: "mqtt://127.0.0.1:1999"}
devices:
  - name: press1-plc
    protocol: modbus
    host: 127.0.0.1
    port: 5020
    tags:
      - {name: temperature, topic: umh/v1/acme/b/l/press1/_historian/temperature, data_type: float,
         address: {table: holding, address: 0, type: float32}}
      - {name: speed, topic: umh/v1/acme/b/l/press1/_historian/speed, data_type: int,
         address: {table: holding, address: 99999, type: uint16}}
      - {name: temperature, topic: umh/v1/acme/b/l/press1/_historian/temperature,
         address: {table: holding, address: 4, type: int16}}
  - name: oven
    protocol: profibus
    host: 10.0.0.9
  - name: robot
    protocol: s7
    host: 10.0.0.10
    tags:
      - {name: ok, topic: umh/v1/acme/b/l/robot/_historian/ok, data_type: bool,
         address: {area: DB, db_number: 0, offset: 0, bit: 1, type: BOOL}}
"""


def test_bad_devices_and_tags_are_named_and_the_rest_keeps_running(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    site, values = load_yaml(path)
    assert [d.name for d in site.devices] == ["press1-plc", "robot"]
    assert [t.name for t in site.devices[0].tags] == ["temperature"]
    assert site.devices[1].tags == ()
    assert site.errors == (
        "Device press1-plc, tag speed: bad modbus address (address outside 0..65535).",
        (
            "Device press1-plc, tag temperature: duplicate tag (topic umh/v1/acme/b/l/press1/_historian/temperature "
            "appears twice)."
        ),
        "Device oven: unknown protocol 'profibus' (use opcua, modbus or s7).",
        "Device robot, tag ok: bad s7 address (a DB address needs db_number >= 1).",
    )
    assert setting("mqtt_url", values) == "mqtt://127.0.0.1:1999"


def test_settings_resolve_flag_then_environment_then_file(monkeypatch: pytest.MonkeyPatch) -> None:
    file_values = {"mqtt": {"url": "mqtt://file:1883"}}
    assert setting("mqtt_url", {}) == "mqtt://127.0.0.1:1883"
    assert setting("mqtt_url", file_values) == "mqtt://file:1883"
    monkeypatch.setenv("HF_COLLECTOR_MQTT_URL", "mqtt://env:1883")
    assert setting("mqtt_url", file_values) == "mqtt://env:1883"
    assert setting("mqtt_url", file_values, "mqtt://flag:1883") == "mqtt://flag:1883"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("devices: [unclosed", "not valid YAML"),
        ("- just a list", "must be a mapping"),
    ],
    ids=["missing", "bad yaml", "not a mapping"],
)
def test_unusable_files_exit_2_with_a_sentence(
    tmp_path: Path, content: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_yaml(path)
    assert main(["run", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_run_without_any_source_says_what_to_give(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--state-dir", str(tmp_path)]) == 2
    assert "Give --bundle DIR, --config site.yaml, or --odoo URL" in capsys.readouterr().err


def test_the_mqtt_client_id_is_the_one_given_or_the_edge_name_without_spaces() -> None:
    from hf_collector.cli import build_parser, mqtt_client_id

    assert mqtt_client_id("", "Line 1 edge") == "hf-collector-Line_1_edge"
    assert mqtt_client_id("press7-collector", "Line 1 edge") == "press7-collector"
    assert build_parser().parse_args(["run", "--client-id", "x1"]).client_id == "x1"
