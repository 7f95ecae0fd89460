"""examples/handler_registry.py: decorator registration with HandlerRegistry."""

import cqrs
from examples import handler_registry as example


async def test_command_and_query_registered_by_decorator() -> None:
    number, issue = await example.main()

    assert number == 2
    assert issue == example.IssueView(
        number=2, title="Crash on save", reporter="ben", labels=["bug"]
    )


async def test_all_registered_event_handlers_run() -> None:
    await example.main()

    assert example.ACTIVITY == ["#1 opened", "#2 opened"]
    assert example.ISSUES[1].labels == []


def test_registry_binds_by_annotation_and_by_generic_base() -> None:
    requests = cqrs.RequestMap()
    example.handlers.requests(requests)
    events = cqrs.EventMap()
    example.handlers.events(events)

    assert requests.get(example.OpenIssueCommand) is example.OpenIssueHandler
    assert requests.get(example.GetIssueQuery) is example.GetIssueHandler
    assert events.get(example.IssueOpened) == (example.LabelBugs, example.RecordActivity)
