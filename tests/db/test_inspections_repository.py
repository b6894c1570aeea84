"""db.repositories.inspections against PostgreSQL: idempotent add, filters, keyset pages, relabel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.images import check_image
from db.repositories import inspections as repo
from db.tables import Inspection, Line
from tests.image_samples import image_bytes

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def new(
    line_id: int, seed: int, *, station: str = "cam-1", minutes: int = 0, label: str | None = None
) -> repo.NewInspection:
    image = check_image(image_bytes("PNG", seed=seed), max_bytes=1 << 20)
    return repo.NewInspection(
        line_id=line_id,
        station=station,
        part_id=f"P-{seed}",
        taken_at=T0 + timedelta(minutes=minutes),
        image=image,
        image_path=image.relative_path,
        known_label=label,
        labelled_by="tester" if label else None,
        labelled_at=T0 if label else None,
    )


def test_lines_are_registered_once(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        assert repo.find_line(session, "s1", "l1") is None
        first = repo.register_line(session, "s1", "l1")
        assert repo.register_line(session, "s1", "l1") == first
        assert repo.register_line(session, "s2", "l1") != first
        assert repo.count_lines_created_since(session, datetime.now(UTC) - timedelta(hours=1)) == 2


def test_add_is_idempotent_by_hash(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        line_id = repo.register_line(session, "s1", "l1")
        first, created = repo.add_inspection(session, new(line_id, 1, label="scratches"))
        assert created and first.known_label == "scratches" and first.labelled_by == "tester"
        again, created_again = repo.add_inspection(session, new(line_id, 1, station="cam-2"))
        assert not created_again and again.id == first.id and again.station == "cam-1"
        assert repo.find_by_sha256(session, first.image_sha256) is first
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Inspection)) == 1
        row = repo.get_inspection(session, first.id)
        assert row is not None and (row.site, row.line) == ("s1", "l1")
        assert (row.inspection.width, row.inspection.height) == (32, 24)
        assert repo.get_inspection(session, first.id + 1) is None


def test_filters_and_keyset_pages(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        l1 = repo.register_line(session, "s1", "l1")
        l2 = repo.register_line(session, "s1", "l2")
        for seed in range(6):  # l1: minutes 0..5, labels alternate; two at the same minute on l2
            repo.add_inspection(session, new(l1, seed, minutes=seed, label="ok" if seed % 2 else None))
        repo.add_inspection(session, new(l2, 10, station="cam-9", minutes=3))
        repo.add_inspection(session, new(l2, 11, station="cam-9", minutes=3))
        flagged = session.scalars(select(Inspection).where(Inspection.part_id == "P-2")).one()
        flagged.predicted_label, flagged.needs_review = "scratches", True

    def ids(where: repo.InspectionFilter) -> list[str | None]:
        with session_factory() as session:
            return [row.inspection.part_id for row in repo.list_inspections(session, where)]

    everything = ids(repo.InspectionFilter())
    assert everything[:4] == ["P-5", "P-4", "P-11", "P-10"]  # newest first; ties by id, newest first
    assert len(everything) == 8
    assert ids(repo.InspectionFilter(line="l2")) == ["P-11", "P-10"]
    assert ids(repo.InspectionFilter(site="s1", station="cam-9")) == ["P-11", "P-10"]
    assert ids(repo.InspectionFilter(label="ok")) == ["P-5", "P-3", "P-1"]
    assert ids(repo.InspectionFilter(labelled=False, line="l1")) == ["P-4", "P-2", "P-0"]
    assert ids(repo.InspectionFilter(predicted="scratches")) == ["P-2"]
    assert ids(repo.InspectionFilter(needs_review=True)) == ["P-2"]
    window = repo.InspectionFilter(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert ids(window) == ["P-2", "P-1"]
    assert ids(repo.InspectionFilter(site="nowhere")) == []

    pages: list[str | None] = []
    before = None
    while True:
        with session_factory() as session:
            rows = repo.list_inspections(session, repo.InspectionFilter(), before=before, limit=3)
        pages += [row.inspection.part_id for row in rows]
        if len(rows) < 3:
            break
        before = (rows[-1].inspection.taken_at, rows[-1].inspection.id)
    assert pages == everything


def test_relabel_records_who_and_settles_the_review(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        line_id = repo.register_line(session, "s1", "l1")
        inspection, _ = repo.add_inspection(session, new(line_id, 1))
        inspection.needs_review = True
        when = datetime(2026, 11, 2, tzinfo=UTC)
        repo.relabel(session, inspection, "crazing", by="engineer-key", at=when)
        assert (inspection.known_label, inspection.labelled_by, inspection.labelled_at) == (
            "crazing",
            "engineer-key",
            when,
        )
        assert inspection.needs_review is False
        repo.relabel(session, inspection, None, by="admin-key", at=when)
        assert inspection.known_label is None and inspection.labelled_by == "admin-key"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Line)) == 1


def test_text_rules() -> None:
    assert repo.check_label("rolled-in_scale") is None
    assert repo.check_label("bad label") is not None
    assert repo.check_label("x" * 65) is not None
    assert repo.check_part_id("P-0001 / lot 7") is None
    for bad in ("", " P", "P\x00", "P\n", "x" * 129):
        assert repo.check_part_id(bad) is not None
    assert repo.check_name("station", "cam-1") is None
    assert repo.check_name("station", "cam/1") is not None
