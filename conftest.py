"""Shared pytest fixtures for tests/ and e2e/ (one embedded PostgreSQL and Valkey per session)."""

pytest_plugins = ["tests.fixtures"]
