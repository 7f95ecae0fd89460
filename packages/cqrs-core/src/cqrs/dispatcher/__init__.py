"""python-cqrs's `cqrs.dispatcher` package; only its `exceptions` module is kept."""

__all__: tuple[str, ...] = ()
