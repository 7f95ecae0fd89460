"""examples/idempotent_requests.py: a retried request gets the first answer."""

from examples import idempotent_requests as example


async def test_a_retry_gets_the_first_booking_and_books_nothing() -> None:
    result = await example.main()

    assert result["first"] == result["retried"] == "B-1"


async def test_a_key_reused_for_another_booking_is_refused() -> None:
    result = await example.main()

    assert result["reused_key"] == "refused"


async def test_a_crashed_booking_left_no_key_so_its_retry_books() -> None:
    result = await example.main()

    assert result["after_crash"] == "B-3"  # B-2 was the crashed attempt, rolled back
    assert result["committed_seats"] == ["B-1", "B-3"]
