"""Adapters to third-party libraries; each imports its library only when used."""

__all__: tuple[str, ...] = ()
