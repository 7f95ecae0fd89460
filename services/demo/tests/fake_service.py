"""A stand-in for `python -m S serve|relay`, for the launcher's unit tests.

Run as `python fake_service.py SERVICE VERB`. `serve` answers `GET /health`
(status from `FAKE_HEALTH_STATUS`, default 200) and keeps stock in memory
(`GET /stock/{sku}`, `POST /stock/{sku}/restock`) on `SERVICE_PORT`; `relay`
just runs. Both print the contract's environment on start, print
`SERVICE VERB got SIGTERM` and exit 0 on SIGTERM, and exit with code 3 at once
when `FAKE_CRASH` names them (`orders-relay`, say). `relay` prints its pid.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sys
import types

CONTRACT_VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "ORDERS_DATABASE_URL",
    "INVENTORY_DATABASE_URL",
    "ORDERS_PORT",
    "INVENTORY_PORT",
)


class StockHandler(http.server.BaseHTTPRequestHandler):
    stock: dict[str, int] = {}

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(int(os.environ.get("FAKE_HEALTH_STATUS", "200")), {"status": "ok"})
        elif self.path.startswith("/stock/"):
            sku = self.path.removeprefix("/stock/")
            if sku in self.stock:
                self._answer(
                    200, {"sku": sku, "available": self.stock[sku], "reserved": 0, "sold": 0}
                )
            else:
                self._answer(404, {"detail": f"unknown sku {sku}"})
        else:
            self._answer(404, {"detail": "not found"})

    def do_POST(self) -> None:
        # As inventory: a restock needs a token of OPERATOR_TOKENS.
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or f":{token}:" not in os.environ.get("OPERATOR_TOKENS", ""):
            self._answer(401, {"detail": "this route needs an operator token"})
            return
        sku = self.path.removeprefix("/stock/").removesuffix("/restock")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.stock[sku] = self.stock.get(sku, 0) + body["quantity"]
        self._answer(200, {"sku": sku, "available": self.stock[sku], "reserved": 0, "sold": 0})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"request {format % args}", flush=True)


def main(service: str, verb: str) -> None:
    name = service if verb == "serve" else f"{service}-relay"
    for variable in CONTRACT_VARIABLES:
        print(f"env {variable}={os.environ.get(variable)}", flush=True)
    if os.environ.get("FAKE_CRASH") == name:
        print(f"{name} crashing on purpose", flush=True)
        sys.exit(3)

    def on_sigterm(signum: int, frame: types.FrameType | None) -> None:
        print(f"{service} {verb} got SIGTERM", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    if verb == "relay":
        servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        print(f"{service} relay publishing to {servers} as pid {os.getpid()}", flush=True)
        while True:
            signal.pause()
    port = int(os.environ[f"{service.upper()}_PORT"])
    server = http.server.HTTPServer(("127.0.0.1", port), StockHandler)
    print(f"{service} listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
