"""Pose detection in fixed chunks of frames, several MediaPipe graphs side by side in threads.

MediaPipe releases the GIL while a graph runs, and one Holistic graph keeps only ~1.3 cores busy, so on a
2-core CPU two graphs taking alternate chunks run ~1.5x faster than one (benchmarks/extract.py). Each chunk
starts from a fresh tracker state, so what a chunk gives does not depend on which thread ran it, on the
number of threads, or on where an interrupted run resumed (MediaPipe's CPU graph is bit-deterministic from a
fresh state). Used by ``reenactor extract`` (chunks saved as resumable files) and by ``reenactor transfer``
(the driving video's poses).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..threads import Background


def default_workers() -> int:
    """Detection threads by default: one per CPU core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


class _Stop(Exception):
    """Raised in a thread of the pass when another thread has failed."""


def detect_chunks(
    frames: Iterable[np.ndarray],
    make_extractor: Callable[[], Any],
    process: Callable[[Any, np.ndarray], dict[str, Any]],
    on_chunk: Callable[[int, list[dict[str, Any]]], None],
    chunk: int,
    workers: int,
    first_chunk: int = 0,
    skip: Callable[[int], bool] = lambda c: False,
    max_buffered: int = 256,
    on_frame: Callable[[np.ndarray], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Run ``process(extractor, frame)`` over ``frames`` in chunks of ``chunk`` frames; returns the frame count.

    The calling thread iterates ``frames`` (decoding); ``workers`` threads, each with its own extractor from
    ``make_extractor()`` (a context manager with ``reset()``), take whole chunks as they come and stream
    through them, calling ``reset()`` before each. ``on_chunk(c, records)`` receives chunk ``c`` (numbered from
    ``first_chunk``) once it is done, from the worker's thread, so chunks may arrive out of order. Chunks for
    which ``skip(c)`` is true are not processed (their frames still count). At most ``max_buffered`` frames
    (at least two chunks) wait between decoding and processing. ``on_frame`` sees every decoded frame, in
    order; ``progress(k)`` is called as frames are done. The first error of any thread is raised here; an
    interrupt (KeyboardInterrupt in the calling thread) stops every thread within one frame's processing (the
    unfinished chunks are dropped, finished ones were handed to ``on_chunk``).
    """
    workers = max(1, int(workers))
    slots = threading.Semaphore(max(2 * chunk, int(max_buffered)))
    tasks: queue.Queue = queue.Queue()
    stop = threading.Event()
    errors: list[BaseException] = []

    def take(q: queue.Queue):
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    raise _Stop from None

    def worker(ex) -> None:
        try:
            while (task := take(tasks)) is not None:
                c, frames_q = task
                ex.reset()  # each chunk starts fresh
                recs = []
                while (frame := take(frames_q)) is not None:
                    if stop.is_set():  # an interrupt (Ctrl-C) or another thread's error: stop within a frame
                        raise _Stop
                    recs.append(process(ex, frame))
                    slots.release()
                    if progress is not None:
                        progress(1)
                on_chunk(c, recs)
        except _Stop:
            pass
        except BaseException as e:  # re-raised by the calling thread
            errors.append(e)
            stop.set()

    n = 0
    threads: list[Background] = []
    with contextlib.ExitStack() as stack:
        frames_q: queue.Queue | None = None
        try:
            for frame in frames:
                if n % chunk == 0:
                    if frames_q is not None:
                        frames_q.put(None)
                    c = first_chunk + n // chunk
                    frames_q = None if skip(c) else queue.Queue()
                    if frames_q is not None:
                        tasks.put((c, frames_q))
                        if len(threads) < workers:  # graphs are made as chunks need them
                            threads.append(Background(worker, (stack.enter_context(make_extractor()),)))
                if frames_q is not None:
                    while not slots.acquire(timeout=0.1):
                        if stop.is_set():
                            raise _Stop
                    frames_q.put(frame)
                elif progress is not None:
                    progress(1)
                if on_frame is not None:
                    on_frame(frame)
                n += 1
            if frames_q is not None:
                frames_q.put(None)
            for _ in threads:
                tasks.put(None)
            for th in threads:
                th.join()
        except (
            BaseException
        ):  # Ctrl-C included: no graph may be closed, nor the process end, under a running thread
            stop.set()
            for th in threads:
                th.join(timeout=30)
            if errors:
                raise errors[0] from None
            raise
    if errors:
        raise errors[0]
    return n


__all__ = ["detect_chunks", "default_workers"]
