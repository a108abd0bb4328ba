"""``hf-collector``: the edge collector (run, simulate, browse, enroll, status).

The cloud ingest is ``hf-ingest`` (package hf_historian); ``hf-collector ingest`` still runs it for a release."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import xmlrpc.client
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hf_core.errors import ConfigError, HfError
from hf_core.uns import segment_from_name

if TYPE_CHECKING:
    from hf_collector.model import SiteConfig

EXIT_OK, EXIT_CONFIG, EXIT_RUNTIME = 0, 2, 1
_logger = logging.getLogger("hf_collector")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


# --- run ---------------------------------------------------------------------------------------


def _local_settings(args: argparse.Namespace) -> tuple[dict[str, Any], SiteConfig | None]:
    """The settings file's values and its devices; no devices (None) when they come from Odoo: with --bundle,
    with --odoo, or with a --config file that has an ``odoo:`` section and no devices."""
    from hf_collector import config

    if args.bundle and args.config:
        raise ConfigError(
            "Give --bundle DIR or --config FILE, not both (a bundle's settings are its hf-collector.yaml)."
        )
    if args.bundle:
        document, env = config.load_bundle(Path(args.bundle))
        for name, value in env.items():  # the process's own environment wins, as with Compose's env_file
            os.environ.setdefault(name, value)
        return document, None
    if not args.config:
        return {}, None
    site, document = config.load_yaml(Path(args.config))
    if args.odoo and site.devices:
        _logger.warning("--odoo given: the devices of %s are not used, this edge's devices come from Odoo", args.config)
    return document, None if args.odoo or config.pulls_from_odoo(document) else site


async def _run(args: argparse.Namespace, file_values: dict[str, Any], site: SiteConfig | None) -> None:
    from hf_collector import config, status
    from hf_collector.delivery.buffer import DiskQueue
    from hf_collector.delivery.mqtt import MqttSender, MqttSettings
    from hf_collector.runner import Collector

    state_dir = Path(config.setting("state_dir", file_values, args.state_dir))
    root = config.setting("topic_root", file_values)
    watch = None
    if site is None:
        url, db, login, api_key = (
            config.setting(name, file_values, flag)
            for name, flag in (
                ("odoo_url", args.odoo),
                ("odoo_db", args.db),
                ("odoo_login", args.login),
                ("api_key", None),
            )
        )
        if not (url and db and login and api_key):
            raise ConfigError(
                "Give --bundle DIR, --config site.yaml, or --odoo URL --db DB --login LOGIN with the "
                "API key in HF_COLLECTOR_API_KEY (or --api-key)."
            )
        source = config.OdooSource(url.rstrip("/"), db, login, api_key, state_dir / "config-cache.json")
        site = config.within_topic_root(await source.fetch_first(), root)
        current = {"hash": site.hash}

        reported: list[dict[str, Any]] = []

        async def watch() -> SiteConfig | None:
            version = await source.version()
            report = status.odoo_report(collector.status)  # refused tags and config errors, when they change
            if [report] != reported:
                try:
                    await source.report(report)
                    reported[:] = [report]
                except (ConfigError, OSError, xmlrpc.client.Error) as exc:  # an older Odoo, or Odoo away
                    _logger.warning("could not report refused tags to Odoo: %s", exc)
            if version["hash"] == current["hash"]:
                return None
            new_site = await source.fetch()
            current["hash"] = new_site.hash
            return config.within_topic_root(new_site, root)
    else:
        site = config.within_topic_root(site, root)

    mqtt_settings = MqttSettings(
        url=config.setting("mqtt_url", file_values, args.mqtt_url),
        client_id=mqtt_client_id(config.setting("mqtt_client_id", file_values, args.client_id), site.edge),
        ca_file=config.setting("mqtt_ca_file", file_values),
    )
    queue = DiskQueue(state_dir / "outbox.sqlite", max_messages=int(config.setting("buffer_max_messages", file_values)))
    collector = Collector(site, queue, MqttSender(mqtt_settings, queue), state_dir)
    _logger.info(
        "collector %s: %d devices, config v%s, broker %s",
        site.edge,
        len(site.devices),
        site.version,
        mqtt_settings.url.split("@")[-1],
    )
    await collector.run(watch, poll_s=float(config.setting("config_poll_s", file_values, args.poll_seconds)))


def mqtt_client_id(given: str, edge: str) -> str:
    """The broker session's id: the one given, else ``hf-collector-<edge>`` with the edge's name made a
    segment ('Line 1 edge' -> 'Line_1_edge': no spaces, which some brokers refuse); MQTT allows 23 to 65,535
    bytes, brokers commonly 64."""
    return (given or f"hf-collector-{segment_from_name(edge) or 'edge'}")[:64]


def cmd_run(args: argparse.Namespace) -> int:
    from hf_collector import config

    logging.getLogger("asyncua").setLevel(logging.WARNING)
    if args.api_key:
        os.environ["HF_COLLECTOR_API_KEY"] = args.api_key
    file_values, site = _local_settings(args)
    transport = config.setting("transport", file_values, args.transport)
    identity = config.setting("ziti_identity", file_values, args.ziti_identity)
    if transport not in ("direct", "ziti"):
        raise ConfigError(f"transport {transport!r}: use direct or ziti.")
    context: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if transport == "ziti":
        from hf_collector.ziti import zitified

        if not identity:
            raise ConfigError(
                "transport ziti needs an identity: --ziti-identity identity.json, or transport.identity "
                "in the settings file (hf-collector enroll makes one)."
            )
        if args.bundle and not Path(identity).exists():
            token = Path(args.bundle).resolve() / "enrollment.jwt"
            raise ConfigError(
                f"Ziti identity {identity} does not exist: enroll this edge once with "
                f"hf-collector enroll --jwt {token} --out {identity} (the bundle's one-time token)."
            )
        context = zitified(Path(identity))
    with context, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args, file_values, site))
    return EXIT_OK


# --- other commands ----------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from hf_collector.simulate import run_simulator

    for noisy in ("asyncua", "pymodbus", "snap7"):  # their servers log every node and request at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ports = {"opcua": args.opcua_port, "modbus": args.modbus_port, "s7": args.s7_port}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_simulator(
                ports=ports,
                write_config=Path(args.write_config) if args.write_config else None,
                enterprise=args.enterprise,
                analytics_mqtt_url=args.analytics_mqtt_url,
            )
        )
    return EXIT_OK


def cmd_browse(args: argparse.Namespace) -> int:
    from hf_collector.browse import main as browse_main

    return int(browse_main(args.url, args.workcenter, args.device, args.node) or 0)


def cmd_enroll(args: argparse.Namespace) -> int:
    from hf_collector.ziti import enroll

    out = enroll(Path(args.jwt), Path(args.out))
    print(f"enrolled: identity written to {out}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from hf_collector import config, status

    path = Path(config.setting("state_dir", None, args.state_dir)) / "status.json"
    try:
        print(status.render(status.read(path)))
    except FileNotFoundError:
        raise ConfigError(f"No status at {path}: is a collector running with this --state-dir?") from None
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-collector", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="read the PLCs and publish to the UNS")
    run.add_argument(
        "--bundle",
        help="an unpacked edge bundle (hf-collector.yaml, .env, enrollment.jwt): "
        "devices and tags pulled from its tenant's Odoo",
    )
    run.add_argument(
        "--config",
        help="site.yaml (devices, mqtt, buffer, transport; with --odoo or an odoo: "
        "section and no devices, the devices come from Odoo)",
    )
    run.add_argument("--odoo", help="Odoo URL to pull this edge's configuration from (env HF_COLLECTOR_ODOO_URL)")
    run.add_argument("--db", help="Odoo database")
    run.add_argument("--login", help="the edge user's login (Odoo ▸ Edges)")
    run.add_argument("--api-key", help="the edge's API key (better: HF_COLLECTOR_API_KEY)")
    run.add_argument("--mqtt-url", help="mqtt://user:pass@host:1883 (env HF_COLLECTOR_MQTT_URL)")
    run.add_argument(
        "--client-id",
        help="MQTT client id (env HF_COLLECTOR_MQTT_CLIENT_ID; "
        "default hf-collector-<edge>, the edge's name as a UNS segment)",
    )
    run.add_argument("--state-dir", help="buffer, config cache and status (env HF_COLLECTOR_STATE_DIR)")
    run.add_argument("--transport", help="direct or ziti (env HF_COLLECTOR_TRANSPORT)")
    run.add_argument("--ziti-identity", help="identity.json from hf-collector enroll")
    run.add_argument("--poll-seconds", help="how often to check Odoo for a new configuration version")
    run.set_defaults(handler=cmd_run)

    simulate = sub.add_parser("simulate", help="real OPC UA, Modbus TCP and S7 servers with a simulated machine")
    simulate.add_argument("--write-config", help="write a site.yaml for these servers")
    simulate.add_argument("--opcua-port", type=int, default=4840)
    simulate.add_argument("--modbus-port", type=int, default=5020)
    simulate.add_argument("--s7-port", type=int, default=1102)
    simulate.add_argument("--enterprise", default="acme")
    simulate.add_argument(
        "--analytics-mqtt-url",
        help="also run a workcell whose MES publishes UMH _analytics events (orders, parts, states) to this broker",
    )
    simulate.set_defaults(handler=cmd_simulate)

    browse = sub.add_parser("browse", help="list an OPC UA server's variables as a CSV for Odoo's tag import")
    browse.add_argument("url", help="opc.tcp://host:4840")
    browse.add_argument("--workcenter", default="", help="the workcell the tags belong to (its name in Odoo)")
    browse.add_argument("--device", default="", help="the device that reads them (its name in Odoo)")
    browse.add_argument(
        "--node",
        help="the object to browse from, e.g. nsu=urn:vendor:plc;s=Press7 "
        "(default: the server's single machine object, else Objects)",
    )
    browse.set_defaults(handler=cmd_browse)

    enroll = sub.add_parser("enroll", help="enroll an OpenZiti identity from a one-time token")
    enroll.add_argument("--jwt", required=True)
    enroll.add_argument("--out", required=True)
    enroll.set_defaults(handler=cmd_enroll)

    status = sub.add_parser("status", help="counters and device states of the running collector")
    status.add_argument("--state-dir")
    status.set_defaults(handler=cmd_status)

    try:  # the old name of `hf-ingest`, where the historian is installed beside the collector
        from hf_historian.ingest import cli as ingest_cli
    except ImportError:
        pass
    else:
        ingest_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"hf-collector: {exc}", file=sys.stderr)
        if exc.detail:
            print(f"  ({exc.detail})", file=sys.stderr)
        return EXIT_CONFIG
    except HfError as exc:
        print(f"hf-collector: {exc}", file=sys.stderr)
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
