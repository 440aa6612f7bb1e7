"""The delivery thread's bell and wake-up protocol: no lost wake-up, prompt stop, no fd left.

Every bell kind (eventfd, SimpleQueue) is held to the same contract;
the ThreadListener tests drive a real delivery thread with a producer that
hands notifications over one at a time, in bursts and with stops in between,
and wait for the outcome with deadlines (a sleep never decides one).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.informer import _bell
from kubecache.informer._bell import Bell, EventFdBell, QueueBell, new_bell
from kubecache.informer._delivery import ThreadListener
from kubecache.informer._handlers import ADD, Notification

DEADLINE = 10.0

KINDS: list[Callable[[], Bell]] = [QueueBell]
if hasattr(os, "eventfd"):
    KINDS.append(EventFdBell)


@pytest.fixture(params=KINDS, ids=lambda k: k.__name__)
def bell(request: pytest.FixtureRequest) -> Iterator[Bell]:
    b = request.param()
    yield b
    b.close()


def waiter(bell: Bell) -> tuple[threading.Thread, threading.Event]:
    """A thread that waits on ``bell`` once and then sets the returned event."""
    woke = threading.Event()

    def run() -> None:
        bell.wait()
        woke.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, woke


def test_a_ring_wakes_a_waiting_thread(bell: Bell) -> None:
    t, woke = waiter(bell)
    bell.ring()
    assert woke.wait(DEADLINE)
    t.join(DEADLINE)


def test_a_ring_before_the_wait_is_kept(bell: Bell) -> None:
    bell.ring()
    t, woke = waiter(bell)
    assert woke.wait(DEADLINE)
    t.join(DEADLINE)


def test_rings_from_many_threads_all_reach_the_waiter(bell: Bell) -> None:
    """Each ring is followed by a wait that must return: none is lost under contention."""
    rounds = 200
    acked = threading.Semaphore(0)
    done = threading.Event()

    def consumer() -> None:
        for _ in range(rounds):
            bell.wait()
            acked.release()
        done.set()

    t = threading.Thread(target=consumer, daemon=True)
    t.start()
    for i in range(rounds):
        ringer = threading.Thread(target=bell.ring, daemon=True)
        ringer.start()
        ringer.join(DEADLINE)
        # QueueBell counts rings; the others collapse them: wait for this one to be taken
        assert acked.acquire(timeout=DEADLINE), f"ring {i} was lost"
    assert done.wait(DEADLINE)
    t.join(DEADLINE)


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="no eventfd")
def test_a_ring_after_close_writes_nowhere() -> None:
    """A ring racing the delivery thread's close must not write to a reused descriptor."""
    b = EventFdBell()
    old = b._fd
    b.close()
    b.close()  # twice is fine
    r, w = os.pipe()  # the lowest free numbers: the bell's old one among them
    try:
        assert old in (r, w)
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        b.ring()  # must not write 8 bytes into the pipe's write end
        with pytest.raises(BlockingIOError):
            os.read(r, 16)
    finally:
        os.close(r)
        os.close(w)


def test_new_bell_falls_back_to_a_queue_without_descriptors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fd(*_: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(_bell.os, "eventfd", no_fd, raising=False)
    b = new_bell()
    assert isinstance(b, QueueBell)
    b.ring()
    b.wait()  # returns: the ring was kept


def test_new_bell_takes_a_descriptor_where_there_is_one() -> None:
    b = new_bell()
    try:
        assert isinstance(b, EventFdBell if hasattr(os, "eventfd") else QueueBell)
    finally:
        b.close()


# --- ThreadListener: the idle protocol on top of the bell ------------------------------


class Recorder:
    """A handler recording adds; ``until(n)`` waits (with a deadline) for n of them."""

    def __init__(self, slow: float = 0.0) -> None:
        self.seen: list[int] = []
        self.cond = threading.Condition()
        self.slow = slow

    def on_add(self, obj: int) -> None:
        if self.slow:
            time.sleep(self.slow)  # a slow handler: the producer gets ahead
        with self.cond:
            self.seen.append(obj)
            self.cond.notify_all()

    def on_update(self, old: Any, new: Any) -> None: ...

    def on_delete(self, obj: Any) -> None: ...

    def until(self, n: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.seen) >= n, DEADLINE)


