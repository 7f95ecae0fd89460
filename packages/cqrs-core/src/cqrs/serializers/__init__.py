"""Message bodies as bytes (`cqrs.serializers`, python-cqrs's path).

`default_serializer` writes JSON; `cqrs.serializers.protobuf` writes an
event's protobuf form.

>>> from cqrs.response import Response
>>> class Ok(Response):
...     code: int
>>> default_serializer(Ok(code=200))
b'{"code":200}'
"""

from cqrs.serializers.default import default_serializer

__all__ = ("default_serializer",)
