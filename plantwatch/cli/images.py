"""`plantwatch import-images DIR`: import a folder of inspection images, one subfolder per class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from plantwatch.cli import common

app = typer.Typer()
err = common.err
SHOWN_REFUSALS = 20  # refused files listed one by one; the summary counts the rest


@app.command("import-images")
def import_images(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with one subfolder per class (its name is the label), e.g. ../shared/data/neu.",
            exists=True,
            file_okay=False,
        ),
    ],
    site: Annotated[str, typer.Option(help="Site of the line the images come from.")],
    line: Annotated[str, typer.Option(help="Line the images come from (registered on first use).")],
    station: Annotated[str, typer.Option(help="Inspection station on the line.")],
    limit: Annotated[int | None, typer.Option(help="At most N images per class folder.", min=1)] = None,
) -> None:
    """Import labelled inspection images (idempotent: an image stored before is not imported again)."""
    from db.engine import transaction
    from db.repositories.inspections import check_name
    from services.image_import import ImageTreeError, ImportSummary, find_images, import_image

    names = (check_name("site", site), check_name("line", line), check_name("station", station))
    problems = [problem for problem in names if problem]
    if problems:
        err("; ".join(problems))
        raise typer.Exit(2)
    try:
        images = find_images(folder, limit)
    except ImageTreeError as error:
        err(str(error))
        raise typer.Exit(2) from error
    settings = common.settings()
    factory = common.session_factory()
    summary = ImportSummary()
    refusals: list[str] = []
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("import", total=len(images), label="")
        for image in images:
            with transaction(factory) as session:
                outcome, detail = import_image(
                    session,
                    image,
                    site=site,
                    line=line,
                    station=station,
                    images_dir=settings.images_directory,
                    max_bytes=settings.image_max_bytes,
                )
            summary.add(outcome)
            if detail:
                refusals.append(f"{image.path}: {outcome}: {detail}")
            bar.update(task, advance=1, label=image.label or "")
    for refusal in refusals[:SHOWN_REFUSALS]:
        err(refusal)
    if len(refusals) > SHOWN_REFUSALS:
        err(f"… and {len(refusals) - SHOWN_REFUSALS} more refused")
    err(str(summary))
    if summary.refused:
        raise typer.Exit(1)
