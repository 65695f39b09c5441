"""Helpers that start real (or stand-in) servers for tests, on free loopback ports."""
