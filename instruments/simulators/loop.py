"""Run simulated endpoints on an asyncio loop in a background thread.

Tests and the in-process bench use this; ``hil sim`` runs the same endpoints on the main thread's loop.
Everything that touches the physics world must run on the loop thread: use :meth:`BackgroundLoop.call`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from instruments.simulators.net import Endpoint

T = TypeVar("T")


class BackgroundLoop:
    """An asyncio loop on a daemon thread serving a set of endpoints."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="meterhil-sim", daemon=True)
        self._started = threading.Event()
        self.endpoints: list[Endpoint] = []

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._started.set()
        self.loop.run_forever()

    def start(self) -> BackgroundLoop:
        self._thread.start()
        self._started.wait()
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run a plain function on the loop thread (safe access to the world) and return its result."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def _do() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed back to the calling thread
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(_do)
        return fut.result(timeout)

    def serve(self, endpoints: Iterable[Endpoint]) -> list[Endpoint]:
        """Start listening on ``endpoints``; returns them with their bound ports."""
        eps = list(endpoints)

        async def _start() -> None:
            for ep in eps:
                await ep.start()

        self.run(_start())
        self.endpoints.extend(eps)
        return eps

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def _stop() -> None:
            for ep in self.endpoints:
                await ep.stop()

        try:
            self.run(_stop(), timeout=10.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10.0)
            if not self.loop.is_running():
                self.loop.close()

    def __enter__(self) -> BackgroundLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
