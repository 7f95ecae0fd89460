"""FastAPI + Server-Sent Events: streaming a handler's progress to the client.

A video platform transcodes a batch of uploads. `POST /transcode-videos` takes
the command as its JSON body, gets a `cqrs.StreamingRequestMediator` from
`fastapi.Depends(streaming_mediator_factory)` and returns a
`fastapi.responses.StreamingResponse` with media type `text/event-stream`.
Its generator sends a `start` event, one `progress` event per result yielded
by `mediator.stream(command)` (the result's `to_dict()`), then `complete`.

Meanwhile the streaming mediator dispatches the events the handler records:
domain events to an in-process handler (up to three at a time), notification
events to the message broker.

Run: `python examples/fastapi_sse_streaming.py`
"""

from __future__ import annotations

import asyncio
import json
import typing

import di
import fastapi
import httpx
import pydantic

import cqrs
from cqrs.message_brokers import memory
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler

BROKER = memory.InMemoryMessageBroker()
CATALOGUE: dict[str, str] = {}


class TranscodeVideosCommand(cqrs.Request):
    video_ids: list[str]
    resolution: str = "720p"


class VideoTranscoded(cqrs.Response):
    video_id: str
    resolution: str
    status: str


class RenditionReady(cqrs.DomainEvent):
    video_id: str
    resolution: str


class RenditionReadyPayload(pydantic.BaseModel):
    video_id: str
    url: str


class TranscodeVideosHandler(StreamingRequestHandler[TranscodeVideosCommand, VideoTranscoded]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: TranscodeVideosCommand
    ) -> typing.AsyncIterator[VideoTranscoded]:
        for video_id in request.video_ids:
            await asyncio.sleep(0.001)  # run ffmpeg...
            if video_id.endswith(".corrupt"):
                yield VideoTranscoded(
                    video_id=video_id, resolution=request.resolution, status="failed"
                )
                continue
            self._events.append(RenditionReady(video_id=video_id, resolution=request.resolution))
            self._events.append(
                cqrs.NotificationEvent[RenditionReadyPayload](
                    event_name="RenditionReady",
                    topic="video.renditions",
                    payload=RenditionReadyPayload(
                        video_id=video_id,
                        url=f"https://cdn.example.org/{video_id}/{request.resolution}.mp4",
                    ),
                )
            )
            yield VideoTranscoded(video_id=video_id, resolution=request.resolution, status="done")


class PublishToCatalogue(cqrs.EventHandler[RenditionReady]):
    async def handle(self, event: RenditionReady) -> None:
        CATALOGUE[event.video_id] = event.resolution


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(TranscodeVideosCommand, TranscodeVideosHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(RenditionReady, PublishToCatalogue)


def streaming_mediator_factory() -> cqrs.StreamingRequestMediator:
    return bootstrap.bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events_mapper,
        message_broker=BROKER,
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=True,
    )


app = fastapi.FastAPI(title="Transcoder")


@app.post("/transcode-videos")
async def transcode_videos_stream(
    command: TranscodeVideosCommand,
    mediator: cqrs.StreamingRequestMediator = fastapi.Depends(streaming_mediator_factory),  # noqa: B008
) -> fastapi.responses.StreamingResponse:
    async def generate_sse() -> typing.AsyncIterator[str]:
        total = len(command.video_ids)
        yield f"data: {json.dumps({'type': 'start', 'total': total})}\n\n"
        async for result in mediator.stream(command):
            yield f"data: {json.dumps({'type': 'progress', 'data': result.to_dict()})}\n\n"
        yield f"data: {json.dumps({'type': 'complete'})}\n\n"

    return fastapi.responses.StreamingResponse(generate_sse(), media_type="text/event-stream")


def parse_sse(body: str) -> list[dict[str, typing.Any]]:
    """The JSON of each `data:` line of an event stream."""
    return [
        json.loads(line.removeprefix("data: "))
        for line in body.splitlines()
        if line.startswith("data: ")
    ]


async def main() -> tuple[httpx.Response, list[dict[str, typing.Any]]]:
    BROKER.clear()
    CATALOGUE.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://videos.test") as client:
        response = await client.post(
            "/transcode-videos",
            json={"video_ids": ["intro.mov", "broken.corrupt", "outro.mov"], "resolution": "1080p"},
        )
    events = parse_sse(response.text)
    for event in events:
        print(event)
    print(f"catalogue={CATALOGUE}; published {[m.message_name for m in BROKER.messages]}")
    return response, events


if __name__ == "__main__":
    asyncio.run(main())
