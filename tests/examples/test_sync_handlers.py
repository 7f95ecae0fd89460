"""examples/sync_handlers.py: SyncRequestHandler and SyncEventHandler."""

from examples import sync_handlers as example


async def test_sync_command_updates_state_and_async_query_reads_it() -> None:
    controller = await example.main()

    assert controller.targets() == {"orchids": 22.0}


async def test_sync_event_handler_writes_the_audit_trail() -> None:
    controller = await example.main()

    assert controller.audit() == ["orchids: None -> 24.5", "orchids: 24.5 -> 22.0"]


async def test_async_event_handler_reaches_the_hardware() -> None:
    controller = await example.main()

    assert controller.hardware_log == [("orchids", 24.5), ("orchids", 22.0)]


async def test_handlers_are_the_synchronous_kinds() -> None:
    import inspect

    from cqrs.events import SyncEventHandler
    from cqrs.requests.request_handler import SyncRequestHandler

    assert issubclass(example.SetZoneTemperatureHandler, SyncRequestHandler)
    assert not inspect.iscoroutinefunction(example.SetZoneTemperatureHandler.handle)
    assert issubclass(example.AuditTemperatureChange, SyncEventHandler)
    assert not inspect.iscoroutinefunction(example.AuditTemperatureChange.handle)
