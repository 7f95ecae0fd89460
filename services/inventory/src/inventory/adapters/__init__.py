"""The inventory's adapters: SQLAlchemy storage, the outbox replies, Kafka, the wire messages."""
