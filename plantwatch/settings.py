"""Every setting of plantwatch, read once from the environment and `.env`.

This module is a leaf: it imports nothing of ours, and every package may read it through
`get_settings()`. `DATABASE_URL` and `MQTT_URL` keep their conventional unprefixed names; all other
settings are `PLANTWATCH_<NAME>`. The README's configuration table lists them all (a test keeps it complete).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NotificationChannel = Literal["webhook", "chat", "email"]
AlertEventKind = Literal["opened", "severity_raised", "severity_lowered", "escalated", "resolved"]
DEFAULT_ROUTE_EVENTS: tuple[AlertEventKind, ...] = ("opened", "severity_raised", "resolved")


class AlertRoute(BaseModel):
    """Where one kind of alert news goes: an entry of PLANTWATCH_ALERT_ROUTES."""

    channel: NotificationChannel = Field(
        description="webhook (JSON, HMAC-signed), chat (Slack/Teams incoming webhook) or email."
    )
    target: str = Field(min_length=1, description="The URL, or the e-mail address.")
    events: list[AlertEventKind] = Field(
        default_factory=lambda: list(DEFAULT_ROUTE_EVENTS),
        description="Which steps of an alert's life are sent; `escalated` is sent when an alert stays "
        "unacknowledged for alert_escalate_after_s.",
    )
    rules: list[str] | None = Field(default=None, description="Only these rules (all when unset).")
    min_severity: Literal["info", "warning", "critical"] = "info"
    lines: list[str] | None = Field(
        default=None, description="Only alerts of these lines, as site/line (all when unset)."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLANTWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- connections -------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "PLANTWATCH_DATABASE_URL"),
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). Unset: `up` starts an "
        "embedded PostgreSQL with its data under var_dir.",
    )
    mqtt_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MQTT_URL", "PLANTWATCH_MQTT_URL"),
        description="MQTT broker URL (mqtt://user:pass@host:1883, mqtts:// for TLS). Unset: `up` starts "
        "an embedded broker (mosquitto from PATH, else amqtt).",
    )
    var_dir: Path = Field(
        default=Path("var"), description="Where embedded services, logs and artifacts keep their files."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of every component."
    )
    metrics_port: int | None = Field(
        default=None,
        description="Port on which a long-running process (ingest, scheduler, simulator) serves Prometheus "
        "/metrics; unset: none. Give each process its own (`up` does).",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address the /metrics endpoint listens on.")

    # --- embedded services (used by `up` only when the URLs above are unset) --------------------
    embedded_mqtt_broker: Literal["auto", "mosquitto", "amqtt"] = Field(
        default="auto",
        description="Which embedded broker `up` starts: `auto` prefers mosquitto from PATH, else amqtt.",
    )
    embedded_mqtt_port: int = Field(
        default=18830,
        description="Port of the embedded MQTT broker; a free port is chosen when it is taken "
        "(never 1883, where a production broker usually listens).",
    )

    # --- MQTT ------------------------------------------------------------------------------------
    mqtt_topic_root: str = Field(
        default="plantwatch/v1", description="Topic prefix of the wire contract (docs/protocol.md)."
    )
    mqtt_client_id: str = Field(
        default="plantwatch-ingest", description="Client id of the ingestor (its persistent session)."
    )
    mqtt_ca_file: Path | None = Field(default=None, description="CA bundle for mqtts:// brokers.")
    mqtt_cert_file: Path | None = Field(default=None, description="Client certificate for mqtts://.")
    mqtt_key_file: Path | None = Field(default=None, description="Client key for mqtts://.")
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto",
        description="MQTT version of the ingestor: `auto` tries MQTT 5 and falls back to 3.1.1 when the "
        "broker does not answer it (amqtt is 3.1.1 only).",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="MQTT 5 Session Expiry Interval of the ingestor's persistent session: how long the "
        "broker keeps its subscription and unacknowledged messages while it is away.",
    )
    mqtt_receive_maximum: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="MQTT 5 Receive Maximum (unacknowledged messages in flight to an ingestor); unset: "
        "4 x ingest_batch_messages, so that batches fill while the previous one commits.",
    )

    # --- ingest ----------------------------------------------------------------------------------
    ingest_batch_messages: int = Field(
        default=500, ge=1, description="Messages per database batch (flushed earlier by time)."
    )
    ingest_flush_ms: int = Field(
        default=200, ge=1, description="Longest wait before a partial batch is written."
    )
    ingest_max_payload_bytes: int = Field(
        default=65536, ge=256, description="Larger MQTT payloads are dead-lettered as `too_large`."
    )
    ingest_max_future_s: int = Field(
        default=300, ge=0, description="Readings stamped further in the future are dead-lettered."
    )
    ingest_auto_register: bool = Field(
        default=True, description="Register unknown machines and sensors on first sight."
    )
    ingest_shared_group: str | None = Field(
        default=None,
        description="MQTT 5 shared-subscription group (`$share/<group>/...`) that ingest replicas join to "
        "share the load (docker-compose.yml sets `plantwatch`); unset: a plain subscription, for a single "
        "ingestor. docs/scaling.md explains how to add and retire replicas.",
    )
    ingest_spool_max_bytes: int = Field(
        default=1 << 30,
        ge=0,
        description="Size of the local durable spool (under var_dir/spool/<client id>) that takes batches "
        "while PostgreSQL is down or slow; when full, ingest stops acknowledging. 0: no spool.",
    )
    ingest_slow_commit_s: float = Field(
        default=5.0,
        gt=0,
        description="A batch not committed within this many seconds goes to the spool instead, and so do "
        "the following ones until the spool is drained.",
    )
    ingest_allowed_machines: list[str] = Field(
        default_factory=lambda: ["*/*/*"],
        min_length=1,
        description="Which unknown machines may be auto-registered: fnmatch patterns over the path "
        'site/line/machine (JSON list, e.g. ["site-1/*"]; `*` also matches `/`). Registered machines '
        "are always accepted; others are dead-lettered as `not_allowed`.",
    )
    ingest_max_new_machines_per_hour: int = Field(
        default=1000,
        ge=0,
        description="At most this many machines registered in any hour (all ingestors together); "
        "beyond it, new machines are dead-lettered as `registration_cap`.",
    )
    ingest_replay_poll_s: float = Field(
        default=5.0,
        gt=0,
        description="How often an ingestor replays the dead letters whose replay was asked for "
        "through the API.",
    )

    # --- inspection images -------------------------------------------------------------------------
    images_dir: Path | None = Field(
        default=None,
        description="Folder of the inspection images, stored by content (<sha256[:2]>/<sha256[2:4]>/"
        "<sha256>.<ext>); ingest, the API and the scheduler must all see the same folder. "
        "Unset: var_dir/images.",
    )
    image_max_bytes: int = Field(
        default=10 << 20,
        ge=1024,
        description="Largest inspection image accepted (bytes of the JPEG, PNG or BMP file); larger ones "
        "are refused as `image_too_large` (HTTP 413 on upload).",
    )

    # --- API -------------------------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, description="Port the API listens on.")
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where clients (dashboard, simulator) reach the API.",
    )
    api_key: str | None = Field(
        default=None, description="API key the dashboard and simulator send (X-API-Key)."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (JSON list).")
    api_max_page: int = Field(default=1000, ge=1, description="Largest page any list endpoint returns.")
    api_max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body accepted, except image uploads (image_max_bytes); larger ones "
        "are refused with HTTP 413 before they are read.",
    )
    api_max_concurrency: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Requests the API serves at once (each with a database connection); more wait in line.",
    )
    api_key_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="Seconds an API key, once checked, is trusted without asking the database again (0: "
        "every request asks). A key revoked in another process stops working within this time.",
    )
    api_answer_cache: int = Field(
        default=256,
        ge=0,
        description="Answers of the heaviest reads (fleet health, alert lists) each API process keeps, "
        "served again until a write changes the data behind them (0: none kept).",
    )
    api_series_cache_mb: int = Field(
        default=256,
        ge=0,
        description="MiB of bucketed readings each API process keeps (past hours of a sensor's 1-minute "
        "buckets, past days of its 1-hour ones), served again until a backfill or retention changes "
        "them (0: none kept).",
    )
    api_workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="API worker processes (`plantwatch api`); more use more cores. Their request "
        "metrics are added up (Prometheus multiprocess mode, in PROMETHEUS_MULTIPROC_DIR or a temporary "
        "directory).",
    )
    api_metrics: bool = Field(
        default=False,
        description="Serve Prometheus metrics at /metrics on the API itself (request rate and latency, "
        "ingest lag, model versions), open to anyone who reaches the API.",
    )

    # --- dashboard -------------------------------------------------------------------------------
    dashboard_host: str = Field(default="127.0.0.1", description="Address the dashboard listens on.")
    dashboard_port: int = Field(default=8501, description="Port of the Streamlit dashboard.")
    dashboard_refresh_s: int = Field(default=10, ge=0, description="Auto-refresh period of pages (0: off).")

    # --- simulator -------------------------------------------------------------------------------
    simulate_sites: int = Field(default=1, ge=1, description="Simulated sites.")
    simulate_lines: int = Field(default=2, ge=1, description="Simulated lines per site.")
    simulate_machines: int = Field(default=5, ge=1, description="Simulated machines per line.")
    simulate_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between readings of a machine."
    )
    simulate_seed: int = Field(default=7, description="Random seed of the simulator.")

    # --- scheduler and jobs ----------------------------------------------------------------------
    silent_after_s: int = Field(
        default=300, ge=1, description="A machine with no reading for this long raises a `silent` alert."
    )
    silent_check_interval_s: int = Field(default=60, ge=1, description="Period of the silent-machine check.")
    job_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="A job failing for a transient reason (database or network gone) is tried again this "
        "many times.",
    )
    job_retry_base_s: float = Field(
        default=5.0, ge=0, description="First wait before a job's retry; it doubles on each further retry."
    )
    train_timeout_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="A training (RUL or QC, scheduled or requested) still running after this long is stopped "
        "and its run recorded as failed.",
    )
    job_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="No database statement of a job runs longer (PostgreSQL statement_timeout); training "
        "runs in its worker process with its own connection and is not bound by it.",
    )
    partition_days_ahead: int = Field(default=7, ge=1, description="Daily readings partitions kept ahead.")
    rollup_interval_s: int = Field(
        default=60, ge=1, description="Period of the `rollups` job (1-minute and 1-hour reading aggregates)."
    )
    rollup_lateness_s: int = Field(
        default=600,
        ge=0,
        description="Each `rollups` run recomputes this much before its last watermark, so readings that "
        "arrive up to this late are in the aggregates; older ones need a backfill request (start, end).",
    )
    job_request_poll_s: float = Field(
        default=2.0, gt=0, description="How often the scheduler picks up job requests from the API."
    )
    leader_lock_key: int = Field(
        default=0x706C616E74776368,  # "plantwch" in ASCII
        ge=-(1 << 63),
        lt=1 << 63,
        description="Key of the PostgreSQL advisory lock that the leading scheduler holds: of the "
        "schedulers on one database with the same key, only the one holding it fires jobs and serves "
        "job requests. Change it only to run two separate plantwatch installations in one database.",
    )
    leader_check_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often the leading scheduler checks the connection that holds its lock; a failed "
        "check makes it step down at once (and try again after leader_retry_interval_s).",
    )
    leader_check_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Statement (and network) timeout of that check. A leader with no good check for "
        "leader_check_interval_s + 2 x this stops leading, and PostgreSQL ends its session "
        "(idle_session_timeout), which frees the lock for another scheduler.",
    )
    leader_retry_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a following scheduler tries to take the leader lock: when the leader dies, "
        "another scheduler takes over within about this long.",
    )
    # --- retention (the daily `retention` job) ------------------------------------------------------
    retention_raw_days: int = Field(
        default=30,
        ge=1,
        description="Raw readings older than this many days are dropped, a whole daily partition at a "
        "time, except days in the training data of a champion or candidate RUL or health model and "
        "days not rolled up yet.",
    )
    retention_1m_days: int = Field(
        default=365,
        ge=1,
        description="1-minute rollups older than this many days are deleted; 1-hour rollups are kept "
        "forever.",
    )
    retention_predictions_days: int = Field(
        default=90,
        ge=1,
        description="Predictions older than this many days are deleted, except each active machine's "
        "latest one.",
    )
    retention_job_runs_days: int = Field(
        default=90,
        ge=1,
        description="Finished job runs older than this many days are deleted, except each job's latest "
        "finished run; running ones are kept.",
    )
    retention_dead_letters_days: int = Field(
        default=30,
        ge=1,
        description="Dead letters are deleted this many days after they were replayed or, when never "
        "replayed, received; never while a replay is pending.",
    )
    # --- RUL training ------------------------------------------------------------------------------
    rul_resample_s: int = Field(
        default=0,
        ge=0,
        description="RUL training: one cycle per this many seconds (mean of the readings in it); "
        "0 takes every reading as one cycle.",
    )
    rul_window: int = Field(default=30, ge=2, description="RUL training: cycles in one input window.")
    rul_cap: float = Field(
        default=125.0, gt=0, description="RUL training: cap of the piecewise-linear target, in cycles."
    )
    rul_min_history: int = Field(
        default=0,
        ge=0,
        description="RUL training also learns from windows after this many cycles of a run, padded with "
        "its first cycle, so that scoring gives a machine with a shorter history a RUL; 0: only after a "
        "full window. At most PLANTWATCH_RUL_WINDOW.",
    )
    rul_epochs: int = Field(default=30, ge=1, description="RUL training: most epochs (early stopping).")
    rul_lstm_units: int = Field(default=32, ge=1, description="RUL training: units of the LSTM layer.")
    rul_min_failed_runs: int = Field(
        default=3, ge=1, description="RUL training: runs ended in failure needed before a model is trained."
    )
    rul_promotion_metric: str = Field(
        default="rmse", description="RUL promotion: metric compared (lower is better) with the champion's."
    )
    rul_promotion_margin: float = Field(
        default=0.0,
        ge=0,
        description="RUL promotion: a candidate must beat the champion by more than this fraction "
        "of the champion's metric (0.05 = 5 %) to replace it.",
    )
    rul_train_hour: int = Field(
        default=2,
        ge=0,
        le=23,
        description="Hour of the nightly RUL training, in each site's time zone (sites.timezone).",
    )
    rul_horizon: float = Field(
        default=30.0,
        gt=0,
        description="RUL training: the failure probability is that of failing within this many cycles.",
    )
    # --- Scoring and health ------------------------------------------------------------------------
    score_interval_s: int = Field(
        default=300, ge=10, description="Period of the `score_machines` job (predictions for every machine)."
    )
    score_stale_after_s: int = Field(
        default=900,
        ge=1,
        description="Scoring: a machine whose newest reading is older than this gets no prediction "
        "(withheld, with the reason) instead of one from old data.",
    )
    health_refit_hours: float = Field(
        default=24.0,
        gt=0,
        description="Scoring: the health baseline (normal operation) of a machine type is refitted "
        "when it is older than this.",
    )
    health_healthy_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Health baseline: the first fraction of each run (since the last failure or "
        "maintenance) taken as normal operation.",
    )
    # --- Quality control (inspection images) -------------------------------------------------------
    qc_train_hour: int = Field(
        default=3,
        ge=0,
        le=23,
        description="Hour of the nightly QC training of each line, in its site's time zone.",
    )
    qc_epochs: int = Field(default=40, ge=1, description="QC training: most epochs (early stopping).")
    qc_image_size: int = Field(
        default=128, ge=8, le=1024, description="QC training: images are resized to this many pixels square."
    )
    qc_min_images_per_class: int = Field(
        default=10,
        ge=1,
        description="QC training: labelled images needed in every class before a model is trained.",
    )
    qc_evaluation_fraction: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="QC training: share of the labelled images held out to evaluate (chosen by image hash, "
        "so the same images stay held out from one training to the next).",
    )
    qc_review_threshold: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="A classification with a confidence below this is flagged for review.",
    )
    qc_promotion_margin: float = Field(
        default=0.0,
        ge=0,
        description="QC promotion: a candidate's error rate must beat the champion's, on the same held-out "
        "images, by more than this fraction of it.",
    )
    qc_classify_poll_s: float = Field(
        default=1.0, gt=0, description="How often the classifier looks for new inspection images."
    )
    qc_classify_batch: int = Field(
        default=64, ge=1, description="Inspection images the classifier takes at a time."
    )
    qc_good_labels: list[str] = Field(
        default_factory=lambda: ["ok", "good", "pass", "no_defect"],
        description="Classes that mean a good part (JSON list); every other class counts as a defect in the "
        "quality statistics.",
    )
    quality_bucket_s: int = Field(
        default=3600, ge=60, description="Quality statistics: length of one p-chart sample, in seconds."
    )
    quality_baseline_buckets: int = Field(
        default=168,
        ge=2,
        description="Quality statistics: the control limits come from this many samples before the "
        "one judged.",
    )

    # --- alerts and notifications -------------------------------------------------------------------
    alert_interval_s: int = Field(default=60, ge=1, description="Period of the alert rules' evaluation.")
    alert_rul_warning: float = Field(
        default=50.0, ge=0, description="Default rule `rul_low`: warning when predicted RUL is at most this."
    )
    alert_rul_critical: float = Field(
        default=20.0, ge=0, description="Default rule `rul_low`: critical when predicted RUL is at most this."
    )
    alert_rul_hysteresis: float = Field(
        default=10.0,
        ge=0,
        description="Default rule `rul_low`: RUL must rise this far above a threshold before the alert "
        "steps down or resolves.",
    )
    alert_failure_probability_warning: float = Field(
        default=0.5, ge=0, le=1, description="Default rule `failure_probability_high`: warning threshold."
    )
    alert_failure_probability_critical: float = Field(
        default=0.8, ge=0, le=1, description="Default rule `failure_probability_high`: critical threshold."
    )
    alert_failure_probability_hysteresis: float = Field(
        default=0.1, ge=0, le=1, description="Default rule `failure_probability_high`: hysteresis."
    )
    alert_min_duration_s: int = Field(
        default=300,
        ge=0,
        description="Default for every rule: a condition must hold this long before its alert opens or "
        "its severity rises.",
    )
    alert_stuck_after_s: int = Field(
        default=1800,
        ge=60,
        description="Rule `sensor_stuck`: a sensor reporting the very same value for this long is stuck.",
    )
    alert_escalate_after_s: int = Field(
        default=1800,
        ge=60,
        description="An alert still open (not acknowledged) this long after it opened is escalated once.",
    )
    alert_routes: list[AlertRoute] = Field(
        default_factory=list,
        description="Notification recipients (JSON list of {channel, target, events, rules, min_severity, "
        "lines}); see docs/alerts.md. Every alert is also published on MQTT (alert_mqtt).",
    )
    alert_mqtt: bool = Field(
        default=True,
        description="Publish every alert change on plantwatch/v1/{site}/{line}/{machine}/alerts (retained).",
    )
    notify_interval_s: int = Field(default=10, ge=1, description="Period of the notification delivery job.")
    notify_max_attempts: int = Field(
        default=8, ge=1, description="Delivery attempts of one notification before it is marked failed."
    )
    notify_retry_base_s: float = Field(
        default=30.0, gt=0, description="First retry delay of a failed delivery; doubles on every attempt."
    )
    webhook_secret: str | None = Field(
        default=None,
        description="Key of the HMAC-SHA256 signature of webhook bodies (header X-Plantwatch-Signature); "
        "unsigned when unset.",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail notifications.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP login (none when unset).")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(default="plantwatch@localhost", description="Sender of alert e-mails.")

    @model_validator(mode="after")
    def _min_history_within_window(self) -> Settings:
        if self.rul_min_history > self.rul_window:
            raise ValueError(
                f"PLANTWATCH_RUL_MIN_HISTORY ({self.rul_min_history}) must not exceed "
                f"PLANTWATCH_RUL_WINDOW ({self.rul_window})"
            )
        return self

    @property
    def images_directory(self) -> Path:
        """Where inspection images are stored: `images_dir`, or var_dir/images when it is unset."""
        return self.images_dir if self.images_dir is not None else self.var_dir / "images"


@lru_cache
def get_settings() -> Settings:
    return Settings()
