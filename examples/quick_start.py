"""Quick start: one command, one query, one mediator.

A lending library registers members (a command that changes state and returns
the new member's id) and looks them up by e-mail (a query that only reads).
Both go through the same `RequestMediator.send`; the handlers know nothing
about HTTP, brokers or the CLI. The command is bound with `commands_mapper`,
the query with `queries_mapper`, each given as a lambda to `bootstrap`.

Run: `python examples/quick_start.py`
"""

from __future__ import annotations

import asyncio

import di

import cqrs
from cqrs.requests import bootstrap

# The "database": member id -> member record, filled by the command handler.
MEMBERS: dict[str, MemberDto] = {}


class RegisterMemberCommand(cqrs.Request):
    email: str
    full_name: str


class RegisterMemberResponse(cqrs.Response):
    member_id: str


class FindMemberByEmailQuery(cqrs.Request):
    email: str


class MemberDto(cqrs.Response):
    member_id: str
    full_name: str
    email: str


class RegisterMemberHandler(cqrs.RequestHandler[RegisterMemberCommand, RegisterMemberResponse]):
    async def handle(self, request: RegisterMemberCommand) -> RegisterMemberResponse:
        member_id = f"member-{len(MEMBERS) + 1:04d}"
        MEMBERS[member_id] = MemberDto(
            member_id=member_id, full_name=request.full_name, email=request.email
        )
        return RegisterMemberResponse(member_id=member_id)


class FindMemberByEmailHandler(cqrs.RequestHandler[FindMemberByEmailQuery, MemberDto | None]):
    async def handle(self, request: FindMemberByEmailQuery) -> MemberDto | None:
        return next((m for m in MEMBERS.values() if m.email == request.email), None)


def build_mediator() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(RegisterMemberCommand, RegisterMemberHandler),
        queries_mapper=lambda m: m.bind(FindMemberByEmailQuery, FindMemberByEmailHandler),
    )


async def main() -> tuple[RegisterMemberResponse, MemberDto | None, MemberDto | None]:
    MEMBERS.clear()
    mediator = build_mediator()

    registered = await mediator.send(
        RegisterMemberCommand(email="grace@example.org", full_name="Grace Hopper")
    )
    found = await mediator.send(FindMemberByEmailQuery(email="grace@example.org"))
    missing = await mediator.send(FindMemberByEmailQuery(email="nobody@example.org"))

    print(f"registered {registered.member_id}; lookup -> {found}; unknown -> {missing}")
    return registered, found, missing


if __name__ == "__main__":
    asyncio.run(main())
