"""Caches behind one port: in-process (embedded) and Redis (shared across replicas)."""
