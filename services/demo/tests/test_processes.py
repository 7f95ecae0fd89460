from __future__ import annotations

import io
import pathlib
import queue
import signal
import sys
import textwrap
import time

import pytest

from cqrs_demo.errors import ChildExitedError
from cqrs_demo.processes import ChildProcess, RestartPolicy, Supervisor, describe_exit

WAIT = 20.0


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


# Prints "ready", then on SIGTERM prints a goodbye naming itself and exits 0.
POLITE_CHILD = """
    import signal, sys
    def stop(signum, frame):
        print(sys.argv[1], "got SIGTERM", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while True:
        signal.pause()
"""


def polite(name: str) -> list[str]:
    return [*python(POLITE_CHILD), name]


def test_output_lines_are_prefixed_with_the_child_name() -> None:
    output = io.StringIO()
    with Supervisor(output=output) as supervisor:
        child = supervisor.start("greeter", python("print('hello'); print('world')"))
        assert child.exited.wait(WAIT)
        child.stop()
    lines = output.getvalue().splitlines()
    assert [line.split("| ", 1) for line in lines] == [
        ["greeter        ", "hello"],
        ["greeter        ", "world"],
    ]


def test_stop_sends_sigterm_and_is_not_a_crash() -> None:
    crashes: queue.SimpleQueue[ChildProcess] = queue.SimpleQueue()
    supervisor = Supervisor(output=io.StringIO(), on_crash=crashes.put)
    child = supervisor.start("polite", polite("polite"))
    assert child.wait_for_output("ready", WAIT)
    assert child.stop() == 0
    assert "polite got SIGTERM" in child.tail()
    assert supervisor.crashed() == []
    assert crashes.empty()


def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    code = """
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
        while True:
            signal.pause()
    """
    with Supervisor(output=io.StringIO(), stop_timeout=0.5) as supervisor:
        child = supervisor.start("stubborn", python(code))
        assert child.wait_for_output("ignoring SIGTERM", WAIT)
        supervisor.stop_all()
        assert child.returncode == -signal.SIGKILL


def test_stop_all_stops_the_last_started_first() -> None:
    output = io.StringIO()
    with Supervisor(output=output) as supervisor:
        for name in ("first", "second", "third"):
            assert supervisor.start(name, polite(name)).wait_for_output("ready", WAIT)
    goodbyes = [line for line in output.getvalue().splitlines() if "got SIGTERM" in line]
    assert [line.split("| ", 1)[1] for line in goodbyes] == [
        "third got SIGTERM",
        "second got SIGTERM",
        "first got SIGTERM",
    ]


def test_a_child_exiting_on_its_own_is_reported_as_a_crash() -> None:
    crashes: queue.SimpleQueue[ChildProcess] = queue.SimpleQueue()
    with Supervisor(output=io.StringIO(), on_crash=crashes.put) as supervisor:
        supervisor.start("healthy", polite("healthy"))
        supervisor.start("fragile", python("print('out of disk', flush=True); raise SystemExit(3)"))
        crashed = crashes.get(timeout=WAIT)
        assert crashed.name == "fragile"
        assert supervisor["healthy"].running
        with pytest.raises(ChildExitedError, match="fragile exited with code 3") as raised:
            supervisor.check()
        assert "out of disk" in str(raised.value)


def test_a_signal_death_is_described_by_the_signal_name() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        child = supervisor.start("victim", polite("victim"))
        assert child.wait_for_output("ready", WAIT)
        child.send_signal(signal.SIGKILL)
        assert child.exited.wait(WAIT)
        assert describe_exit(child).startswith("victim was killed by SIGKILL unexpectedly")


