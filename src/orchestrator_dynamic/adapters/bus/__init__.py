"""Message buses behind one port: Kafka (production) and a local durable log on SQLite."""
