"""Run a reflector (or anything with ``run``) on either front end, from synchronous tests.

Behaviour tests that apply to both front ends take the ``frontend`` fixture
(``"thread"`` or ``"asyncio"``) and build their reflector with
:func:`start_reflector`: the threaded one runs on its own thread as usual; the
asyncio one runs on a private event loop in a thread of its own, so the test
body stays synchronous and polls with deadlines either way. Stopping goes
through the same ``threading.Event`` the test holds.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kubecache.aio import AsyncReflector
from kubecache.reflector import Reflector

FRONTENDS = ("thread", "asyncio")


def frontend_fixture() -> Any:
    """A parametrized fixture yielding each front end's name."""

    @pytest.fixture(params=FRONTENDS)
    def frontend(request: pytest.FixtureRequest) -> str:
        return str(request.param)

    return frontend


class LoopThread:
    """An asyncio loop in a thread, running one coroutine until a threading.Event is set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, make_coro: Any, stop: threading.Event) -> None:
        """Run ``make_coro(async_stop)`` on the loop; ``stop`` set -> ``async_stop`` set."""
        ready = threading.Event()

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            async_stop = asyncio.Event()
            ready.set()
            bridge = asyncio.ensure_future(asyncio.to_thread(stop.wait))
            bridge.add_done_callback(lambda _f: async_stop.set())
            try:
                await make_coro(async_stop)
            finally:
                stop.set()  # ends the bridge's executor thread
                await bridge

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as err:  # surfaced by join()
                self.error = err

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(5.0)

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop's thread (e.g. to touch loop-bound objects)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn, *args)

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


class AsyncReflectorRunner:
    """Wraps an AsyncReflector on a LoopThread, with the threaded Reflector's test-facing API."""

    def __init__(self, reflector: AsyncReflector) -> None:
        self.reflector = reflector
        self._loop = LoopThread(f"asyncio reflector {reflector.name}")

    def run_until(self, stop: threading.Event) -> None:
        self._loop.start(self.reflector.run, stop)

    def join(self, timeout: float | None = None) -> bool:
        return self._loop.join(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reflector, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("reflector", "_loop"):
            object.__setattr__(self, name, value)
        else:  # e.g. should_resync: it belongs to the reflector
            setattr(self.reflector, name, value)


def make_reflector(frontend: str, lw: Any, expected_type: Any, store: Any,
                   resync_period: float = 0.0, **kw: Any) -> Any:
    """A reflector for ``frontend`` (not started): a Reflector or an AsyncReflectorRunner."""
    if frontend == "thread":
        return Reflector(lw, expected_type, store, resync_period, **kw)
    if frontend == "asyncio":
        return AsyncReflectorRunner(AsyncReflector(lw, expected_type, store, resync_period, **kw))
    raise ValueError(f"unknown front end {frontend!r}")


def start_reflector(frontend: str, lw: Any, store: Any, stop: threading.Event,
                    **kw: Any) -> Any:
    """Build and start a reflector on ``frontend``; it ends when ``stop`` is set."""
    r = make_reflector(frontend, lw, kw.pop("expected_type", None), store,
                       kw.pop("resync_period", 0.0), **kw)
    r.run_until(stop)
    return r
