"""A few JSON calls over HTTP with the standard library, for the launcher's own needs.

The launcher asks `GET /health` and restocks the demo SKUs; it needs no HTTP
client package for that. Any HTTP status comes back as a value (not an
exception); only a connection that fails raises `OSError`.

```
status, body = call_json("GET", "http://127.0.0.1:8001/stock/tea")
# (200, {"sku": "tea", "available": 100, "reserved": 0, "sold": 0}) or (404, {"detail": ...})
```
"""

from __future__ import annotations

import json
import typing
import urllib.error
import urllib.request

__all__ = ("call_json",)


def call_json(
    method: str,
    url: str,
    body: object = None,
    *,
    timeout: float = 5.0,
    headers: typing.Mapping[str, str] | None = None,
) -> tuple[int, typing.Any]:
    """Send `body` as JSON (none when None), with `headers`, and return (status, decoded
    JSON answer).

    The answer is None when it is empty or not JSON.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _decode(error.read())


def _decode(raw: bytes) -> typing.Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
