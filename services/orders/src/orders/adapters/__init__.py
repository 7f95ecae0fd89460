"""The orders service's adapters: SQLAlchemy storage, Kafka wiring, wire messages, payment."""
