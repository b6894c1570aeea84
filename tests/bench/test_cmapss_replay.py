"""bench.cmapss_replay: its command line, its config, and the columns it scores test files by.

No replay and no training here (a full run takes minutes; its result is in docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cmapss_replay import bench_config, parse_args
from bench.cmapss_replay_model import FILE_COLUMN
from models.config import RulConfig


def test_cli_parses_files_and_options() -> None:
    args = parse_args(["--train", "a.txt", "--test", "b.txt", "--rul", "c.txt", "--out", "r.json"])
    assert (args.train, args.test, args.rul, args.out) == tuple(
        Path(p) for p in ("a.txt", "b.txt", "c.txt", "r.json")
    )
    assert args.interval > 0 and args.config == "{}" and not args.keep


def test_cli_requires_the_three_files() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--train", "a.txt", "--test", "b.txt"])


def test_config_is_the_library_default_with_one_member_then_the_overrides() -> None:
    assert bench_config("{}") == RulConfig(ensemble=1)
    config = bench_config('{"epochs": 5, "ensemble": 2, "architecture": {"kind": "lstm"}}')
    assert (config.epochs, config.ensemble, config.architecture.kind) == (5, 2, "lstm")


def test_both_sensor_namings_read_the_same_file_columns() -> None:
    # unit, cycle, 3 operating settings, then sensors 1..21 (columns 5..25)
    assert FILE_COLUMN["op_setting_1"] == 2
    assert FILE_COLUMN["sensor_01"] == FILE_COLUMN["s1"] == 5
    assert all(FILE_COLUMN[f"s{i}"] == FILE_COLUMN[f"sensor_{i:02d}"] for i in range(1, 22))
    assert FILE_COLUMN["s21"] == 25
