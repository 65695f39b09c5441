"""Bundled Avro schemas (package data)."""
