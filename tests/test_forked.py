"""map_forked: the same results and errors as doing every item here, and no child left behind."""

import os
import signal
import threading
import time

import pytest

from specgen.analysis.forked import map_forked

needs_fork = pytest.mark.usefixtures("forks")


def _square_where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@needs_fork
def test_results_in_order_half_of_them_from_a_child():
    done = map_forked(_square_where, range(7))
    assert [r for r, _ in done] == [x * x for x in range(7)]
    here = os.getpid()
    assert {pid for _, pid in done[1::2]} == {here}
    assert len({pid for _, pid in done[0::2]}) == 1 and done[0][1] != here


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
@pytest.mark.parametrize("bad", [0, 1, 4])  # the child's, this process's, a later child's
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
        if x in (2, 3):  # 2 is the child's, 3 this process's
            raise ValueError(f"item {x} is bad")
        return x

    with pytest.raises(ValueError, match=r"^item 2 is bad$"):
        map_forked(work, range(6))


@needs_fork
def test_what_a_killed_child_left_undone_is_done_here():
    here = os.getpid()

    def work(x: int) -> tuple[int, int]:
        if x == 2 and os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)
        return _square_where(x)

    done = map_forked(work, range(6))
    assert [r for r, _ in done] == [x * x for x in range(6)]
    assert [pid for _, pid in done[2:]] == [here] * 4  # the child sent nothing back


@needs_fork
def test_ctrl_c_here_stops_the_child_at_once(tmp_path):
    started = tmp_path / "child"

    def work(x: int) -> int:
        if x == 0:  # the child
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
