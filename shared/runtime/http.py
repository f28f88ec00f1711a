"""A tiny asyncio HTTP server for ``/metrics`` (Prometheus text) and ``/health`` (broker connectivity)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthCheck = Callable[[], dict[str, Any]]


class ObservabilityServer:
    """Serve ``GET /metrics``, ``GET /health`` (200 when healthy, else 503) and ``GET /health/live``."""

    def __init__(self, registry: CollectorRegistry, health: HealthCheck, host: str = "0.0.0.0", port: int = 0) -> None:
        self.registry = registry
        self.health = health
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Start listening and return the bound port (useful when ``port`` was 0)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while await asyncio.wait_for(reader.readline(), timeout=5) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = self._route(parts[0] if parts else "", path)
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/health/live":
            return "200 OK", "application/json", b'{"status":"alive"}'
        if path in ("/health", "/health/ready"):
            report = self.health()
            status = "200 OK" if report.get("status") == "ok" else "503 Service Unavailable"
            return status, "application/json", json.dumps(report).encode()
        return "404 Not Found", "text/plain", b"not found\n"
