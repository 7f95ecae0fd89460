"""examples/request_response_types.py: pydantic, dataclass and custom messages."""

import dataclasses

import cqrs
from examples import request_response_types as example


async def test_every_kind_of_request_is_handled() -> None:
    results = await example.main()

    assert results["book"] == {"book_id": "book-5991", "title": "Dune"}
    assert results["author"] == {"author_id": "frank-herbert-1920", "name": "Frank Herbert"}
    assert results["rating"] == {"book_id": "book-5991", "average": 4.5}


async def test_every_kind_round_trips_through_its_dict_form() -> None:
    results = await example.main()

    assert results["round_trips"] == {"pydantic": True, "dataclass": True, "custom": True}


def test_the_three_declaration_styles() -> None:
    assert cqrs.PydanticRequest is cqrs.Request
    assert cqrs.PydanticResponse is cqrs.Response
    assert issubclass(example.AddBookCommand, cqrs.Request)
    assert dataclasses.is_dataclass(example.RegisterAuthorCommand)
    assert issubclass(example.RegisterAuthorCommand, cqrs.DCRequest)
    assert issubclass(example.AuthorResponse, cqrs.DCResponse)
    assert issubclass(example.RateBookRequest, cqrs.IRequest)
    assert not issubclass(example.RateBookRequest, (cqrs.Request, cqrs.DCRequest))
    assert issubclass(example.RatingResponse, cqrs.IResponse)


def test_custom_request_from_dict() -> None:
    request = example.RateBookRequest.from_dict(book_id="b-1", stars=3)

    assert (request.book_id, request.stars) == ("b-1", 3)
    assert request.to_dict() == {"book_id": "b-1", "stars": 3}
