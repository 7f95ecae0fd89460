"""examples/signed_messages.py: forged records are dead-lettered, rotated keys verify."""

from examples import signed_messages as example


async def test_only_signed_records_are_handled_old_key_and_new() -> None:
    result = await example.main()

    assert result["outcomes"] == ["handled", "dead-lettered", "handled"]
    assert result["released"] == ["P-1", "P-3"]


async def test_the_forged_record_is_dead_lettered_for_its_signature() -> None:
    result = await example.main()

    (reason,) = result["dead_letters"]
    assert reason.startswith("SignatureError: signature: the record is not signed")
