"""Prometheus metrics of the ingestor (served by plantwatch.metrics on PLANTWATCH_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "plantwatch_ingest_messages_total", "Messages taken from the broker, by outcome", ["outcome"]
)
VALUES = Counter("plantwatch_ingest_values_total", "Sensor values stored")
DEAD_LETTERS = Counter(
    "plantwatch_ingest_dead_letters_total", "Messages dead-lettered, by reason", ["reason"]
)
SEQ_GAPS = Counter("plantwatch_ingest_seq_gaps_total", "Missing sequence numbers detected")
SEQ_LATE = Counter(
    "plantwatch_ingest_seq_late_total", "Late readings that filled a sequence number counted missing"
)
REPLAYED = Counter(
    "plantwatch_ingest_dead_letters_replayed_total",
    "Dead letters replayed, by outcome (stored, duplicate, not_replayable, or the reason refused again)",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "plantwatch_ingest_batch_messages",
    "Messages per database batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
COMMIT_SECONDS = Histogram(
    "plantwatch_ingest_commit_seconds",
    "Time to write and commit one batch",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "plantwatch_ingest_lag_seconds",
    "From a reading's receipt by the ingestor to its durable storage",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
QUEUE_DEPTH = Gauge("plantwatch_ingest_queue_messages", "Messages received and waiting to be written")
SPOOL_BYTES = Gauge("plantwatch_ingest_spool_bytes", "Bytes in the local durable spool awaiting PostgreSQL")
SPOOL_MESSAGES = Gauge("plantwatch_ingest_spool_messages", "Messages in the local durable spool")
