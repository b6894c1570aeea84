"""`python -m bench.ingest`: the real ingestor at full speed, against what the broker and PostgreSQL allow.

Starts its own Mosquitto (our configuration) and PostgreSQL in a temporary folder, then, with every
part sharing this machine's cores:
1. broker ceiling: the publisher (its own process, QoS 1, as fast as its in-flight window allows)
   to a bare paho subscriber process that acknowledges at once;
2. ingest: the same publisher through the real ingestor (`python -m plantwatch ingest`, which
   acknowledges only what is durable) for `--seconds`; the rate counts until the last reading is
   committed; then every published (machine, seq) is checked to be stored exactly once, as sent;
3. latency: the publisher paced at half the achieved rate; each reading's publish time is its `ts`,
   its commit time PostgreSQL's commit timestamp, so publish-to-committed is measured per reading;
4. COPY ceiling: binary COPY of rows of the same shape straight into the same `readings` table.
Logs go to stderr, the result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import ingest_db
from bench import ingestor as ingestor_proc
from bench.common import emit, machine, setup_logging
from bench.mqtt_load import Load
from bench.mqtt_runs import broker_ceiling, run_publisher
from bench.processes import CpuMeter
from db.engine import libpq_url
from plantwatch.embedded import EmbeddedBroker, free_port

log = logging.getLogger("bench.ingest")

TOPIC_ROOT = ingestor_proc.TOPIC_ROOT
DRAIN_TIMEOUT_S = 90.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="Length of the full-speed ingest phase.")
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument(
        "--ceiling-seconds", type=float, default=20, help="Length of the broker ceiling phase."
    )
    parser.add_argument("--latency-seconds", type=float, default=20, help="Length of the paced phase.")
    parser.add_argument("--copy-rows", type=int, default=200_000, help="Rows of the COPY ceiling.")
    parser.add_argument("--copy-batch", type=int, default=10_000, help="Rows per COPY and commit.")
    parser.add_argument("--window", type=int, default=1000, help="The publisher's QoS 1 in-flight window.")
    parser.add_argument(
        "--ingest-env", action="append", default=[], metavar="NAME=VALUE", help="Extra ingestor setting."
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="Sample the ingestor with py-spy during the full-speed phase into this file (collapsed stacks).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (logs, data).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON line to this file.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra_env = {name: value for name, _, value in (item.partition("=") for item in args.ingest_env)}
    setup_logging()
    # Stopped by a signal, still stop the broker, database and ingestor this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("mosquitto") is None:
        print(
            "bench.ingest needs Mosquitto on PATH (Debian/Ubuntu: apt-get install mosquitto; "
            "macOS: brew install mosquitto)",
            file=sys.stderr,
        )
        return 2
    began = time.time()
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: record it
    work = Path(tempfile.mkdtemp(prefix="plantwatch-bench-ingest-"))
    work.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    broker = EmbeddedBroker(work / "broker", free_port(), prefer="mosquitto")
    server = None
    ingestor: subprocess.Popen[bytes] | None = None
    try:
        broker.start()
        server, url = ingest_db.start_database(work / "pg")
        ids = ingest_db.register_fleet(url, args.machines, args.sensors)
        log.info("broker ceiling: publisher -> bare subscriber for %.0f s", args.ceiling_seconds)
        ceiling = Load(
            "127.0.0.1",
            broker.port,
            TOPIC_ROOT,
            args.machines,
            args.sensors,
            0,
            args.ceiling_seconds,
            window=args.window,
        )
        broker_figures = broker_ceiling(ceiling)
        result: dict[str, Any] = {"ceiling_broker_messages_per_s": broker_figures["messages_per_s"]}
        ingestor = ingestor_proc.start_ingestor(url, broker.url, work, args.machines, extra_env)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            ingestor_proc.wait_for_ingestor(conn, broker, ingestor, work)
            result.update(_ingest_phases(args, broker, conn, ids, ingestor, server))
        result["cpu_us_per_message"].update(
            ceiling_publisher=broker_figures["publisher_cpu_us"],
            ceiling_bare_subscriber=broker_figures["subscriber_cpu_us"],
        )
        ingestor_proc.stop(ingestor)
        ingestor = None
        log.info("COPY ceiling: %d rows in batches of %d", args.copy_rows, args.copy_batch)
        copy = ingest_db.copy_ceiling(url, ids, args.sensors, args.copy_rows, args.copy_batch)
        result["ceiling_copy_values_per_s"] = copy["values_per_s"]
        result["ceiling_copy_rows_per_s"] = copy["rows_per_s"]
        result["ratio"] = round(result["messages_per_s"] / result["ceiling_broker_messages_per_s"], 3)
    finally:
        if ingestor is not None:
            ingestor_proc.stop(ingestor)
        if server is not None:
            server.stop()
        broker.stop()
        if args.keep:
            log.info("kept %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result.update(
        params={k: v for k, v in vars(args).items() if k not in ("out", "keep", "ingest_env", "profile")},
        ingest_env=extra_env,
        seconds_total=round(time.time() - began, 1),
        load_avg_1m_before=round(load_before, 2),
        machine=machine(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    emit(_ordered(result), args.out)
    return 0


def _ingest_phases(
    args: argparse.Namespace,
    broker: EmbeddedBroker,
    conn: psycopg.Connection[Any],
    ids: list[int],
    ingestor: subprocess.Popen[bytes],
    server: Any,
) -> dict[str, Any]:
    def load(first_tick: int, **kwargs: Any) -> Load:
        base = {"window": args.window, **kwargs}
        return Load("127.0.0.1", broker.port, TOPIC_ROOT, args.machines, args.sensors, first_tick, **base)

    def committed(sent: dict[str, Any]) -> float:
        done = ingest_db.wait_committed(
            conn, ids, sent["first_tick"], sent["last_tick"], sent["sent"], DRAIN_TIMEOUT_S
        )
        if done is None:
            raise RuntimeError(
                f"ingest did not commit every reading within {DRAIN_TIMEOUT_S:.0f} s of the end"
            )
        return done

    warm = run_publisher(load(0, ticks=1))  # connections, caches and plans warm up
    committed(warm)
    log.info("ingest: full speed for %.0f s", args.seconds)
    meter = CpuMeter.start(ingestor.pid, broker, server)
    profiler = ingestor_proc.profile(ingestor.pid, args.profile, args.seconds) if args.profile else None
    full = run_publisher(load(1, seconds=args.seconds))
    done = committed(full)
    if profiler is not None:
        profiler.wait(timeout=60)
    cpu = meter.stop(done - full["started"])
    rate = full["sent"] / (done - full["started"])
    log.info("ingest: %d messages, %.0f/s; CPU %s", full["sent"], rate, cpu)
    paced_rate = rate / 2
    log.info("latency: paced at %.0f messages/s for %.0f s", paced_rate, args.latency_seconds)
    paced = run_publisher(load(full["last_tick"] + 1, seconds=args.latency_seconds, rate=paced_rate))
    committed(paced)
    latency = ingest_db.latency_ms(conn, ids, paced["first_tick"], paced["last_tick"])
    sent = warm["sent"] + full["sent"] + paced["sent"]
    checks = ingest_db.verify(conn, ids, 0, paced["last_tick"], sent)
    log.info("latency %s; checks %s", latency, checks)
    return {
        "messages_per_s": round(rate),
        "values_per_s": round(rate * args.sensors),
        **checks,
        "p99_latency_ms": latency["p99"],
        "p50_latency_ms": latency["p50"],
        "max_latency_ms": latency["max"],
        "paced_messages_per_s": round(paced_rate),
        "published": sent,
        "dead_letters": ingest_db.dead_letters(conn),
        "full_speed": {
            "messages": full["sent"],
            "publish_s": round(full["published"] - full["started"], 2),
            "committed_s": round(done - full["started"], 2),
        },
        "cpu_cores_used": cpu,
        # CPU time per message: unlike rates, hardly changed by whatever else runs on the machine.
        "cpu_us_per_message": {
            "publisher": round(full["cpu_s"] / full["sent"] * 1e6, 1),
            **{
                part: round(cpu[part] * (done - full["started"]) / full["sent"] * 1e6, 1)
                for part in ("ingestor", "broker", "postgres")
                if part in cpu
            },
        },
    }


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    first = ["messages_per_s", "values_per_s", "lost", "duplicated", "p99_latency_ms"]
    first += ["ceiling_broker_messages_per_s", "ceiling_copy_values_per_s", "ratio"]
    return {**{k: result[k] for k in first if k in result}, **result}


if __name__ == "__main__":
    raise SystemExit(main())
