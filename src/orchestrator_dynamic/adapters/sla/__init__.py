"""Clients of external SLA services."""
