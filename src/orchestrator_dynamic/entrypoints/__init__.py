"""Ways in: the HTTP API, the CLI and the embedded runtime (`up`)."""
