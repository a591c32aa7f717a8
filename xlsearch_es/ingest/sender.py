"""The sender: enriched batches are indexed on a background thread.

Model work (main thread) and cluster I/O (this thread) overlap, while a
bounded queue keeps the model at most a few batches ahead. Batches are handled
in order; an error on the sender thread is kept and raised on the main
thread at its next ``put`` or at ``close``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SenderFailed(Exception):
    """Carries the sender thread's error to the main thread."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class BackgroundSender(Generic[T]):
    def __init__(self, handle: Callable[[T], None], depth: int = 3):
        self._handle = handle
        self._queue: queue.Queue[T | None] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xlsearch-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._handle(item)
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc
            while True:  # unblock the producer
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def put(self, item: T) -> None:
        """Queue one batch; blocks while the queue is full, raises if the sender failed."""
        while True:
            if self._error is not None or not self._thread.is_alive():
                raise SenderFailed(self._error or RuntimeError("the sender thread stopped"))
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait until every queued batch is handled; raise the sender's error if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise SenderFailed(self._error)

    def abandon(self) -> None:
        """Stop without waiting (after a failure on the main thread)."""
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("stopped")
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
