"""Helpers that start real servers (or, where none can run here, honest stand-ins) for tests."""
