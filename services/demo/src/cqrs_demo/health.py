"""Wait until a service process answers `GET /health` with 200, or say why it did not.

```
wait_until_healthy(child, "http://127.0.0.1:8000/health", timeout=60)
# returns once it answers 200; StartupError if the child exits or time runs out
```
"""

from __future__ import annotations

import time

from cqrs_demo.errors import StartupError
from cqrs_demo.processes import ChildProcess
from cqrs_demo.webapi import call_json

__all__ = ("wait_until_healthy",)

#: Seconds between two health checks.
POLL_INTERVAL = 0.1


def wait_until_healthy(child: ChildProcess, url: str, *, timeout: float) -> None:
    """Poll `url` until it answers 200; `StartupError` if `child` exits or `timeout` passes.

    The error names the child, says what the endpoint answered last and quotes
    the end of the child's output.
    """
    deadline = time.monotonic() + timeout
    last_answer = "no answer yet"
    while True:
        if not child.running:
            raise StartupError(
                f"{child.name} exited with code {child.returncode} before answering "
                f"GET {url}. Its last output:\n{child.tail()}"
            )
        try:
            status, body = call_json("GET", url, timeout=1.0)
        except OSError as error:
            last_answer = f"{type(error).__name__}: {error}"
        else:
            if status == 200:
                return
            last_answer = f"HTTP {status} {body}"
        if time.monotonic() >= deadline:
            raise StartupError(
                f"{child.name} did not answer GET {url} with 200 within {timeout:g}s "
                f"(last answer: {last_answer}). Its last output:\n{child.tail()}"
            )
        time.sleep(POLL_INTERVAL)
