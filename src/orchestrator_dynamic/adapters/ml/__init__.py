"""Model registry adapters."""
