"""Static typing: `mediator.send` returns the response type the request declares."""

import json
import pathlib
import shutil
import subprocess

WORKSPACE = pathlib.Path(__file__).resolve().parents[3]

SNIPPET = """\
import cqrs


class Pong(cqrs.Response):
    pass


class Ping(cqrs.Request[Pong]):
    pass


async def check(mediator: cqrs.RequestMediator) -> None:
    reveal_type(await mediator.send(Ping()))
"""


def test_pyright_infers_send_result_from_the_request_type(tmp_path: pathlib.Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    uv = shutil.which("uv")
    assert uv is not None, "uv must be on PATH"

    completed = subprocess.run(
        [uv, "run", "pyright", "--outputjson", str(snippet)],
        cwd=WORKSPACE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(completed.stdout)

    revealed = [
        diagnostic["message"]
        for diagnostic in report["generalDiagnostics"]
        if diagnostic["severity"] == "information"
    ]
    assert revealed == ['Type of "await mediator.send(Ping())" is "Pong"']
    assert report["summary"]["errorCount"] == 0
