"""examples/quick_start.py: a command and a query through one mediator."""

import pytest

from examples import quick_start as example


async def test_command_returns_id_and_query_reads_it_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    registered, found, missing = await example.main()

    assert registered == example.RegisterMemberResponse(member_id="member-0001")
    assert found == example.MemberDto(
        member_id="member-0001", full_name="Grace Hopper", email="grace@example.org"
    )
    assert missing is None
    assert "registered member-0001" in capsys.readouterr().out


async def test_running_twice_starts_from_an_empty_store() -> None:
    await example.main()
    registered, _, _ = await example.main()

    assert registered.member_id == "member-0001"
    assert list(example.MEMBERS) == ["member-0001"]


async def test_command_and_query_are_bound_by_separate_mappers() -> None:
    mediator = example.build_mediator()

    second = await mediator.send(
        example.RegisterMemberCommand(email="ada@example.org", full_name="Ada Lovelace")
    )
    dto = await mediator.send(example.FindMemberByEmailQuery(email="ada@example.org"))

    assert dto.member_id == second.member_id
