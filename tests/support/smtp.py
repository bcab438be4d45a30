"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""
from __future__ import annotations

import email
import socket
from email import policy

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = _Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    def start(self):
        self.controller.start()
        self.running = True
        return self

    def stop(self):
        # Idempotent: a test may stop the server itself before the fixture does.
        if getattr(self, "running", False):
            self.running = False
            self.controller.stop()

    def text_of(self, message) -> str:
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""
