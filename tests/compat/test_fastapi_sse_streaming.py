"""python-cqrs `examples/fastapi_sse_streaming.py`: a streaming mediator's results sent as
Server-Sent Events from a FastAPI endpoint."""

from __future__ import annotations

import json
import typing

import di
import fastapi
import httpx

import cqrs
from cqrs.requests import bootstrap


class ProcessFilesCommand(cqrs.Request):
    file_ids: list[str]


class FileProcessedResult(cqrs.Response):
    file_id: str
    status: str


class FileProcessedEvent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    file_id: str


INDEXED: list[str] = []


class ProcessFilesCommandHandler(
    cqrs.StreamingRequestHandler[ProcessFilesCommand, FileProcessedResult]
):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: ProcessFilesCommand
    ) -> typing.AsyncIterator[FileProcessedResult]:
        for file_id in request.file_ids:
            self._events.append(FileProcessedEvent(file_id=file_id))
            yield FileProcessedResult(file_id=file_id, status="completed")


class IndexFile(cqrs.EventHandler[FileProcessedEvent]):
    async def handle(self, event: FileProcessedEvent) -> None:
        INDEXED.append(event.file_id)


def streaming_mediator_factory() -> cqrs.StreamingRequestMediator:
    return bootstrap.bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=lambda mapper: mapper.bind(ProcessFilesCommand, ProcessFilesCommandHandler),
        domain_events_mapper=lambda mapper: mapper.bind(FileProcessedEvent, IndexFile),
        message_broker=cqrs.DevnullMessageBroker(),
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=True,
    )


app = fastapi.FastAPI()


@app.post("/process-files")
async def process_files_stream(
    command: ProcessFilesCommand,
    mediator: cqrs.StreamingRequestMediator = fastapi.Depends(streaming_mediator_factory),  # noqa: B008
) -> fastapi.responses.StreamingResponse:
    async def generate_sse() -> typing.AsyncIterator[str]:
        yield f"data: {json.dumps({'type': 'start'})}\n\n"
        async for result in mediator.stream(command):
            yield f"data: {json.dumps({'type': 'progress', 'data': result.to_dict()})}\n\n"
        yield f"data: {json.dumps({'type': 'complete'})}\n\n"

    return fastapi.responses.StreamingResponse(generate_sse(), media_type="text/event-stream")


async def test_each_result_is_one_server_sent_event_between_start_and_complete() -> None:
    INDEXED.clear()
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/process-files", json={"file_ids": ["a", "b"]})

    frames = [frame for frame in response.text.split("\n\n") if frame]
    events = [json.loads(frame.removeprefix("data: ")) for frame in frames]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events == [
        {"type": "start"},
        {"type": "progress", "data": {"file_id": "a", "status": "completed"}},
        {"type": "progress", "data": {"file_id": "b", "status": "completed"}},
        {"type": "complete"},
    ]
    assert INDEXED == ["a", "b"]
