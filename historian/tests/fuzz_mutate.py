"""A mutational fuzzer for `make fuzz` (no atheris in the pinned venv): for N seconds, take a seed of
historian/tests/fuzz_corpus/, mutate it (bit flips, cuts, splices, hostile tokens), and feed it to the
payload decoder, the topic grammar, the MQTT packet reader (cut at random points) and the writer's row
encoding (prepare) of what the decoder took. Anything but the documented bad-input error is a finding:
it is printed with its input and saved to var/fuzz_findings/, and the exit code is 1.

    python historian/tests/fuzz_mutate.py SECONDS [SEED]
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hf_core import payload as codec
from hf_core.uns import TopicError, UnsTopic
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.writer import prepare

CORPUS = Path(__file__).with_name("fuzz_corpus")
FINDINGS = Path(__file__).resolve().parents[2] / "var" / "fuzz_findings"
TOKENS = [
    b"\\u0000",
    b"\\ud800",
    b"\\udc80",
    b"1e308",
    b"-1e309",
    b"9007199254740993",
    b"1" + b"0" * 310,
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b":",
    b",",
    b"$",
    b"null",
    b"true",
    b"NaN",
    b'"timestamp_ms":',
    b"\x00",
    b"\xff",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xff\xff\xff\x7f",
    b'{"a":' * 20,
]
NOW = int(time.time() * 1000)


def _payload_key(payload: bytes) -> bytes:
    return b"oversized %d" % payload.size if isinstance(payload, wire.OversizedPayload) else bytes(payload)


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(data))
        if op == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # a hostile token
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and data:  # cut a range
            del data[pos : pos + rng.randint(1, 16)]
        elif op == 3:  # splice another seed
            other = rng.choice(seeds)
            start = rng.randint(0, len(other))
            data[pos:pos] = other[start : start + rng.randint(1, 64)]
        elif op == 4 and data:  # a random byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        else:  # repeat a slice
            chunk = data[pos : pos + rng.randint(1, 8)]
            data[pos:pos] = chunk * rng.randint(1, 50)
    return bytes(data)


def check_payload(raw: bytes) -> None:
    try:
        timestamp, values, rejected = codec.decode_values(raw, NOW)
    except codec.PayloadError:
        return
    for name, value in values:
        if isinstance(value, str):
            assert codec.check_text(value) is None, (name, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            assert -codec.MAX_ABS_NUMBER <= value <= codec.MAX_ABS_NUMBER
    assert all(why for _n, why in rejected)
    # the writer's row encoding of what the decoder took (numbers, texts, gaps), as the ingest prepares it
    rows = [
        (
            i + 1,
            timestamp,
            None if v is None or isinstance(v, str) else float(v),
            v if isinstance(v, str) else None,
            0,
            2,
        )
        for i, (_n, v) in enumerate(values)
    ]
    prepare(rows, optimistic=True)
    prepare(rows, optimistic=False)


def check_topic(raw: bytes) -> None:
    topic = raw.decode("utf-8", "surrogateescape")
    try:
        parsed = UnsTopic.parse(topic)
    except TopicError:
        return
    assert str(parsed) == topic


def check_mqtt(raw: bytes, rng: random.Random) -> None:
    limit = rng.choice([0, 64, 4096])
    cuts = sorted(rng.sample(range(len(raw) + 1), min(len(raw) + 1, rng.randint(0, 4))))
    results = []
    for chunks in ([raw], [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]):
        reader = wire.PacketReader(max_packet_size=limit)
        got: list[tuple[str, bytes, int]] | None = []
        try:
            for chunk in chunks:
                publishes, others = reader.feed(chunk)
                # an oversized PUBLISH's preview is what had arrived with its headers: compare its size only
                got += [(p.topic, _payload_key(p.payload), p.packet_id) for p in publishes]
                for _kind, body in others:
                    for parse in (wire.parse_connack, wire.parse_suback, wire.parse_disconnect):
                        with contextlib.suppress(wire.ProtocolError):
                            parse(body)
        except wire.ProtocolError:
            got = None
        results.append(got)
    if results[0] is not None and results[1] is not None:
        assert results[0] == results[1], "a stream cut elsewhere parses the same"


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 14)
    payloads = [p.read_bytes() for p in sorted(CORPUS.glob("payload_*"))]
    packets = [p.read_bytes() for p in sorted(CORPUS.glob("mqtt_*"))]
    topics = [
        b"umh/v1/acme/berlin/press/line1/press1/_historian/axis/x",
        b"umh/v1/acme/_historian/t",
        b"umh/v1/acme/site/_analytics/work-order/start",
        b"umh/v1/a/_historian/t\n",
    ]
    targets: list[tuple[str, list[bytes], Callable[[bytes], None]]] = [
        ("payload", payloads, check_payload),
        ("uns", topics, check_topic),
        ("mqtt_wire", packets, lambda raw: check_mqtt(raw, rng)),
    ]
    counts = dict.fromkeys((name for name, _s, _c in targets), 0)
    findings: dict[str, bytes] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, seeds, check in targets:
            for _ in range(200):
                raw = mutate(rng, seeds)
                counts[name] += 1
                try:
                    check(raw)
                except Exception:  # noqa: BLE001  (any other exception is exactly what the fuzzer looks for)
                    key = f"{name}: {traceback.format_exc().strip().splitlines()[-1][:120]}"
                    if key not in findings:
                        findings[key] = raw
                        print(f"FINDING {key}\n  input {raw[:200]!r}", flush=True)
    total = sum(counts.values())
    print(
        f"fuzz_mutate: {total:,} inputs in {seconds:.0f} s ("
        + ", ".join(f"{name} {n:,}" for name, n in counts.items())
        + f"), {len(findings)} distinct findings"
    )
    if findings:
        FINDINGS.mkdir(parents=True, exist_ok=True)
        for index, raw in enumerate(findings.values()):
            (FINDINGS / f"finding_{index}.bin").write_bytes(raw)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
