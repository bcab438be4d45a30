"""Test support: a real PostgreSQL server, login helpers."""
