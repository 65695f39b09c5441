"""Audit and history stores: SQLite (embedded), PostgreSQL, MongoDB, in-memory."""
