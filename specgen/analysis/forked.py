"""Independent pieces of work shared with one forked child: a file's halves read, the report's pieces
done, two at a time.

The child is forked only where the platform has fork, this process runs one thread (forking a
threaded process can deadlock) and more than one CPU is ours; elsewhere everything is done here.
The items' places wait in a pipe, and each of the two processes takes the next one whenever it is
free, so a long item (a hard fit) does not hold up the ones behind it. The child sends back what it
did and exits. Whatever it did not send back (it failed, or was killed) is done here afterwards, in
order, so the results and the first error raised are those of doing every item here, one by one.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn, TypeVar

Item = TypeVar("Item")
Done = TypeVar("Done")
_PLACE = struct.Struct("<I")


def map_forked(work: Callable[[Item], Done], items: Sequence[Item]) -> list[Done]:
    """[work(item) for item in items], shared with a forked child: each takes the next item not taken."""
    if len(items) < 2 or not _can_fork() or (queue := _queue(len(items))) is None:
        return [work(item) for item in items]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(work, items, queue, read, write)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        try:
            done = _until_failure(work, items, _taken(queue))
            sent = _unpickled(pipe.read())  # all of it once the child has written it (or died)
        except BaseException:  # an error or Ctrl-C here: the child's work is of no use any more
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            os.close(queue)
            status = os.waitpid(pid, 0)[1]
    if os.waitstatus_to_exitcode(status) == 0:
        done.update(sent)
    return [done[i] if i in done else work(item) for i, item in enumerate(items)]


def _unpickled(sent: bytes) -> dict:
    """What the child sent, read while it exits; nothing where it died writing (its status says so)."""
    try:
        return pickle.loads(sent)
    except Exception:  # a pickle cut short: any of several errors
        return {}


def _can_fork() -> bool:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return hasattr(os, "fork") and threading.active_count() == 1 and cpus > 1


def _queue(size: int) -> int | None:
    """The reading end of a pipe holding the places 0 to size - 1, or None where they do not fit in
    its buffer (64 KiB on Linux: 16,384 places): places are read whole, one reader each."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    places = b"".join(map(_PLACE.pack, range(size)))
    try:
        written = os.write(write, places)
    except BlockingIOError:
        written = 0
    os.close(write)
    if written < len(places):
        os.close(read)
        return None
    return read


def _taken(queue: int) -> Iterator[int]:
    """The places this process takes from the queue, one whenever it asks, until none is left."""
    while taken := os.read(queue, _PLACE.size):
        yield _PLACE.unpack(taken)[0]


def _until_failure(
    work: Callable[[Item], Done], items: Sequence[Item], places: Iterator[int]
) -> dict[int, Done]:
    """The items at the places taken done, up to the first that fails (no more are taken): that one is
    done again in order with the others, so that its error is raised where doing them one by one does."""
    done = {}
    for i in places:
        try:
            done[i] = work(items[i])
        except Exception:
            break
    return done


def _child(
    work: Callable[[Item], Done], items: Sequence[Item], queue: int, read: int, write: int
) -> NoReturn:
    """Do the items taken, send them back pickled, and exit without running the parent's exit
    handlers or flushing its buffers (whatever happens, Ctrl-C included)."""
    code = 1
    try:
        os.close(read)
        gc.disable()  # its passes would touch, and so copy, every page of objects shared with the parent
        done = _until_failure(work, items, _taken(queue))
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(done, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        os._exit(code)
