"""map_forked: the same results and errors as doing every item here, and no child left behind."""

import os
import pickle
import signal
import threading
import time

import pytest

from specgen.analysis import forked
from specgen.analysis.forked import map_forked

needs_fork = pytest.mark.usefixtures("forks")


def _square_where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _slow_square_where(x: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough that the child, once forked, takes some of them
    return _square_where(x)


@needs_fork
def test_results_in_order_each_item_done_once_some_by_a_child():
    done = map_forked(_slow_square_where, range(8))
    assert [r for r, _ in done] == [x * x for x in range(8)]
    pids = {pid for _, pid in done}
    assert os.getpid() in pids and len(pids) == 2


@needs_fork
def test_a_long_item_does_not_hold_up_the_others():
    """Each process takes the next item when it is free: while one does the long first item, the other
    does every short one."""

    def work(x: int) -> tuple[int, int]:
        time.sleep(1.0 if x == 0 else 0.02)
        return _square_where(x)

    done = map_forked(work, range(7))
    assert [r for r, _ in done] == [x * x for x in range(7)]
    long, short = done[0][1], {pid for _, pid in done[1:]}
    assert short == {next(iter(short))} != {long}


def test_no_child_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert {pid for _, pid in map_forked(_square_where, range(4))} == {os.getpid()}
    finally:
        stop.set()
        other.join()


def _fails_at(bad: int):
    def work(x: int) -> int:
        if x == bad:
            raise ValueError(f"item {x} is bad")
        return x

    return work


@needs_fork
@pytest.mark.parametrize("bad", [0, 1, 4])
def test_an_error_is_the_one_doing_them_in_order_raises(bad):
    work = _fails_at(bad)
    with pytest.raises(ValueError, match=rf"^item {bad} is bad$") as serial:
        [work(x) for x in range(6)]
    with pytest.raises(ValueError, match=rf"^item {bad} is bad$") as split:
        map_forked(work, range(6))
    assert type(split.value) is type(serial.value)


@needs_fork
def test_the_first_error_in_order_wins_whoever_met_it():
    def work(x: int) -> int:
        time.sleep(0.02)  # both processes take some
        if x in (2, 3):
            raise ValueError(f"item {x} is bad")
        return x

    with pytest.raises(ValueError, match=r"^item 2 is bad$"):
        map_forked(work, range(6))


@needs_fork
def test_what_a_killed_child_left_undone_is_done_here(tmp_path):
    here, killed = os.getpid(), tmp_path / "killed"

    def work(x: int) -> tuple[int, int]:
        time.sleep(0.05)
        if os.getpid() != here:
            killed.write_text(str(x))
            os.kill(os.getpid(), signal.SIGKILL)
        return _square_where(x)

    done = map_forked(work, range(6))
    assert killed.exists()  # the child took an item, and died doing it
    assert done == [(x * x, here) for x in range(6)]  # it sent nothing back: all done here


@needs_fork
def test_ctrl_c_here_stops_the_child_at_once(tmp_path):
    here, started = os.getpid(), tmp_path / "child"

    def work(x: int) -> int:
        if os.getpid() != here:  # the child, busy for a minute
            started.write_text(str(os.getpid()))
            time.sleep(60)
        while not started.exists():
            time.sleep(0.01)
        raise KeyboardInterrupt

    begun = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        map_forked(work, range(2))
    assert time.monotonic() - begun < 30
    with pytest.raises(ProcessLookupError):  # killed and reaped: not even a zombie
        os.kill(int(started.read_text()), 0)


def test_more_items_than_a_pipe_holds_are_done_here_in_order():
    done = map_forked(_square_where, range(20_000))
    assert done == [(x * x, os.getpid()) for x in range(20_000)]


def test_a_pickle_cut_short_by_a_dying_child_reads_as_nothing_sent():
    sent = pickle.dumps({0: (0, 1), 1: (1, 1)})
    assert forked._unpickled(sent) == {0: (0, 1), 1: (1, 1)}
    for cut in (0, 1, len(sent) // 2, len(sent) - 1):
        assert forked._unpickled(sent[:cut]) == {}
