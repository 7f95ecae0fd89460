"""examples/telemetry.py: one trace from the command, through the outbox, to the handler."""

from examples import telemetry as example


async def test_every_hop_is_a_span_of_one_trace_in_parent_order() -> None:
    result = await example.main()

    assert result["booked"] == ["o-42"]
    assert result["tree"] == [
        "send PlaceOrder",
        "  outbox write order_placed",
        "    publish orders",
        "      process orders",
        "        event order_placed",
        "          handle order_placed",
        "outbox relay",
    ]
    assert len(result["trace_ids"]) == 2  # the order's trace, and the relay batch's own
    assert result["published"] == 1
