"""A real Huey consumer (thread workers) of an app's task queue, running inside the test
process, with a way to wait until it has finished every task enqueued so far."""
from __future__ import annotations

import signal
import threading
import time

from huey import signals as S

# Every signal that ends the handling of one enqueued task.
_DONE = (S.SIGNAL_COMPLETE, S.SIGNAL_ERROR, S.SIGNAL_CANCELED, S.SIGNAL_REVOKED,
         S.SIGNAL_EXPIRED, S.SIGNAL_LOCKED, S.SIGNAL_INTERRUPTED, S.SIGNAL_TIMEOUT,
         S.SIGNAL_RATE_LIMITED)
_HANDLED_SIGNALS = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                    if s is not None]


class RunningWorker:
    def __init__(self, huey, *, workers: int = 2, periodic: bool = False):
        self.huey = huey
        self.workers = workers
        self.periodic = periodic
        self.consumer = None
        self._cond = threading.Condition()
        self.enqueued = 0
        self.done = 0

    @classmethod
    def of(cls, app, **kwargs) -> "RunningWorker":
        return cls(app.extensions["sillon_tasks"].huey, **kwargs)

    def _on_enqueued(self, signal_name, task, *args, **kwargs):
        with self._cond:
            self.enqueued += 1

    def _on_done(self, signal_name, task, *args, **kwargs):
        with self._cond:
            self.done += 1
            self._cond.notify_all()

    def start(self, *, flush: bool = True) -> "RunningWorker":
        if flush:
            self.huey.flush()  # tasks left by earlier tests (no worker was running then)
        self.huey.signal(S.SIGNAL_ENQUEUED)(self._on_enqueued)
        self.huey.signal(*_DONE)(self._on_done)
        self.consumer = self.huey.create_consumer(
            workers=self.workers, periodic=self.periodic, worker_type="thread",
            initial_delay=0.02, max_delay=0.05, check_worker_health=False,
            shutdown_timeout=30)
        # Consumer.start() installs the consumer's signal handlers, meant for its own process:
        # keep pytest's.
        saved = {s: signal.getsignal(s) for s in _HANDLED_SIGNALS}
        try:
            self.consumer.start()
        finally:
            for s, handler in saved.items():
                signal.signal(s, handler)
        return self

    def drain(self, timeout: float = 20.0) -> None:
        """Wait until every task enqueued so far (in this process) has been handled."""
        end = time.monotonic() + timeout
        with self._cond:
            while self.done < self.enqueued:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"worker busy after {timeout} s: "
                                         f"{self.done}/{self.enqueued} tasks handled")
                self._cond.wait(left)

    def stop(self) -> None:
        if self.consumer is None:
            return
        self.consumer.stop(graceful=True)
        self.consumer = None
        self.huey.disconnect_signal(self._on_enqueued, S.SIGNAL_ENQUEUED)
        self.huey.disconnect_signal(self._on_done, *_DONE)
