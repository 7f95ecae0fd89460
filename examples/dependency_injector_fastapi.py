"""dependency-injector + FastAPI: a small bookmarks service.

The application's services live in a dependency-injector
`DeclarativeContainer`: a `Singleton` store behind an abstract base class and
a `Factory` URL normaliser. The request mediator is built once (cached
factory) by bootstrap with `DependencyInjectorCQRSContainer(container)`, and
FastAPI endpoints receive it with `fastapi.Depends(mediator_factory)`.

Because handlers are resolved through the container on every request,
overriding a provider (as tests do, here in `main()` to start from an empty
store) changes what the handlers get without touching the mediator.

Run: `python examples/dependency_injector_fastapi.py`
"""

from __future__ import annotations

import abc
import asyncio
import functools
import typing
import urllib.parse

import fastapi
import httpx
import pydantic
from dependency_injector import containers, providers
from fastapi import status

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.requests import bootstrap

# --- services ------------------------------------------------------------------


class BookmarkStore(abc.ABC):
    @abc.abstractmethod
    def save(self, url: str, tags: list[str]) -> int: ...

    @abc.abstractmethod
    def find(self, tag: str | None) -> list[tuple[int, str, list[str]]]: ...


class InMemoryBookmarkStore(BookmarkStore):
    def __init__(self) -> None:
        self._rows: dict[int, tuple[str, list[str]]] = {}

    def save(self, url: str, tags: list[str]) -> int:
        for bookmark_id, (saved_url, _) in self._rows.items():
            if saved_url == url:
                return bookmark_id
        bookmark_id = len(self._rows) + 1
        self._rows[bookmark_id] = (url, tags)
        return bookmark_id

    def find(self, tag: str | None) -> list[tuple[int, str, list[str]]]:
        return [
            (bookmark_id, url, tags)
            for bookmark_id, (url, tags) in self._rows.items()
            if tag is None or tag in tags
        ]


class UrlNormalizer:
    def normalize(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url.strip())
        path = parts.path.rstrip("/") or "/"
        return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


class ApplicationContainer(containers.DeclarativeContainer):
    store = providers.Singleton(InMemoryBookmarkStore)
    normalizer = providers.Factory(UrlNormalizer)


container = ApplicationContainer()


# --- use cases -----------------------------------------------------------------


class SaveBookmarkCommand(cqrs.Request):
    url: pydantic.HttpUrl
    tags: list[str] = []


class BookmarkSaved(cqrs.Response):
    bookmark_id: int
    url: str


class FindBookmarksQuery(cqrs.Request):
    tag: str | None = None


class Bookmark(cqrs.Response):
    bookmark_id: int
    url: str
    tags: list[str]


class BookmarkList(cqrs.Response):
    items: list[Bookmark]


class SaveBookmarkHandler(cqrs.RequestHandler[SaveBookmarkCommand, BookmarkSaved]):
    def __init__(self, store: BookmarkStore, normalizer: UrlNormalizer) -> None:
        self._store = store
        self._normalizer = normalizer

    async def handle(self, request: SaveBookmarkCommand) -> BookmarkSaved:
        url = self._normalizer.normalize(str(request.url))
        return BookmarkSaved(bookmark_id=self._store.save(url, request.tags), url=url)


class FindBookmarksHandler(cqrs.RequestHandler[FindBookmarksQuery, BookmarkList]):
    def __init__(self, store: BookmarkStore) -> None:
        self._store = store

    async def handle(self, request: FindBookmarksQuery) -> BookmarkList:
        return BookmarkList(
            items=[
                Bookmark(bookmark_id=bookmark_id, url=url, tags=tags)
                for bookmark_id, url, tags in self._store.find(request.tag)
            ]
        )


@functools.lru_cache
def mediator_factory() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=DependencyInjectorCQRSContainer(container),
        commands_mapper=lambda m: m.bind(SaveBookmarkCommand, SaveBookmarkHandler),
        queries_mapper=lambda m: m.bind(FindBookmarksQuery, FindBookmarksHandler),
    )


# --- HTTP ------------------------------------------------------------------------

app = fastapi.FastAPI(title="Bookmarks")


@app.post("/bookmarks", status_code=status.HTTP_201_CREATED)
async def save_bookmark(
    command: SaveBookmarkCommand,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),  # noqa: B008
) -> dict[str, typing.Any]:
    saved = await mediator.send(command)
    return saved.to_dict()


@app.get("/bookmarks")
async def find_bookmarks(
    tag: str | None = None,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),  # noqa: B008
) -> dict[str, typing.Any]:
    found = await mediator.send(FindBookmarksQuery(tag=tag))
    return found.to_dict()


async def main() -> list[tuple[int, typing.Any]]:
    results: list[tuple[int, typing.Any]] = []
    # A fresh store for this run, the way a test would swap it.
    bodies: list[dict[str, typing.Any]] = [
        {"url": "https://Docs.Python.org/3/library/asyncio.html", "tags": ["python"]},
        {"url": "https://example.org/recipes/", "tags": ["food"]},
        {"url": "https://docs.python.org/3/library/asyncio.html/", "tags": []},
        {"url": "not a url"},
    ]
    # dependency-injector types override()'s argument as a bare Provider.
    with container.store.override(  # pyright: ignore[reportUnknownMemberType]
        providers.Singleton(InMemoryBookmarkStore)
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://marks.test") as client:
            for body in bodies:
                response = await client.post("/bookmarks", json=body)
                results.append((response.status_code, response.json()))
            response = await client.get("/bookmarks", params={"tag": "python"})
            results.append((response.status_code, response.json()))
    for status_code, payload in results:
        print(status_code, payload)
    return results


if __name__ == "__main__":
    asyncio.run(main())
