"""examples/consumer_pipeline.py: EventPipeline and EventConsumer on the in-memory transport."""

from examples import consumer_pipeline as example


async def test_each_loan_counts_once_though_one_was_delivered_twice() -> None:
    result = await example.main()

    assert result["on_loan"] == {"978-0441013593": 1, "978-0553293357": 1}


async def test_an_unknown_book_is_dead_lettered_after_one_try() -> None:
    result = await example.main()

    (headers,) = result["dead_letters"]
    assert headers["x-dead-letter-attempts"] == "1"
    assert headers["x-dead-letter-error"].endswith("UnknownBook")
    assert "no book 000-0000000000" in headers["x-dead-letter-reason"]
    assert headers["x-original-topic"] == "loans"
    # Two loans and one try of the unknown book; the duplicate was dropped unhandled.
    assert result["handled"] == 3


async def test_the_consumer_ends_healthy_with_one_dead_letter() -> None:
    result = await example.main()

    assert result["health"] == {
        "healthy": True,
        "troubles": [],
        "dead_letters": 1,
        "dead_letter_failures": 0,
    }
