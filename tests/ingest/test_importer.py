"""CSV import of readings (long and wide shapes) into a real PostgreSQL: grouping, bad rows, idempotency."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.partitions import existing_partitions
from db.repositories.assets import get_machine_by_path, sensor_positions
from ingest.importer import CsvFormatError, import_readings_csv
from plantwatch.settings import Settings
from tests.ingest.helpers import count

LONG = """\
machine,ts,sensor,value
site-a/line-1/lathe-01,2024-03-01T08:00:00Z,vibration_rms,1.5
site-a/line-1/lathe-01,2024-03-01T08:00:00Z,bearing_temp_c,41.0
site-a/line-1/lathe-01,2024-03-01T08:00:01Z,vibration_rms,1.6
site-a/line-1/lathe-01,not-a-time,vibration_rms,1.7
site-a/line-1/lathe-01,2024-03-01T08:00:02Z,vibration_rms,nan
site-a/lathe-01,2024-03-01T08:00:02Z,vibration_rms,1.0
site-a/line-1/lathe-01,2024-03-01T08:00:02Z,bad name,1.0
site-a/line-1/lathe-01,2024-03-01T08:00:03Z,vibration_rms
site-b/line-2/pump-07,1709280000000,oil_pressure_bar,4.25
site-a/line-1/lathe-01,2024-03-01T08:00:01Z,vibration_rms,9.9
"""

WIDE = """\
machine,ts,vibration_rms,bearing_temp_c,oil_pressure_bar
site-a/line-1/lathe-01,2024-03-02T08:00:00+01:00,1.5,40.5,
site-a/line-1/lathe-01,2024-03-02T08:00:01+01:00,,41.0,4.0
site-a/line-1/lathe-01,2024-03-02T08:00:02+01:00,,,
site-a/line-1/lathe-01,2024-03-02T08:00:03+01:00,x,1,2
site-a/line-1/lathe-01,2024-03-02T08:00:04,1,1,2
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_long_csv(settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = write(tmp_path, "long.csv", LONG)
    summary = import_readings_csv(settings, path, show_progress=False)
    assert summary.shape == "long" and summary.rows == 10
    assert summary.accepted == 3 and summary.readings == 3
    assert summary.bad_rows == 6
    lines = [e.split(":")[0] for e in summary.errors]
    assert lines == ["line 5", "line 6", "line 7", "line 8", "line 9", "line 11"]
    assert "not an RFC 3339" in summary.errors[0] and "finite" in summary.errors[1]
    assert "site/line/machine" in summary.errors[2] and "columns" in summary.errors[4]
    assert "another value" in summary.errors[5]
    with session_factory() as session:
        lathe = get_machine_by_path(session, "site-a/line-1/lathe-01")
        assert lathe is not None
        positions = sensor_positions(session, lathe.id)
        first = session.execute(
            text('SELECT "values" FROM readings WHERE machine_id = :m ORDER BY ts LIMIT 1'), {"m": lathe.id}
        ).scalar_one()
        assert first[positions["vibration_rms"] - 1] == 1.5 and first[positions["bearing_temp_c"] - 1] == 41.0
        assert "readings_20240301" in existing_partitions(session)

    again = import_readings_csv(settings, path, show_progress=False)
    assert (again.accepted, again.duplicates, again.bad_rows) == (0, 3, 6)
    assert count(session_factory, "SELECT count(*) FROM readings") == 3
    assert count(session_factory, "SELECT count(*) FROM dead_letters") == 0


def test_wide_csv(settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    summary = import_readings_csv(settings, write(tmp_path, "wide.csv", WIDE), show_progress=False)
    assert summary.shape == "wide"
    assert (summary.rows, summary.accepted, summary.bad_rows) == (5, 2, 3)
    assert [e.split(":")[0] for e in summary.errors] == ["line 4", "line 5", "line 6"]
    assert "no UTC offset" in summary.errors[2]
    with session_factory() as session:
        stamps = session.execute(text("SELECT ts FROM readings ORDER BY ts")).scalars().all()
        assert [ts.isoformat() for ts in stamps] == ["2024-03-02T07:00:00+00:00", "2024-03-02T07:00:01+00:00"]


def test_readings_split_across_chunks_stay_whole(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = ["machine,ts,sensor,value"]
    for second in range(30):
        for sensor in ("a", "b", "c"):
            rows.append(f"s/l/m,2024-03-01T00:00:{second:02d}Z,{sensor},{second}")
    summary = import_readings_csv(settings, write(tmp_path, "many.csv", "\n".join(rows)), chunk_size=4)
    assert (summary.accepted, summary.readings, summary.bad_rows) == (30, 30, 0)
    assert sum(summary.dead_letters.values()) == 0
    assert count(session_factory, 'SELECT count(*) FROM readings WHERE cardinality("values") = 3') == 30


def test_conflicting_reimport_is_dead_lettered(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    import_readings_csv(settings, write(tmp_path, "a.csv", "machine,ts,x\ns/l/m,2024-03-01T00:00:00Z,1\n"))
    summary = import_readings_csv(
        settings, write(tmp_path, "b.csv", "machine,ts,x\ns/l/m,2024-03-01T00:00:00Z,2\n")
    )
    assert summary.dead_letters == {"conflict": 1}
    assert count(session_factory, "SELECT count(*) FROM dead_letters WHERE reason = 'conflict'") == 1


@pytest.mark.parametrize(
    "header",
    ["machine,time,sensor,value", "ts,machine,a", "machine,ts", "machine,ts,a,a", "machine,ts,bad col"],
)
def test_unknown_headers_stop_before_writing(settings: Settings, tmp_path: Path, header: str) -> None:
    with pytest.raises(CsvFormatError):
        import_readings_csv(settings, write(tmp_path, "bad.csv", f"{header}\ns/l/m,2024-03-01T00:00:00Z,1\n"))


def test_imported_history_reaches_the_rollups(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    csv_file = tmp_path / "old.csv"
    csv_file.write_text(
        "machine,ts,vibration_rms\n"
        "s1/l1/m1,2024-03-01T10:00:10Z,1.0\n"
        "s1/l1/m1,2024-03-01T10:00:50Z,3.0\n"
        "s1/l1/m1,2024-03-01T10:01:10Z,5.0\n"
    )
    import_readings_csv(settings, csv_file, show_progress=False)
    with session_factory() as session:
        minutes = session.execute(text("SELECT bucket, n[1], avg[1] FROM readings_1m ORDER BY bucket")).all()
        hours = session.execute(text("SELECT n[1], avg[1] FROM readings_1h")).all()
    assert [(b.minute, n, avg) for b, n, avg in minutes] == [(0, 2, 2.0), (1, 1, 5.0)]
    assert hours == [(3, 3.0)]
