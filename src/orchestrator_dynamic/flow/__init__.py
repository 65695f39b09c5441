"""Flow C on Temporal: one workflow per decision, thin and deterministic; I/O in activities."""
