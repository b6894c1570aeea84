"""bench.alerts: how timelines become lives and figures, the baseline, the notification keys, the CLI.

No stack and no training here (a full run takes about ten minutes; its result is in docs/benchmarks.md).
"""

from __future__ import annotations

import time

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.alerts import parse_args
from bench.alerts_figures import (
    Timeline,
    baseline_age,
    counted,
    figures,
    lives_of,
    prediction_error,
    with_age_alerts,
)
from bench.alerts_notify import NotificationSink, event_key
from bench.alerts_stack import clock_env
from plantwatch.embedded import EmbeddedBroker


def test_an_engine_from_new_to_failure_gives_leads_and_false_alarms_in_cycles() -> None:
    # Ten cycles at t = 1..10, failure at the last; alerts opened between cycles 3 and 4, and at 7.
    engine = Timeline(
        "cmapss/holdout/engine-001",
        stamps=[float(t) for t in range(1, 11)],
        failures=[(10.0, 10)],
        alerts=[3.5, 7.0],
        predictions=[(8.0, 1.0), (9.0, 2.0)],
        new_at_start=True,
    )
    (life,) = lives_of(engine)
    assert (life.start, life.end, life.failed, life.start_age, life.alerts) == (0, 9, True, 1, (2, 6))
    result = figures(counted([life], min_observed=100), lead=2, horizon=5)
    # First alert 7 cycles ahead (caught); it is also more than H = 5 ahead: one false alarm in 10 cycles.
    assert result["recall"] == 1.0 and result["median_lead"] == 7 and result["p10_lead"] == 7
    assert (result["false_alarms"], result["machine_cycles"], result["false_alarm_rate"]) == (1, 10, 10.0)
    assert result["recall_within_h"] == 1.0  # the alert at cycle 7 came 3 cycles ahead
    # True RUL 2 and 1 at the two predictions, predicted 1 and 2.
    assert prediction_error([life], horizon=5) == {"n": 2, "rmse": 1.0, "bias": 0.0}


def test_a_missed_failure_counts_with_lead_zero() -> None:
    late = Timeline("m", stamps=[1.0, 2.0, 3.0], failures=[(3.0, 3)], alerts=[5.0], new_at_start=True)
    result = figures(lives_of(late), lead=1, horizon=10)
    assert result["recall"] == 0.0 and result["median_lead"] == 0 and result["false_alarms"] == 0


def test_repaired_machine_lives_and_what_counts() -> None:
    # A first life seen part-way (age 50 at its failure, 5 readings), down, repaired at t=6, then 10
    # readings still running. An alert opened while down falls on the failing reading (lead 0); one
    # opened 8 cycles before the end of the running life is a false alarm for H = 5.
    machine = Timeline(
        "site-2/line-1/press-01",
        stamps=[0.0, 1.0, 2.0, 3.0, 4.0, *(float(t) for t in range(7, 17))],
        failures=[(4.0, 50)],
        repairs=[6.0],
        alerts=[5.0, 8.0],
    )
    first, second = lives_of(machine)
    assert (first.start, first.end, first.failed, first.start_age, first.alerts) == (0, 4, True, 46, (4,))
    assert (second.start, second.end, second.failed, second.start_age, second.alerts) == (
        5,
        14,
        False,
        1,
        (6,),
    )
    assert counted([first, second], min_observed=10) == [second]  # too little of the first life seen
    assert len(counted([first, second], min_observed=5)) == 2
    result = figures([second], lead=2, horizon=5)
    assert result["failures"] == 0 and result["recall"] is None
    assert (result["false_alarms"], result["machine_cycles"], result["false_alarm_rate"]) == (1, 5, 20.0)


def test_fixed_age_baseline_alerts_once_per_life_at_its_age() -> None:
    engine = Timeline("e", stamps=[float(t) for t in range(20)], failures=[(19.0, 20)], new_at_start=True)
    (life,) = with_age_alerts(lives_of(engine), age=6)
    assert life.alerts == (5,)  # age 6 is the sixth reading
    assert with_age_alerts(lives_of(engine), age=30)[0].alerts == ()  # failed before reaching it
    # 95% of these training lives last at least 150 cycles: alert at 150 - L.
    assert baseline_age([150] * 19 + [400], lead=10, target_recall=0.95) == 140


def test_webhook_deliveries_are_keyed_by_alert_and_event() -> None:
    body = {"alert_id": 3, "event": "opened", "event_at": "2026-11-23T23:00:00+00:00", "rule": "rul_low"}
    assert event_key(body) == (3, "opened", "2026-11-23T23:00:00+00:00")
    assert event_key({"alert_id": 3, "event": "opened"}) is None and event_key([1]) is None


def test_the_sink_counts_a_redelivered_webhook_and_mqtt_beyond_what_was_sent(
    mqtt_broker: EmbeddedBroker,
) -> None:
    sink = NotificationSink(mqtt_broker.port)
    try:
        body = {"alert_id": 3, "event": "opened", "event_at": "t"}
        for delivery in ("1", "1", "2"):  # 1 again (same id, same event); 2: same event, new id
            httpx.post(sink.url, json=body, headers={"X-Plantwatch-Delivery": delivery}).raise_for_status()
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
        publisher.connect("127.0.0.1", mqtt_broker.port)
        publisher.loop_start()
        for _ in range(3):
            publisher.publish("plantwatch/v1/s/l/m/alerts", "{}", qos=1).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
        deadline = time.monotonic() + 10
        while sink.mqtt.received < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        result = sink.figures(present=True, sent={"webhook": 2, "mqtt": 2})
    finally:
        sink.close()
    webhook, mqtt_figures = result["notifications"]["webhook"], result["notifications"]["mqtt"]
    assert (webhook["received"], webhook["duplicate_ids"], webhook["duplicate_events"]) == (3, 1, 2)
    assert mqtt_figures == {"received": 3, "sent": 2, "surplus": 1}
    assert result["duplicate_notifications"] == 2 + 1
    assert sink.figures(present=False, sent={})["duplicate_notifications"] is None


def test_cli_defaults_and_the_compressed_clock() -> None:
    args = parse_args([])
    assert (args.lead, args.horizon, args.pace, args.score_interval_s, args.simulated) == (
        10,
        60,
        1.0,
        10,
        False,
    )
    assert parse_args(["--simulated"]).pace == 0.5
    env = clock_env(pace_s=0.5, score_interval_s=10, min_duration_cycles=4)
    assert env["PLANTWATCH_SCORE_INTERVAL_S"] == "10" and env["PLANTWATCH_ALERT_MIN_DURATION_S"] == "2"
    assert env["PLANTWATCH_SCORE_STALE_AFTER_S"] == "30" and env["PLANTWATCH_ALERT_INTERVAL_S"] == "1"
