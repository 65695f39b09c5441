"""Orchestrator Dynamic: durable execution of approved multi-agent plans."""

__version__ = "0.1.0"
