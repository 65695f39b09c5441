"""Worker registries: built-in (workers register over HTTP) and a gRPC Service Registry client."""
