"""How the inventory is reached: the HTTP API, the Kafka consumer and the command line."""