def test_kill_is_not_a_crash_and_restart_runs_the_command_again() -> None:
    crashes: queue.SimpleQueue[ChildProcess] = queue.SimpleQueue()
    with Supervisor(output=io.StringIO(), on_crash=crashes.put) as supervisor:
        child = supervisor.start("phoenix", polite("phoenix"))
        assert child.wait_for_output("ready", WAIT)
        first_pid = child.pid
        assert supervisor.kill("phoenix") == -signal.SIGKILL
        restarted = supervisor.restart("phoenix")
        assert restarted is child
        assert child.wait_for_output("ready", WAIT)
        assert child.running
        assert child.pid != first_pid
    assert crashes.empty()
    assert supervisor.crashed() == []


def test_restart_forgets_an_earlier_crash(tmp_path: pathlib.Path) -> None:
    # Crashes on its first run, stays up on the next one.
    code = """
        import pathlib, signal, sys
        marker = pathlib.Path(sys.argv[1])
        if not marker.exists():
            marker.touch()
            sys.exit(1)
        print("second run", flush=True)
        signal.pause()
    """
    crashes: queue.SimpleQueue[ChildProcess] = queue.SimpleQueue()
    with Supervisor(output=io.StringIO(), on_crash=crashes.put) as supervisor:
        supervisor.start("flaky", [*python(code), str(tmp_path / "ran-once")])
        assert crashes.get(timeout=WAIT).name == "flaky"
        child = supervisor.restart("flaky")
        assert child.wait_for_output("second run", WAIT)
        assert supervisor.crashed() == []
        supervisor.check()


def test_tail_keeps_only_the_last_lines() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        child = supervisor.start("chatty", python("for i in range(100): print(f'line {i}')"))
        assert child.exited.wait(WAIT)
        child.stop()
    lines = child.tail().splitlines()
    assert lines[-1] == "line 99"
    assert "line 0" not in lines
    assert len(lines) < 100


def test_wait_for_output_gives_up_when_the_child_exits() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        child = supervisor.start("quiet", python("print('something else')"))
        assert not child.wait_for_output("never printed", WAIT)
        assert child.exited.is_set()


def test_names_are_unique_and_unknown_names_are_explained() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        supervisor.start("only", polite("only"))
        with pytest.raises(ValueError, match="exists already"):
            supervisor.start("only", polite("only"))
        with pytest.raises(KeyError, match="known children: only"):
            supervisor["other"]


def test_with_a_restart_policy_a_crashing_child_is_restarted_with_a_growing_backoff() -> None:
    output = io.StringIO()
    policy = RestartPolicy(initial=0.05, maximum=0.2)
    with Supervisor(output=output, restart=policy) as supervisor:
        child = supervisor.start("crasher", python("import sys; print('up'); sys.exit(3)"))
        restarts = [
            f"cqrs-demo: crasher exited with code 3; restarting it in {delay}s"
            for delay in ("0.05", "0.1", "0.2", "0.2")
        ]
        assert child.wait_for_output("up", WAIT)
        deadline = time.monotonic() + WAIT
        while output.getvalue().count("cqrs-demo: crasher") < len(restarts):
            assert time.monotonic() < deadline, output.getvalue()
            time.sleep(0.05)  # a poll with a deadline: the fourth restart's line
    lines = output.getvalue().splitlines()
    announced = [line for line in lines if line.startswith("cqrs-demo: crasher")]
    assert announced[:4] == restarts
    assert sum(line.endswith("| up") for line in lines) >= 4


def test_stopping_calls_off_a_restart_that_waits_for_its_backoff() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output, restart=RestartPolicy(initial=30.0, maximum=30.0))
    child = supervisor.start("crasher", python("import sys; sys.exit(3)"))
    assert child.exited.wait(WAIT)
    deadline = time.monotonic() + WAIT
    while "restarting it in 30s" not in output.getvalue():
        assert time.monotonic() < deadline, output.getvalue()
        time.sleep(0.01)  # a poll with a deadline: the watcher thread's announcement

    supervisor.stop_all()

    assert not child.running
    assert supervisor._restarts == {}  # pyright: ignore[reportPrivateUsage]
