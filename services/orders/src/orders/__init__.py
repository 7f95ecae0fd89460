"""The orders service of the reference system."""
