"""`RelayLock` and the import of cqrs-sqla on a system without `fcntl` (Windows)."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
import sys

from cqrs_sqla.relay_lock import RelayLock

# `sys.modules["fcntl"] = None` makes `import fcntl` fail, as on Windows.
WITHOUT_FCNTL = """
import sys
sys.modules["fcntl"] = None
import cqrs, cqrs_sqla
print(cqrs.SqlAlchemyOutboxedEventRepository.__name__)
"""

HOLD_THE_LOCK = """
import asyncio, sys
from cqrs_sqla.relay_lock import RelayLock

async def hold() -> None:
    async with RelayLock(sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.readline()  # until the test says

asyncio.run(hold())
"""


def test_cqrs_sqla_imports_where_fcntl_does_not_exist() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_FCNTL], capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout.strip()) == (0, "SqlAlchemyOutboxedEventRepository")


async def test_a_lock_another_process_holds_is_taken_once_that_process_lets_go(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "app.db.relay.lock"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD_THE_LOCK,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"holding\n"
        lock = RelayLock(path, poll_interval=0.01)
        taking = asyncio.ensure_future(lock.__aenter__())
        # Twenty tries or so, all while the other process holds it.
        done, _ = await asyncio.wait({taking}, timeout=0.2)
        assert not done

        assert holder.stdin is not None
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        await asyncio.wait_for(holder.wait(), 30)
        await asyncio.wait_for(taking, 30)
        await lock.__aexit__(None, None, None)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
