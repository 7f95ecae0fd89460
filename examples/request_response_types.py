"""Three ways to declare requests and responses, all sent through one mediator.

A bookshop catalogue uses:

* pydantic models (`cqrs.Request` / `cqrs.Response`, aliases of
  `cqrs.PydanticRequest` / `cqrs.PydanticResponse`) to add a book;
* dataclasses (`cqrs.DCRequest` / `cqrs.DCResponse`) to register an author;
* hand-written classes implementing `cqrs.IRequest` / `cqrs.IResponse`
  (just `to_dict` and `from_dict`) to rate a book.

Every kind round-trips through `to_dict()` / `from_dict(**...)`, which is what
lets them cross process boundaries.

Run: `python examples/request_response_types.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing

import di

import cqrs
from cqrs.requests import bootstrap

# --- pydantic (the default) ----------------------------------------------------


class AddBookCommand(cqrs.Request):
    isbn: str
    title: str
    price: float


class BookResponse(cqrs.Response):
    book_id: str
    title: str


# --- dataclasses -------------------------------------------------------------


@dataclasses.dataclass
class RegisterAuthorCommand(cqrs.DCRequest):
    name: str
    born: int


@dataclasses.dataclass
class AuthorResponse(cqrs.DCResponse):
    author_id: str
    name: str


# --- custom classes ------------------------------------------------------------


class RateBookRequest(cqrs.IRequest):
    def __init__(self, book_id: str, stars: int) -> None:
        self.book_id = book_id
        self.stars = stars

    def to_dict(self) -> dict[str, typing.Any]:
        return {"book_id": self.book_id, "stars": self.stars}

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> RateBookRequest:
        return cls(book_id=kwargs["book_id"], stars=kwargs["stars"])


class RatingResponse(cqrs.IResponse):
    def __init__(self, book_id: str, average: float) -> None:
        self.book_id = book_id
        self.average = average

    def to_dict(self) -> dict[str, typing.Any]:
        return {"book_id": self.book_id, "average": self.average}

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> RatingResponse:
        return cls(book_id=kwargs["book_id"], average=kwargs["average"])


# --- handlers ----------------------------------------------------------------

RATINGS: dict[str, list[int]] = {}


class AddBookHandler(cqrs.RequestHandler[AddBookCommand, BookResponse]):
    async def handle(self, request: AddBookCommand) -> BookResponse:
        digits = request.isbn.replace("-", "")
        return BookResponse(book_id=f"book-{digits[-4:]}", title=request.title)


class RegisterAuthorHandler(cqrs.RequestHandler[RegisterAuthorCommand, AuthorResponse]):
    async def handle(self, request: RegisterAuthorCommand) -> AuthorResponse:
        slug = request.name.lower().replace(" ", "-")
        return AuthorResponse(author_id=f"{slug}-{request.born}", name=request.name)


class RateBookHandler(cqrs.RequestHandler[RateBookRequest, RatingResponse]):
    async def handle(self, request: RateBookRequest) -> RatingResponse:
        stars = RATINGS.setdefault(request.book_id, [])
        stars.append(request.stars)
        return RatingResponse(book_id=request.book_id, average=sum(stars) / len(stars))


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(AddBookCommand, AddBookHandler)
    mapper.bind(RegisterAuthorCommand, RegisterAuthorHandler)
    mapper.bind(RateBookRequest, RateBookHandler)


async def main() -> dict[str, dict[str, typing.Any]]:
    RATINGS.clear()
    mediator = bootstrap.bootstrap(di_container=di.Container(), commands_mapper=commands_mapper)

    add_book = AddBookCommand(isbn="978-0-13-468599-1", title="Dune", price=9.5)
    register_author = RegisterAuthorCommand(name="Frank Herbert", born=1920)
    book = await mediator.send(add_book)
    author = await mediator.send(register_author)
    await mediator.send(RateBookRequest(book_id=book.book_id, stars=5))
    rating = await mediator.send(RateBookRequest(book_id=book.book_id, stars=4))

    # Each kind of message survives a trip through its dict form.
    round_trips = {
        "pydantic": AddBookCommand.from_dict(**add_book.to_dict()) == add_book,
        "dataclass": RegisterAuthorCommand.from_dict(**register_author.to_dict())
        == register_author,
        "custom": RatingResponse.from_dict(**rating.to_dict()).to_dict() == rating.to_dict(),
    }

    results = {
        "book": book.to_dict(),
        "author": author.to_dict(),
        "rating": rating.to_dict(),
        "round_trips": round_trips,
    }
    for kind, payload in results.items():
        print(f"{kind}: {payload}")
    return results


if __name__ == "__main__":
    asyncio.run(main())
