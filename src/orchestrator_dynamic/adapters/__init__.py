"""Real clients behind the domain's ports; each translates its driver's errors."""
