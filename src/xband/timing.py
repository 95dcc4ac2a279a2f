"""Per-stage wall-clock accounting for the pipeline summary (calls, seconds, share)."""
from __future__ import annotations

import time
from contextlib import contextmanager


class StageTimer:
    """``with timer("track"): ...`` accumulates calls and seconds per stage, in first-use order."""

    def __init__(self):
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.calls[stage] = self.calls.get(stage, 0) + 1
            self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    def as_dict(self) -> dict:
        return {k: {"calls": self.calls[k], "seconds": self.seconds[k]} for k in self.calls}

    def table(self) -> str:
        total = sum(self.seconds.values()) or 1.0
        lines = [f"{'stage':<10}{'calls':>8}{'µs/call':>11}{'total ms':>11}{'share':>8}"]
        for k in self.calls:
            c, s = self.calls[k], self.seconds[k]
            lines.append(f"{k:<10}{c:>8d}{1e6 * s / c:>11.1f}{1e3 * s:>11.2f}{100 * s / total:>7.1f}%")
        lines.append(f"{'total':<10}{sum(self.calls.values()):>8d}{'':>11}{1e3 * total:>11.2f}"
                     f"{100.0:>7.1f}%")
        return "\n".join(lines)
