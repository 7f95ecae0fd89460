"""examples/asyncpg_outbox.py: events written on the application's asyncpg connection."""

from examples import asyncpg_outbox as example


async def test_the_committed_shipment_is_recorded_and_published_and_the_jammed_one_is_not() -> None:
    result = await example.main()

    assert result["parcels"] == ["P-1"]
    assert result["published"] == 1
    assert result["messages"] == [("P-1", {"parcel_id": "P-1", "destination": "Lyon"})]


async def test_a_write_outside_a_transaction_is_refused() -> None:
    result = await example.main()

    assert "only inside a transaction" in result["refused"]
