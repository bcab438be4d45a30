"""SMTP servers on 127.0.0.1 for the tests: a real one (aiosmtpd) that keeps what it receives,
optionally slow to answer DATA or QUIT, and a black hole that accepts connections and never answers.

A server handed a running worker (tests/support/worker.py, as the `smtp` fixture does) lets it
finish every task enqueued so far before `messages` is read: that is the one point where a test
waits for the background sending, never inside the request."""
from __future__ import annotations

import asyncio
import email
import socket
import threading
from email import policy

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, delay: float = 0.0, quit_delay: float = 0.0):
        self.messages = []
        self.delay = delay
        self.quit_delay = quit_delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow server: the sender waits for the 250
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope):
        if self.quit_delay:
            await asyncio.sleep(self.quit_delay)  # accepted the message, then stalls on QUIT
        return "221 Bye"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None, *, delay: float = 0.0, quit_delay: float = 0.0):
        self.port = port or free_port()
        self.handler = _Handler(delay, quit_delay)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.worker = None  # a RunningWorker drained before `messages` is read

    @property
    def messages(self):
        if self.worker is not None:
            self.worker.drain()
        return self.handler.messages

    def start(self):
        self.controller.start()
        self.running = True
        return self

    def stop(self):
        # Idempotent: a test may stop the server itself before the fixture does. The worker
        # stops with it: what is queued afterwards waits in the queue (and the outbox).
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if getattr(self, "running", False):
            self.running = False
            self.controller.stop()

    def text_of(self, message) -> str:
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class BlackHoleSmtp:
    """Accepts TCP connections on 127.0.0.1 and never says a word (no banner, no reply)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.accepted = 0
        self._clients: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self._thread.start()
        return self

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._clients.append(client)  # held open, never read, never answered
            self.accepted += 1

    def stop(self):
        self._stopped.set()
        self._thread.join(timeout=2)
        for client in self._clients:
            client.close()
        self._sock.close()
