"""``hf-saas``: provision and manage hyperfactory-cloud tenants.

Exit codes: 0 done (or nothing to do), 1 unexpected error, 2 settings, 3 invalid spec, 4 tenant
exists, 5 unknown tenant, 6 provisioning step failed, 7 OpenZiti. Output is human text unless
``--json``. The admin password of a new tenant is printed once, to stdout only (never logged).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hf_historian.ingest.quota import STORAGE_POLICIES

from .dev_certs import make_dev_certs
from .errors import ConfigError, HfSaasError
from .k8s import render, tenant_manifests
from .provision import Provisioner
from .settings import Settings
from .spec import COUNT_QUOTAS, Quotas, parse_spec
from .tenant_router import serve


def _print(args: argparse.Namespace, data: object, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-saas", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    template = sub.add_parser("template", help="build or refresh the template database (odoo -i)")
    template.add_argument("--force", action="store_true", help="rebuild even when up to date")
    create = sub.add_parser("create", help="create a tenant from a JSON spec (the onboarding form's shape)")
    create.add_argument("--spec", required=True, help="spec JSON file, or - for stdin")
    create.add_argument("--fresh-install", action="store_true", help="odoo -i instead of the template (slow)")
    sub.add_parser("list", help="all tenants and their state")
    for name, text in (
        ("suspend", "refuse logins and edge connections"),
        ("resume", "undo suspend"),
        ("backup", "pg_dump + filestore into the state directory"),
        ("usage", "tags, samples/day, size"),
        ("upgrade", "update the tenant's modules to this code, as the tenant's own role"),
        ("migrate", "give an earlier release's tenant its own role and database-named users"),
        ("ziti-reissue", "a new OpenZiti enrollment token for the tenant's edge (the old one stops)"),
    ):
        sub.add_parser(name, help=text).add_argument("db")
    restore = sub.add_parser("restore", help="restore a tenant from its latest (or a given) backup")
    restore.add_argument("db")
    restore.add_argument("--from", dest="source", help="backup directory")
    restore.add_argument("--yes", action="store_true", help="replace the existing database")
    delete = sub.add_parser("delete", help="delete a tenant (a final backup is kept)")
    delete.add_argument("db")
    delete.add_argument("--yes", action="store_true", help="confirm")
    quotas = sub.add_parser("quotas", help="set a tenant's quotas at once (plan change)")
    quotas.add_argument("db")
    quotas.add_argument("--plan")
    # only what is given changes: the rest stays as the tenant has it (a plan's bandwidth, memory, policy)
    for key in ("tags", "samples-per-day", "retention-days", "storage-mb", "bytes-per-day", "memory-mb"):
        quotas.add_argument(f"--{key}", type=int)
    quotas.add_argument("--cpu", type=float, help="vCPU")
    quotas.add_argument("--storage-policy", choices=STORAGE_POLICIES)
    server = sub.add_parser("serve", help="serve every tenant at http://<db>.<host>:<port>, each by its own Odoo")
    server.add_argument("--listen", default="127.0.0.1:8070", help="address:port of the router (default %(default)s)")
    server.add_argument(
        "--idle-stop",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop a tenant's Odoo after this long without a request (0: never; it starts again with the next request)",
    )
    server.add_argument(
        "--max-odoo",
        type=int,
        default=8,
        metavar="N",
        help="at most N tenants' Odoo processes at once; one more stops the one unused the longest (0: no cap; "
        "each running Odoo holds about 4 PostgreSQL connections and 150 MB; default %(default)s)",
    )
    broker = sub.add_parser(
        "broker-config",
        help="write the cloud broker's mosquitto.conf (TLS for the edges, plain MQTT on loopback for the ingests)",
    )
    broker.add_argument("--plain-port", type=int, default=1884)
    broker.add_argument("--tls-port", type=int, default=8883)
    broker.add_argument("--cert", help="the broker's certificate (PEM)")
    broker.add_argument("--key", help="its private key (PEM)")
    broker.add_argument(
        "--dev-certs",
        metavar="HOST,…",
        help="instead of --cert/--key: a development CA and certificate for these host names, "
        "kept in <mosquitto dir>/certs (the edges trust its ca.crt)",
    )
    broker.add_argument("--user", default="", help="the OS user Mosquitto runs as (when started as root)")
    certs = sub.add_parser("dev-certs", help="a development CA and broker certificate (ca.crt, server.crt, server.key)")
    certs.add_argument("directory")
    certs.add_argument("--hosts", default="mqtt.localhost,localhost,127.0.0.1", help="names in the certificate")
    k8s = sub.add_parser("k8s", help="Kubernetes manifests")
    k8s_sub = k8s.add_subparsers(dest="k8s_command", required=True)
    k8s_render = k8s_sub.add_parser("render", help="print the manifests of a tenant (namespace per tenant)")
    k8s_render.add_argument("db")
    k8s_render.add_argument("--host", help="public host name (default: from the tenant URL)")
    k8s_render.add_argument("--db-host", default="postgres.hyperfactory.svc")
    return parser


def run(args: argparse.Namespace, provisioner: Provisioner) -> int:
    cmd = args.command
    if cmd == "template":
        status = provisioner.build_template(force=args.force)
        _print(
            args,
            status,
            f"template {status['db']}: {'built' if status['changed'] else 'up to date'} "
            f"(fingerprint {status['fingerprint']})",
        )
    elif cmd == "create":
        raw = sys.stdin.read() if args.spec == "-" else Path(args.spec).read_text(encoding="utf-8")
        spec = parse_spec(json.loads(raw))
        result = provisioner.create(
            spec, fresh_install=args.fresh_install, progress=lambda step: print(f"… {step}", file=sys.stderr)
        )
        data = {
            "db": result.db,
            "url": result.url,
            "login": result.admin_login,
            "password": result.admin_password,
            "bundle": result.bundle_path,
            "ziti": result.ziti_status,
            "timings": result.timings,
        }
        _print(
            args,
            data,
            f"{result.db} ready at {result.url}\nlogin: {result.admin_login}\n"
            f"password: {result.admin_password}   (shown once)\nedge bundle: {result.bundle_path}\n"
            f"OpenZiti: {result.ziti_status}\ntimings: {result.timings}",
        )
    elif cmd == "list":
        rows = provisioner.list()
        lines = [f"{'database':32} {'state':12} {'plan':10} company"]
        lines += [f"{r['db']:32} {r['state']:12} {r['plan']:10} {r['company']}" for r in rows]
        _print(args, rows, "\n".join(lines))
    elif cmd in ("suspend", "resume", "upgrade", "migrate", "ziti-reissue"):
        outcome = getattr(provisioner, cmd.replace("-", "_"))(args.db)
        _print(args, outcome.__dict__, outcome.message)
    elif cmd == "backup":
        path = provisioner.backup(args.db)
        _print(args, {"db": args.db, "backup": str(path)}, f"backup of {args.db}: {path}")
    elif cmd == "restore":
        outcome = provisioner.restore(args.db, Path(args.source) if args.source else None, yes=args.yes)
        _print(args, outcome.__dict__, outcome.message)
    elif cmd == "delete":
        outcome = provisioner.delete(args.db, yes=args.yes)
        _print(args, outcome.__dict__, outcome.message)
    elif cmd == "usage":
        usage = provisioner.usage(args.db)
        _print(args, usage, " ".join(f"{k}={v}" for k, v in usage.items()))
    elif cmd == "quotas":
        quotas = changed_quotas(provisioner.usage(args.db)["quotas"], vars(args))
        outcome = provisioner.set_quotas(args.db, quotas, args.plan)
        _print(args, outcome.__dict__, outcome.message)
    elif cmd == "serve":
        host, _, port = args.listen.rpartition(":")
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(serve(provisioner.settings, host or "127.0.0.1", int(port), args.idle_stop, args.max_odoo))
    elif cmd == "broker-config":
        files = provisioner.broker
        if args.dev_certs:
            hosts = [h.strip() for h in args.dev_certs.split(",") if h.strip()]
            certs = make_dev_certs(files.directory / "certs", hosts)
            cert, key = certs["cert"], certs["key"]
        elif args.cert and args.key:
            cert, key = Path(args.cert), Path(args.key)
        else:
            raise ConfigError("broker-config needs --cert and --key, or --dev-certs HOST,….")
        path = files.write_broker_config(
            plain_port=args.plain_port, tls_port=args.tls_port, certfile=cert, keyfile=key, user=args.user
        )
        _print(args, {"config": str(path)}, str(path))
    elif cmd == "dev-certs":
        made = make_dev_certs(Path(args.directory), [h.strip() for h in args.hosts.split(",") if h.strip()])
        _print(args, {k: str(v) for k, v in made.items()}, "\n".join(f"{k}: {v}" for k, v in made.items()))
    elif cmd == "k8s":
        record = provisioner.registry.get(args.db)
        host = args.host or record.url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        print(
            render(
                tenant_manifests(
                    tenant=record.slug,
                    db=record.db,
                    host=host,
                    db_host=args.db_host,
                    quotas=record.quotas,
                    topic_root=record.topic_root or None,
                )
            )
        )
    return 0


def changed_quotas(current: dict[str, Any], options: dict[str, Any]) -> Quotas:
    """The tenant's quotas as they are (``usage()["quotas"]``), with those ``hf-saas quotas`` was given."""
    given = {k: options[k] for k in (*COUNT_QUOTAS, "cpu", "storage_policy") if options.get(k) is not None}
    return Quotas.from_dict({**current, **given})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(args, Provisioner(Settings.load()))
    except HfSaasError as exc:
        print(f"hf-saas: {exc}", file=sys.stderr)
        if hasattr(exc, "errors"):
            for key, message in exc.errors.items():
                print(f"  {key}: {message}", file=sys.stderr)
        return exc.exit_code
    except (OSError, ValueError) as exc:
        print(f"hf-saas: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
