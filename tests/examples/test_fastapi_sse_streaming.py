"""examples/fastapi_sse_streaming.py: StreamingRequestMediator behind an SSE endpoint."""

import httpx

from examples import fastapi_sse_streaming as example


async def test_stream_is_an_event_stream_of_start_progress_complete() -> None:
    response, events = await example.main()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events == [
        {"type": "start", "total": 3},
        {
            "type": "progress",
            "data": {"video_id": "intro.mov", "resolution": "1080p", "status": "done"},
        },
        {
            "type": "progress",
            "data": {"video_id": "broken.corrupt", "resolution": "1080p", "status": "failed"},
        },
        {
            "type": "progress",
            "data": {"video_id": "outro.mov", "resolution": "1080p", "status": "done"},
        },
        {"type": "complete"},
    ]


async def test_body_lines_are_sse_frames() -> None:
    response, _ = await example.main()

    frames = response.text.split("\n\n")
    assert frames[-1] == ""
    assert all(frame.startswith("data: {") for frame in frames[:-1])
    assert len(frames) - 1 == 5


async def test_handler_events_are_dispatched_while_streaming() -> None:
    await example.main()

    assert example.CATALOGUE == {"intro.mov": "1080p", "outro.mov": "1080p"}
    assert [m.payload["payload"] for m in example.BROKER.topic("video.renditions")] == [
        {"video_id": "intro.mov", "url": "https://cdn.example.org/intro.mov/1080p.mp4"},
        {"video_id": "outro.mov", "url": "https://cdn.example.org/outro.mov/1080p.mp4"},
    ]


async def test_invalid_command_body_is_rejected() -> None:
    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://v") as client:
        response = await client.post("/transcode-videos", json={"video_ids": "not-a-list"})

    assert response.status_code == 422
