"""Clients of external services (optional; the portal works without them)."""
