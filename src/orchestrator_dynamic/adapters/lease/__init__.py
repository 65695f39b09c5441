"""Leases port adapters: in process (one replica) and Redis (shared by every replica)."""
