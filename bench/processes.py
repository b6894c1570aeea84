"""CPU used by each part of the ingest benchmark while it runs (psutil), in cores: CPU seconds / wall."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from plantwatch.embedded import EmbeddedBroker, EmbeddedPostgres


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postmaster(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class CpuMeter:
    roots: dict[str, int]
    before: dict[str, dict[int, float]] = field(default_factory=dict)
    system_before: float = 0.0

    @classmethod
    def start(cls, ingestor_pid: int, broker: EmbeddedBroker, server: EmbeddedPostgres | None) -> CpuMeter:
        roots = {"ingestor": ingestor_pid}
        if broker.process is not None:
            roots["broker"] = broker.process.pid
        postmaster = _postmaster(server.data_dir) if server is not None else None
        if postmaster is not None:
            roots["postgres"] = postmaster
        meter = cls(roots)
        meter.before = meter._sample()
        meter.system_before = _busy()
        return meter

    def _sample(self) -> dict[str, dict[int, float]]:
        sample: dict[str, dict[int, float]] = {}
        for name, pid in self.roots.items():
            sample[name] = {}
            for process in _tree(pid):
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                sample[name][process.pid] = times.user + times.system
        return sample

    def stop(self, wall_s: float) -> dict[str, Any]:
        """Cores used per part since `start` (a process that started since counts whole), and in all."""
        after = self._sample()
        used: dict[str, Any] = {}
        for name, pids in after.items():
            seconds = sum(cpu - self.before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            used[name] = round(seconds / wall_s, 2)
        total = (_busy() - self.system_before) / wall_s
        used["all"] = round(total, 2)
        used["publisher_and_rest"] = round(total - sum(v for k, v in used.items() if k != "all"), 2)
        return used


def _busy() -> float:
    times = psutil.cpu_times()
    return float(
        times.user
        + times.system
        + getattr(times, "nice", 0.0)
        + getattr(times, "irq", 0.0)
        + getattr(times, "softirq", 0.0)
    )
