"""`plantwatch import-images DIR` against the test database: a generated tree, and a few NEU images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from db.tables import Inspection
from plantwatch.cli import app
from plantwatch.settings import get_settings
from tests.conftest import SHARED_DATA
from tests.image_samples import image_bytes

WHERE = ["--site", "s1", "--line", "l1", "--station", "cam-1"]


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PLANTWATCH_IMAGES_DIR", str(tmp_path / "images"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def tree(root: Path) -> Path:
    """Two classes of three images each, one unlabelled image, and a file that is no image."""
    for number, label in enumerate(["crazing", "scratches"]):
        folder = root / label
        folder.mkdir(parents=True)
        for index in range(3):
            (folder / f"{label}_{index}.jpg").write_bytes(image_bytes(seed=10 * number + index))
    (root / "loose.png").write_bytes(image_bytes("PNG", seed=99))
    (root / "notes.txt").write_text("not an image")
    return root


def rows(factory: sessionmaker[Session]) -> list[tuple[str | None, str | None]]:
    with factory() as session:
        query = select(Inspection.part_id, Inspection.known_label).order_by(Inspection.part_id)
        return [(part, label) for part, label in session.execute(query)]


def test_import_is_idempotent(cli: CliRunner, tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    root = tree(tmp_path / "data")
    first = cli.invoke(app, ["import-images", str(root), *WHERE])
    assert first.exit_code == 0, first.output
    assert "7 images: 7 imported, 0 already stored, 0 refused" in first.output
    assert rows(session_factory) == [
        ("crazing_0", "crazing"),
        ("crazing_1", "crazing"),
        ("crazing_2", "crazing"),
        ("loose", None),
        ("scratches_0", "scratches"),
        ("scratches_1", "scratches"),
        ("scratches_2", "scratches"),
    ]
    with session_factory() as session:
        labelled_by = session.execute(select(Inspection.known_label, Inspection.labelled_by)).all()
    assert {(label is None, by) for label, by in labelled_by} == {(True, None), (False, "import-images")}
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == 6
    again = cli.invoke(app, ["import-images", str(root), *WHERE])
    assert again.exit_code == 0, again.output
    assert "7 images: 0 imported, 7 already stored, 0 refused" in again.output
    assert len(rows(session_factory)) == 7


def test_limit_per_class_and_refusals(
    cli: CliRunner, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    root = tree(tmp_path / "data")
    (root / "crazing" / "broken.jpg").write_bytes(image_bytes(seed=50)[:100])
    limited = cli.invoke(app, ["import-images", str(root), *WHERE, "--limit", "1"])
    assert limited.exit_code == 1, limited.output  # crazing's first file (by name) is the broken one
    assert "3 images: 2 imported, 0 already stored, 1 refused (image_corrupt 1)" in limited.output
    assert "broken.jpg: image_corrupt" in limited.output
    assert [label for _, label in rows(session_factory)] == [None, "scratches"]


def test_bad_trees_and_names(cli: CliRunner, tmp_path: Path) -> None:
    root = tree(tmp_path / "data")
    (root / "bad class").mkdir()
    refused = cli.invoke(app, ["import-images", str(root), *WHERE])
    assert refused.exit_code == 2 and "'bad class' must be" in refused.output
    bad_name = cli.invoke(
        app, ["import-images", str(root / "crazing"), "--site", "s 1", "--line", "l", "--station", "c"]
    )
    assert bad_name.exit_code == 2 and "site 's 1' must be" in bad_name.output
    missing = cli.invoke(app, ["import-images", str(tmp_path / "nowhere"), *WHERE])
    assert missing.exit_code == 2


def test_a_few_neu_images(cli: CliRunner, session_factory: sessionmaker[Session]) -> None:
    neu = SHARED_DATA / "neu"
    if not neu.is_dir():
        pytest.skip(f"the NEU surface defect images are not in {neu}")
    result = cli.invoke(app, ["import-images", str(neu), *WHERE, "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "12 images: 12 imported" in result.output
    with session_factory() as session:
        labels = session.scalars(select(Inspection.known_label).distinct()).all()
        sizes = session.execute(select(func.min(Inspection.width), func.max(Inspection.height))).one()
    assert sorted(str(label) for label in labels) == sorted(
        path.name for path in neu.iterdir() if path.is_dir()
    )
    assert tuple(sizes) == (200, 200)
