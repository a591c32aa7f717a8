"""A load's interaction with the person running it: progress while records are
read, and SIGINT/SIGTERM turned into a clean stop between batches."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import XLSearchError
from .options import IngestOptions


class IngestInterrupted(XLSearchError):
    """SIGINT/SIGTERM stopped the load after finishing the batches in flight."""

    def __init__(self, signum: int, checkpoint: Path | None):
        name = signal.Signals(signum).name
        where = f"; progress is kept in {checkpoint}, run the same command again to resume" if checkpoint else ""
        super().__init__(f"interrupted by {name}{where}")
        self.exit_code = 128 + signum


class StopSignals:
    """SIGINT and SIGTERM ask the load to stop between records instead of
    raising inside model code (torch's int8 kernels abort the process when
    interrupted). A second signal exits at once; the checkpoint on disk is
    always a consistent one."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:  # signal handler signature
        if self.signum is not None:
            os._exit(128 + signum)
        self.signum = signum
        print(
            f"ingest: {signal.Signals(signum).name} received; finishing the batches in flight "
            "(send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class ReadProgress:
    """A tqdm bar on a terminal; a log line every 10 s otherwise."""

    def __init__(self, options: IngestOptions, skip: int):
        self.bar = None
        self.count = 0
        self.last = time.monotonic()
        self.start = self.last
        interactive = sys.stderr.isatty() if options.progress is None else options.progress
        if interactive:
            from tqdm import tqdm

            total = _count_lines(options.path)
            self.bar = tqdm(
                total=max(0, total - skip) if total is not None else None,
                unit="rec",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def tick(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        elif time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            rate = self.count / (self.last - self.start)
            print(f"ingest: {self.count} records read ({rate:.0f}/s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n
