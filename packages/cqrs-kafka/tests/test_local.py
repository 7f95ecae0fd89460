"""`LocalKafkaBroker`: start on a free port, answer, pause, stop, and its CLI."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from cqrs_kafka import LocalBrokerError, LocalKafkaBroker
from cqrs_kafka.local import BINARY_ENV, broker_answers, broker_binary, free_port


def test_a_started_broker_answers_and_a_stopped_one_does_not() -> None:
    broker = LocalKafkaBroker()
    with broker:
        assert broker.running
        assert broker_answers(broker.host, broker.port)
    assert not broker.running
    assert not broker_answers(broker.host, broker.port, timeout=0.2)


def test_a_paused_broker_does_not_answer_until_resumed() -> None:
    with LocalKafkaBroker() as broker:
        broker.pause()
        assert not broker_answers(broker.host, broker.port, timeout=0.3)
        broker.resume()
        assert broker_answers(broker.host, broker.port)


def test_a_paused_broker_still_stops() -> None:
    broker = LocalKafkaBroker().start()
    broker.pause()
    broker.stop(timeout=5)
    assert not broker.running


def test_starting_on_a_port_where_a_broker_answers_is_refused() -> None:
    with LocalKafkaBroker() as first:
        second = LocalKafkaBroker(first.port)
        with pytest.raises(LocalBrokerError, match="already answers"):
            second.start()


def test_a_broker_that_exits_at_start_up_quotes_its_log(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = tmp_path / "tansu"
    failing.write_text("#!/bin/sh\necho 'cannot bind the listener'\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setenv(BINARY_ENV, str(failing))
    broker = LocalKafkaBroker(startup_timeout=10)

    with pytest.raises(LocalBrokerError, match="exited at start-up: cannot bind the listener"):
        broker.start()
    assert not broker.running


def test_pause_before_start_says_to_start_first() -> None:
    with pytest.raises(LocalBrokerError, match="start it first"):
        LocalKafkaBroker().pause()


def test_the_binary_override_must_be_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINARY_ENV, "/nonexistent/tansu")

    with pytest.raises(LocalBrokerError, match=BINARY_ENV):
        broker_binary()


def test_the_command_line_runs_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cqrs_kafka.local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a failure below can kill the broker with it
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"127.0.0.1:{port}" in line
        assert broker_answers("127.0.0.1", port)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
        assert process.returncode == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert not broker_answers("127.0.0.1", port, timeout=0.2)
