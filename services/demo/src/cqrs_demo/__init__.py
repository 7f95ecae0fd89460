"""`cqrs-demo`: the reference system on one machine."""
