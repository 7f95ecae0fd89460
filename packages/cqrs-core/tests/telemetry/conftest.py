from __future__ import annotations

import collections.abc

import pytest

from cqrs.testing.telemetry import CapturedTelemetry, capture_telemetry


@pytest.fixture
def telemetry() -> collections.abc.Iterator[CapturedTelemetry]:
    captured = capture_telemetry()
    captured.clear()
    yield captured
    captured.clear()
