"""Make a stratified development split of the NEU surface-defect images (folder per class), by symlinks.

    python -m bench.neu_split --data ../shared/data/neu --holdout-per-class 40 --out var/bench/neu-dev/

writes `OUT/train/<class>/` and `OUT/test/<class>/` holding symbolic links to the original images:
`--holdout-per-class` images of each class, drawn with `--seed`, go to test, the rest to train. The
images themselves are never copied (they stay in ../shared/data), and the official test images are
not part of that folder anyway, so `bench.neu` can be tuned on this split without touching them.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import numpy as np

from bench.common import setup_logging

log = logging.getLogger("bench.neu_split")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def class_images(root: Path) -> dict[str, list[Path]]:
    """Image files of each class folder under `root`, sorted by name (hidden entries skipped)."""
    classes = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
        )
        if files:
            classes[folder.name] = files
    if not classes:
        raise SystemExit(f"{root} has no class folders with images")
    return classes


def split_tree(data: Path, out: Path, holdout_per_class: int, seed: int = 0) -> dict[str, dict[str, int]]:
    """Write OUT/train and OUT/test (replacing earlier ones); returns the image counts per part and class."""
    rng = np.random.default_rng(seed)
    counts: dict[str, dict[str, int]] = {"train": {}, "test": {}}
    for part in ("train", "test"):
        shutil.rmtree(out / part, ignore_errors=True)
    for name, files in class_images(data).items():
        if not 0 < holdout_per_class < len(files):
            raise SystemExit(f"--holdout-per-class must be between 1 and {len(files) - 1} ({name})")
        held = set(rng.choice(len(files), size=holdout_per_class, replace=False).tolist())
        for part in ("train", "test"):
            (out / part / name).mkdir(parents=True, exist_ok=True)
        for i, file in enumerate(files):
            part = "test" if i in held else "train"
            (out / part / name / file.name).symlink_to(file.resolve())
            counts[part][name] = counts[part].get(name, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with one sub-folder per class")
    parser.add_argument("--holdout-per-class", type=int, default=40, help="test images per class")
    parser.add_argument("--out", type=Path, required=True, help="where train/ and test/ are written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup_logging()
    counts = split_tree(args.data, args.out, args.holdout_per_class, args.seed)
    log.info("train %s, test %s under %s", counts["train"], counts["test"], args.out)


if __name__ == "__main__":
    main()
