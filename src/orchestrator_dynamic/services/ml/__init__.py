"""ML for C3: duration prediction, anomaly detection, training and the feedback loop.

Imports neither ``flow`` nor ``adapters``: the model registry is a port (domain/ports.py)."""
