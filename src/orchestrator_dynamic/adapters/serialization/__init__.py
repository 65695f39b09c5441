"""Wire formats: plain JSON and the Confluent Avro wire format, with the bundled schemas."""
