"""Independent pieces of work shared with one forked child: the report's figures drawn two at a time.

The child is forked only where the platform has fork, this process runs one thread (forking a
threaded process can deadlock) and more than one CPU is ours; elsewhere everything is done here.
The child takes every other item, sends back what it did and exits. Whatever it did not send back
(it failed, or was killed) is done here afterwards, in order, so the results and the first error
raised are those of doing every item here, one by one.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

Item = TypeVar("Item")
Done = TypeVar("Done")


def map_forked(work: Callable[[Item], Done], items: Sequence[Item]) -> list[Done]:
    """[work(item) for item in items], the items at even places done by a forked child."""
    if len(items) < 2 or not _can_fork():
        return [work(item) for item in items]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(work, items, read, write)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        try:
            done = _until_failure(work, items, range(1, len(items), 2))
            sent = pipe.read()  # all of it once the child has written it and exited (or died)
        except BaseException:  # an error or Ctrl-C here: the child's work is of no use any more
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            status = os.waitpid(pid, 0)[1]
    if os.waitstatus_to_exitcode(status) == 0:
        done.update(pickle.loads(sent))
    return [done[i] if i in done else work(item) for i, item in enumerate(items)]


def _can_fork() -> bool:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return hasattr(os, "fork") and threading.active_count() == 1 and cpus > 1


def _until_failure(work: Callable[[Item], Done], items: Sequence[Item], places: range) -> dict[int, Done]:
    """The items at those places done, up to the first that fails: that one is done again in order
    with the others, so that its error is raised where doing them one by one raises it."""
    done = {}
    for i in places:
        try:
            done[i] = work(items[i])
        except Exception:
            break
    return done


def _child(work: Callable[[Item], Done], items: Sequence[Item], read: int, write: int) -> NoReturn:
    """Do the even places, send them back pickled, and exit without running the parent's exit
    handlers or flushing its buffers (whatever happens, Ctrl-C included)."""
    code = 1
    try:
        os.close(read)
        gc.disable()  # its passes would touch, and so copy, every page of objects shared with the parent
        done = _until_failure(work, items, range(0, len(items), 2))
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(done, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        os._exit(code)
