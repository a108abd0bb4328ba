"""``hf-ingest``: the cloud-side process that stores the UNS in the historian.

``hf-collector ingest`` is the same command under its old name, kept for one release."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from hf_core.errors import ConfigError
from hf_historian.ingest.resolver import (
    DEFAULT_MAX_NEW_TAGS_PER_MESSAGE,
    DEFAULT_MAX_NEW_TAGS_PER_MINUTE,
    DEFAULT_MAX_TAGS_PER_WORKCELL,
)
from hf_historian.ingest.settings import IngestSettings
from hf_historian.ingest.workers import run_workers

PROG = "hf-ingest"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`hf-collector ingest`: the old name of `hf-ingest`, for one release."""
    parser = subparsers.add_parser("ingest", help=f"store UNS _historian messages in the historian (now {PROG})")
    add_arguments(parser)
    parser.set_defaults(handler=main_from_args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-url",
        default=os.environ.get("HF_INGEST_MQTT_URL", "mqtt://127.0.0.1:1883"),
        help="broker, mqtt://user:password@host:1883 or mqtts://… (env HF_INGEST_MQTT_URL)",
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get("HF_INGEST_DSN"),
        help="libpq connection string of the Odoo database (env HF_INGEST_DSN)",
    )
    parser.add_argument("--topic", default="umh/v1/#")
    parser.add_argument(
        "--client-id", default="hf-ingest", help="MQTT client id; its persistent session keeps unacknowledged messages"
    )
    parser.add_argument(
        "--no-discover",
        action="store_true",
        help="dead-letter unknown tags instead of creating them under their known workcell",
    )
    parser.add_argument(
        "--max-tags-per-workcell",
        type=int,
        default=int(os.environ.get("HF_INGEST_MAX_TAGS_PER_WORKCELL", DEFAULT_MAX_TAGS_PER_WORKCELL)),
        help="discovery stops at this many tags in a workcell (env HF_INGEST_MAX_TAGS_PER_WORKCELL)",
    )
    parser.add_argument(
        "--max-new-tags-per-message",
        type=int,
        default=int(os.environ.get("HF_INGEST_MAX_NEW_TAGS_PER_MESSAGE", DEFAULT_MAX_NEW_TAGS_PER_MESSAGE)),
        help="tags one message may discover; its other new names are dead-lettered "
        "(env HF_INGEST_MAX_NEW_TAGS_PER_MESSAGE)",
    )
    parser.add_argument(
        "--max-new-tags-per-minute",
        type=int,
        default=int(os.environ.get("HF_INGEST_MAX_NEW_TAGS_PER_MINUTE", DEFAULT_MAX_NEW_TAGS_PER_MINUTE)),
        help="tags this ingest may discover in a minute; more new names are dead-lettered until "
        "the next minute, a flood of invented names must not grow it without end "
        "(env HF_INGEST_MAX_NEW_TAGS_PER_MINUTE)",
    )
    parser.add_argument(
        "--connect-attempts", type=int, default=5, help="tries to reach the broker at start before giving up (exit 2)"
    )
    parser.add_argument("--stats-interval", type=float, default=10.0, help="seconds between throughput logs")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("HF_INGEST_WORKERS", "1")),
        help="processes sharing the subscription (MQTT 5 $share/GROUP/…), about one per core "
        "(env HF_INGEST_WORKERS); each keeps its own session, CLIENT_ID-1…N",
    )
    parser.add_argument("--share-group", default="hf-ingest", help="the shared subscription's group name")
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="do not publish Odoo's outbound _analytics events (another process does)",
    )


def main_from_args(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.dsn:
        print(f'{PROG}: give --dsn (or HF_INGEST_DSN), e.g. "host=127.0.0.1 dbname=odoo user=odoo"', file=sys.stderr)
        return 2
    try:
        settings = IngestSettings(
            mqtt_url=args.mqtt_url,
            dsn=args.dsn,
            topic=args.topic,
            client_id=args.client_id,
            discover=not args.no_discover,
            stats_interval_s=args.stats_interval,
            start_attempts=args.connect_attempts,
            max_tags_per_workcell=args.max_tags_per_workcell,
            max_new_tags_per_message=args.max_new_tags_per_message,
            max_new_tags_per_minute=args.max_new_tags_per_minute,
            publish=not args.no_publish,
        )
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"{PROG}: --workers must be at least 1", file=sys.stderr)
        return 2
    return run_workers(settings, args.workers, args.share_group)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="store UNS messages from MQTT in the historian and Odoo; publish Odoo's analytics events",
    )
    add_arguments(parser)
    return main_from_args(parser.parse_args(argv))
