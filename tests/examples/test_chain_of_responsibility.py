"""examples/chain_of_responsibility.py: CORRequestHandler chains."""

from examples import chain_of_responsibility as example


async def test_first_matching_link_answers() -> None:
    outcomes = await example.main()

    store_credit, visited = outcomes["store_credit"]
    assert store_credit == example.RefundResult(
        accepted=True, channel="store_credit", reference="credit-c-9-25.00"
    )
    assert visited == ["store_credit"]


async def test_request_is_passed_down_until_a_link_handles_it() -> None:
    outcomes = await example.main()

    gift_card, visited = outcomes["gift_card"]
    assert gift_card == example.RefundResult(
        accepted=True, channel="gift_card", reference="GIFT-001-25"
    )
    assert visited == ["store_credit", "gift_card"]


async def test_catch_all_link_answers_the_rest() -> None:
    outcomes = await example.main()

    crypto, visited = outcomes["crypto"]
    assert crypto == example.RefundResult(
        accepted=False, channel="crypto", reference="needs-review"
    )
    assert visited == ["store_credit", "gift_card", "manual_review"]


async def test_links_use_injected_services_and_their_events_are_dispatched() -> None:
    await example.main()

    assert example.STORE_CREDIT_BALANCES == {"c-9": 25.0}
    assert example.GIFT_CARDS_ISSUED == ["GIFT-001-25"]
    assert example.REFUND_AUDIT == ["o-1 via store_credit: 25.00", "o-2 via gift_card: 25.00"]
