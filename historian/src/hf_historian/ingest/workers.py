"""``hf-ingest --workers N``: N ingest processes sharing one MQTT 5 subscription, and the one-process run."""

from __future__ import annotations

import logging
import multiprocessing
import signal
from dataclasses import replace

from hf_historian.ingest.pipeline import FatalIngestError, Ingest
from hf_historian.ingest.settings import IngestSettings

_logger = logging.getLogger(__name__)


def shared(settings: IngestSettings, index: int, group: str) -> IngestSettings:
    """Worker ``index`` of a group: its own persistent session, and the broker's MQTT 5 shared subscription
    hands each message to one worker of the group only."""
    topic = settings.topic if settings.topic.startswith("$share/") else f"$share/{group}/{settings.topic}"
    # one publisher is enough (and keeps the order): the first worker's; the advisory lock guards the rest
    return replace(
        settings, topic=topic, client_id=f"{settings.client_id}-{index}", publish=settings.publish and index == 1
    )


def run_workers(settings: IngestSettings, workers: int, group: str = "hf-ingest") -> int:
    """``workers`` ingest processes sharing the subscription (the ingest is CPU-bound in Python: one
    process uses one core). Stops them all on SIGINT/SIGTERM; exits with the worst worker's code."""
    if workers <= 1:
        return run_forever(settings)
    context = multiprocessing.get_context("spawn")
    configs = [shared(settings, i, group) for i in range(1, workers + 1)]
    processes = [context.Process(target=_worker_main, args=(config,), name=config.client_id) for config in configs]
    for process in processes:
        process.start()
    _logger.info("%d ingest workers share %s", workers, configs[0].topic)

    def stop(*_args: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker finishes its batch and acknowledges it

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = None
    while any(p.is_alive() for p in processes):
        for process in processes:
            process.join(timeout=0.5)
            if failed is None and process.exitcode not in (None, 0):
                failed = process
                _logger.error("ingest worker %s stopped (exit %s); stopping the others", process.name, process.exitcode)
                stop()
    return 0 if all(p.exitcode == 0 for p in processes) else 2


def _worker_main(settings: IngestSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    raise SystemExit(run_forever(settings))


def run_forever(settings: IngestSettings) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 2 on a fatal error (after saying why)."""
    ingest = Ingest(settings)
    # Until the event loop takes over SIGTERM/SIGINT (connecting to the database comes first).
    signal.signal(signal.SIGTERM, ingest.stop)
    signal.signal(signal.SIGINT, ingest.stop)
    try:
        ingest.run()
    except FatalIngestError as exc:
        _logger.error("%s (%s)", exc, exc.detail)
        return 2
    return 0
