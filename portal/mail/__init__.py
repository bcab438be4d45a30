"""E-mail: the outbox (sent by a worker, never inside a request), the messages, the reminders."""
