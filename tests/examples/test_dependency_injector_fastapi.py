"""examples/dependency_injector_fastapi.py: dependency-injector container behind FastAPI."""

import httpx
from dependency_injector import providers

from examples import dependency_injector_fastapi as example


async def test_main_saves_normalised_bookmarks_and_filters_by_tag() -> None:
    results = await example.main()

    assert results[0] == (
        201,
        {"bookmark_id": 1, "url": "https://docs.python.org/3/library/asyncio.html"},
    )
    assert results[1] == (201, {"bookmark_id": 2, "url": "https://example.org/recipes"})
    # Same page with another spelling: the store returns the existing id.
    assert results[2] == (
        201,
        {"bookmark_id": 1, "url": "https://docs.python.org/3/library/asyncio.html"},
    )
    assert results[3][0] == 422
    assert results[4] == (
        200,
        {
            "items": [
                {
                    "bookmark_id": 1,
                    "url": "https://docs.python.org/3/library/asyncio.html",
                    "tags": ["python"],
                }
            ]
        },
    )


async def test_overriding_a_provider_swaps_what_handlers_receive() -> None:
    class ReadOnlyStore(example.InMemoryBookmarkStore):
        def save(self, url: str, tags: list[str]) -> int:
            return 0

    transport = httpx.ASGITransport(app=example.app)
    # dependency-injector types override()'s argument as a bare Provider.
    store = example.container.store
    with store.override(providers.Singleton(ReadOnlyStore)):  # pyright: ignore[reportUnknownMemberType]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/bookmarks", json={"url": "https://a.example/"})
            listed = await client.get("/bookmarks")

    assert response.json() == {"bookmark_id": 0, "url": "https://a.example/"}
    assert listed.json() == {"items": []}
