"""Real servers started by the tests on free loopback ports."""
