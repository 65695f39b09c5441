"""The what-if simulator: a day of plans against a fleet, in virtual time, with the real C1-C5
domain code and scheduler (no workflow engine, no I/O). ``engine.simulate`` is the entry point."""
