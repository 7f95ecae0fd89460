"""The inventory service of the reference system."""
