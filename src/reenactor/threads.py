"""Background threads whose end survives Ctrl-C.

CPython 3.11's ``Thread.join`` is unsafe under Ctrl-C: when the KeyboardInterrupt lands while ``join`` waits, its
handler (the bpo-45274 fix in ``Thread._wait_for_tstate_lock``) finds the thread's state lock held - by the
thread itself, still running - releases it and marks the thread stopped. Every later ``join`` then returns at
once and ``is_alive()`` says False while the thread goes on. Seen here: ``reenactor extract`` interrupted while
it waited for its detection threads exited with 130, and a thread still inside a MediaPipe graph was killed by
the interpreter's exit, aborting the process (std::terminate, exit status -6) in about one run in four.

:class:`Background` runs a daemon thread and tells its end by an Event set when the target returns: waiting
on an Event can be interrupted any number of times without losing track of the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class Background:
    """``target(*args)`` in a daemon thread, started at once. :meth:`join` waits for it to end (interruptible,
    and safe to call again after an interrupt); :meth:`is_alive` is true until ``target`` has returned or
    raised (its exception is the thread's business: catch it inside ``target``)."""

    def __init__(self, target: Callable[..., Any], args: tuple = (), name: str | None = None):
        self._done = threading.Event()

        def run() -> None:
            try:
                target(*args)
            finally:
                self._done.set()

        self.thread = threading.Thread(target=run, name=name, daemon=True)
        self.thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the target has returned (at most ``timeout`` seconds); returns whether it has."""
        return self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()


def prefetch(items: Iterable[Any], depth: int = 8) -> Iterator[Any]:
    """``items`` produced ahead in a :class:`Background` thread (e.g. video frames decoded while the caller
    works), at most ``depth`` waiting; an error of the producer is raised here, in order. Closing the
    generator (or dropping it) stops the producer within one item."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    th = Background(produce)
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():  # drain, so that a producer blocked on a full queue sees the stop
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(timeout=0.1)


__all__ = ["Background", "prefetch"]