@contextlib.contextmanager
def switching_often() -> Iterator[None]:
    """Make the interpreter switch threads every few bytecodes, so races show up."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.fixture
def switch_often() -> Iterator[None]:
    with switching_often():
        yield


def note(i: int) -> Notification:
    return Notification(ADD, None, i)


def listener_for(handler: Any) -> ThreadListener:
    listener = ThreadListener(handler, 0.0, 0.0, 0.0)
    listener.start()
    return listener


def stop_and_join(listener: ThreadListener) -> None:
    listener.stop()
    listener.join(DEADLINE)
    assert listener._thread is not None and not listener._thread.is_alive()


@settings(max_examples=40)
@given(bursts=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=40),
       pause_every=st.integers(min_value=1, max_value=7))
def test_every_notification_is_delivered_in_order_without_a_lost_wake_up(
        bursts: list[int], pause_every: int) -> None:
    """Bursts handed over while the thread is parked, waking or busy: all arrive, in order.

    The producer waits for each ``pause_every``-th burst to be delivered before
    the next (so the thread parks in between and must be rung), and otherwise
    hands bursts over back to back (the thread is busy, or between its idle
    flag and its wait). A lost wake-up leaves ``until`` at its deadline.
    """
    handler = Recorder()
    listener = listener_for(handler)
    try:
        sent = 0
        with switching_often():
            for i, size in enumerate(bursts):
                listener.add_many([note(sent + k) for k in range(size)])
                sent += size
                if i % pause_every == 0:
                    assert handler.until(sent), f"stuck at {len(handler.seen)} of {sent}"
            assert handler.until(sent), f"stuck at {len(handler.seen)} of {sent}"
        assert handler.seen == list(range(sent))
        assert listener.delivered == sent and listener.pending == 0
    finally:
        stop_and_join(listener)


def test_many_single_notifications_against_a_parking_thread_lose_no_wake_up(
        switch_often: None) -> None:
    """The trickle pattern at full speed: one notification, wait for it, the next."""
    handler = Recorder()
    listener = listener_for(handler)
    try:
        for i in range(2_000):
            listener.add_many([note(i)])
            assert handler.until(i + 1), f"notification {i} was never delivered"
        assert handler.seen == list(range(2_000))
    finally:
        stop_and_join(listener)


def test_a_slow_handler_gets_everything_in_order_from_a_fast_producer() -> None:
    handler = Recorder(slow=0.0005)
    listener = listener_for(handler)
    try:
        for i in range(200):
            listener.add_many([note(i)])
        assert handler.until(200)
        assert handler.seen == list(range(200))
    finally:
        stop_and_join(listener)


def test_stop_ends_a_parked_thread_promptly_and_stops_delivery() -> None:
    handler = Recorder()
    listener = listener_for(handler)
    listener.add_many([note(0)])
    assert handler.until(1)
    stop_and_join(listener)  # parked in its wait: the stop's ring ends it
    listener.add_many([note(1)])  # after the end: buffered, never delivered, no error
    assert handler.seen == [0] and listener.pending == 1


def test_stop_before_start_and_a_ring_after_the_end_are_harmless() -> None:
    handler = Recorder()
    listener = ThreadListener(handler, 0.0, 0.0, 0.0)
    listener.stop()
    listener.start()
    listener.join(DEADLINE)
    assert listener._thread is not None and not listener._thread.is_alive()
    listener._idle = True  # a producer that read the flag just before the thread ended
    listener.add_many([note(0)])
    assert handler.seen == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_delivery_threads_leave_no_descriptor_behind() -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    for _ in range(30):
        handler = Recorder()
        listener = listener_for(handler)
        listener.add_many([note(0)])
        assert handler.until(1)
        stop_and_join(listener)
    assert open_fds() <= before
