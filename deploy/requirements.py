"""Print the runtime dependencies in pyproject.toml, one a line, for the image's dependency layer.

`--gpu` asks for TensorFlow with its CUDA libraries (`tensorflow[and-cuda]`, Linux x86-64 only), so
the scheduler can train on the GPU that docker-compose.yml reserves for it. Installing dependencies
before copying the source keeps that large layer cached while the code changes.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path


def requirements(pyproject: Path, gpu: bool) -> list[str]:
    dependencies: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    if not gpu:
        return dependencies
    return [re.sub(r"^tensorflow(?=[\s<>=!~;]|$)", "tensorflow[and-cuda]", d) for d in dependencies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path, nargs="?", default=Path("pyproject.toml"))
    parser.add_argument("--gpu", action="store_true", help="TensorFlow with CUDA libraries")
    args = parser.parse_args()
    print("\n".join(requirements(args.pyproject, args.gpu)))


if __name__ == "__main__":
    main()
