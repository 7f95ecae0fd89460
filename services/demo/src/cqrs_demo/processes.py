"""Supervised child processes: output prefixed with their name, stopped cleanly, crashes seen.

A `ChildProcess` runs one command. Its standard output and error are read by a
thread that writes every line, prefixed with the child's name, to a shared
output stream and keeps the last lines for error messages. A `Supervisor`
starts and stops a group of them and tells its `on_crash` callback when one
exits without having been asked to; with a `RestartPolicy` it also starts
such a child again after a short backoff, and says so in one line.

```
with Supervisor() as supervisor:             # stops every child on exit
    supervisor.start("echo", [sys.executable, "-c", "print('hello')"])
    # prints "echo            | hello"
```
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import types
import typing

from cqrs_demo.errors import ChildExitedError

__all__ = ("ChildProcess", "RestartPolicy", "Supervisor", "DEFAULT_STOP_TIMEOUT")

#: Seconds a child gets to exit after SIGTERM before it is killed.
DEFAULT_STOP_TIMEOUT = 10.0
#: How many of its last output lines a child keeps for error messages.
TAIL_LINES = 40
#: Width of the name column in prefixed output.
NAME_WIDTH = 15


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    """How a `Supervisor` restarts a child that crashed: after `initial` seconds, doubled
    for each crash in a row up to `maximum`; a child that ran `stable_after` seconds
    before it crashed starts from `initial` again.

    >>> policy = RestartPolicy(initial=0.5, maximum=4.0)
    >>> [policy.delay(crashes) for crashes in (1, 2, 3, 4, 5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """

    initial: float = 0.5
    maximum: float = 10.0
    stable_after: float = 30.0

    def delay(self, crashes_in_a_row: int) -> float:
        """Seconds to wait before the restart that follows the given crash (1 for the first)."""
        return min(self.maximum, self.initial * 2 ** (crashes_in_a_row - 1))


class ChildProcess:
    """One supervised command: started, watched, stopped.

    `on_exit(child)` is called from the watcher thread once the process has
    exited and its output is drained, whoever ended it.
    """

    def __init__(
        self,
        name: str,
        argv: collections.abc.Sequence[str],
        *,
        env: collections.abc.Mapping[str, str] | None = None,
        output: typing.TextIO | None = None,
        output_lock: threading.Lock | None = None,
        on_exit: collections.abc.Callable[[ChildProcess], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self._output = output if output is not None else sys.stdout
        self._output_lock = output_lock if output_lock is not None else threading.Lock()
        self._on_exit = on_exit
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._new_output = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        self.exited = threading.Event()
        #: When the process was last started (`time.monotonic()`).
        self.started_at = 0.0
        #: Crashes since the child last ran long enough (see `RestartPolicy`).
        self.crashes_in_a_row = 0
        #: True while an exit was asked for (stop, kill): the supervisor does not
        #: count such an exit as a crash.
        self.exit_expected = False

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        return None if self._process is None else self._process.poll()

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def tail(self) -> str:
        """The child's last output lines (at most `TAIL_LINES`), for error messages."""
        with self._new_output:
            return "\n".join(self._tail) or "(no output)"

    def wait_for_output(self, text: str, timeout: float) -> bool:
        """Wait until one of the child's last output lines contains `text`.

        Returns False if `timeout` seconds pass, or the child exits, first.
        """

        def seen() -> bool:
            return any(text in line for line in self._tail)

        with self._new_output:
            self._new_output.wait_for(lambda: seen() or self.exited.is_set(), timeout)
            return seen()

    def start(self) -> ChildProcess:
        """Start the command (again, when it has exited); a running child is left alone."""
        if self.running:
            return self
        self.exited.clear()
        self.exit_expected = False
        with self._new_output:
            self._tail.clear()
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the terminal reaches the launcher
            # only, which then stops the children in order.
            start_new_session=True,
        )
        self._watcher = threading.Thread(
            target=self._watch, args=(self._process,), name=f"watch-{self.name}", daemon=True
        )
        self._watcher.start()
        return self

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                self._emit(raw.decode(errors="replace").rstrip("\r\n"))
        process.wait()
        self.exited.set()
        with self._new_output:
            self._new_output.notify_all()
        if self._on_exit is not None:
            self._on_exit(self)

    def _emit(self, line: str) -> None:
        with self._new_output:
            self._tail.append(line)
            self._new_output.notify_all()
        with self._output_lock, contextlib.suppress(ValueError, OSError):
            # A closed output (an interpreter shutting down) must not kill the watcher,
            # which would leave the pipe full and the child blocked on writing.
            self._output.write(f"{self.name:<{NAME_WIDTH}}| {line}\n")
            self._output.flush()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds.

        Returns the exit code (None if it was never started).
        """
        if self._process is None:
            return None
        self.exit_expected = True
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
        return self._reap()

    def kill(self) -> int | None:
        """SIGKILL at once (a crash on purpose, for tests); returns the exit code."""
        if self._process is None:
            return None
        self.exit_expected = True
        if self._process.poll() is None:
            self._process.kill()
        return self._reap()

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the process (SIGSTOP to freeze it, say)."""
        if self._process is None or self._process.poll() is not None:
            raise ChildExitedError(f"{self.name} is not running; start it first.")
        os.kill(self._process.pid, signum)

    def _reap(self) -> int:
        assert self._process is not None
        code = self._process.wait()
        # The watcher drains what the child wrote before it died; a grandchild
        # holding the pipe open must not block us for ever.
        if self._watcher is not None:
            self._watcher.join(timeout=5.0)
        return code


class Supervisor:
    """Starts named children and stops them all, the last started first.

    `on_crash(child)` is called (from a watcher thread) when a child exits that
    was not stopped or killed through this supervisor; with `restart`, such a
    child is started again after the policy's backoff, announced by one line
    (`cqrs-demo: NAME was killed by SIGKILL; restarting it in 0.5s`). Every
    child's output goes to `output` (standard output by default), one prefixed
    line at a time.
    """

    def __init__(
        self,
        *,
        output: typing.TextIO | None = None,
        on_crash: collections.abc.Callable[[ChildProcess], None] | None = None,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        restart: RestartPolicy | None = None,
    ) -> None:
        self.output = output if output is not None else sys.stdout
        self.stop_timeout = stop_timeout
        self.restart_policy = restart
        self._on_crash = on_crash
        self._stopping = False
        self._restarts: dict[str, threading.Timer] = {}
        self._output_lock = threading.Lock()
        self._children: dict[str, ChildProcess] = {}
        self._crashed: list[ChildProcess] = []
        self._lock = threading.Lock()

    def start(
        self,
        name: str,
        argv: collections.abc.Sequence[str],
        env: collections.abc.Mapping[str, str] | None = None,
    ) -> ChildProcess:
        """Start a child called `name` (unique within this supervisor)."""
        if name in self._children:
            raise ValueError(f"a child named {name!r} exists already; use restart({name!r}).")
        child = ChildProcess(
            name,
            argv,
            env=env,
            output=self.output,
            output_lock=self._output_lock,
            on_exit=self._child_exited,
        )
        self._children[name] = child
        return child.start()

    def _child_exited(self, child: ChildProcess) -> None:
        if child.exit_expected:
            return
        with self._lock:
            self._crashed.append(child)
        if self._on_crash is not None:
            self._on_crash(child)
        if self.restart_policy is not None:
            self._restart_later(child, self.restart_policy)

    def _restart_later(self, child: ChildProcess, policy: RestartPolicy) -> None:
        ran_for = time.monotonic() - child.started_at
        child.crashes_in_a_row = 1 if ran_for >= policy.stable_after else child.crashes_in_a_row + 1
        delay = policy.delay(child.crashes_in_a_row)
        with self._lock:
            if self._stopping:
                return
            timer = threading.Timer(delay, self._restart_crashed, args=(child,))
            timer.daemon = True
            self._restarts[child.name] = timer
            timer.start()
        self.say(f"cqrs-demo: {child.name} {_how_it_exited(child)}; restarting it in {delay:g}s")

    def _restart_crashed(self, child: ChildProcess) -> None:
        with self._lock:
            if self._stopping or self._restarts.get(child.name) is None:
                return
            del self._restarts[child.name]
            self._crashed = [crashed for crashed in self._crashed if crashed is not child]
            child.start()

    def say(self, line: str) -> None:
        """Write one line of the supervisor's own to the output."""
        with self._output_lock, contextlib.suppress(ValueError, OSError):
            self.output.write(f"{line}\n")
            self.output.flush()

    def __getitem__(self, name: str) -> ChildProcess:
        try:
            return self._children[name]
        except KeyError:
            known = ", ".join(self._children) or "none"
            raise KeyError(f"no child named {name!r}; known children: {known}") from None

    @property
    def children(self) -> list[ChildProcess]:
        """The children, in the order they were first started."""
        return list(self._children.values())

    def crashed(self) -> list[ChildProcess]:
        """The children that exited without being asked to, first crash first."""
        with self._lock:
            return list(self._crashed)

    def check(self) -> None:
        """Raise `ChildExitedError` for the first child that crashed, if any."""
        crashed = self.crashed()
        if crashed:
            raise ChildExitedError(describe_exit(crashed[0]))

    def kill(self, name: str) -> int | None:
        """SIGKILL the child `name` (not counted as a crash); returns its exit code."""
        return self[name].kill()

    def restart(self, name: str) -> ChildProcess:
        """Stop the child `name` if it runs, then start it again with the same command."""
        child = self[name]
        child.stop(self.stop_timeout)
        with self._lock:
            self._crashed = [crashed for crashed in self._crashed if crashed is not child]
            pending = self._restarts.pop(name, None)
            if pending is not None:
                pending.cancel()
        return child.start()

    def stop_all(self) -> None:
        """Stop every child, the last started first (SIGTERM, then SIGKILL after the timeout);
        restarts still waiting for their backoff are called off."""
        with self._lock:
            self._stopping = True
            for timer in self._restarts.values():
                timer.cancel()
            self._restarts.clear()
        for child in reversed(self.children):
            child.stop(self.stop_timeout)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop_all()


def describe_exit(child: ChildProcess) -> str:
    """A message saying that `child` exited, how, and what it printed last."""
    return f"{child.name} {_how_it_exited(child)} unexpectedly. Its last output:\n{child.tail()}"


def _how_it_exited(child: ChildProcess) -> str:
    code = child.returncode
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
