"""Metrics, traces and logs. Set up once by the entrypoints."""
