"""The API reference on the local stack: ``GET /openapi.json`` and a Swagger UI page at ``GET /docs``.

Local only (the deployed API serves neither). The page and its assets come from this machine: Swagger UI's
JavaScript and CSS are the files Powertools ships in its wheel
(``aws_lambda_powertools/event_handler/openapi/swagger_ui``), served under ``/docs/``; the page loads
nothing from any other origin, and its Content-Security-Policy tells the browser to refuse anything
that tries (Swagger UI's online validator is switched off).

``/openapi.json`` is ``docs/openapi.json`` (``make openapi``) with ``servers`` set to this stack's URL,
so "Try it out" talks to this stack whatever its port.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from local_stack.apigw import ApiGateway, HttpRequest, HttpResponse, split_target
from local_stack.openapi import DOCUMENT

SWAGGER_UI_PACKAGE = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Outbound order hub API</title>
  <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui">Loading /openapi.json ...</div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-init.js"></script>
</body>
</html>
"""

INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  docExpansion: "list",
  filter: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def _asset(name: str) -> bytes:
    return resources.files(SWAGGER_UI_PACKAGE).joinpath(name).read_bytes()


class DocsSite:
    """Answers ``GET``/``HEAD`` of ``/openapi.json``, ``/docs`` and ``/docs/<asset>``; ``None`` for anything else."""

    def __init__(self, base_url: Callable[[], str], document: Path = DOCUMENT) -> None:
        self._base_url = base_url
        self._document = document
        self._routes: dict[str, Callable[[], HttpResponse]] = {
            "/openapi.json": self._openapi,
            "/docs": lambda: self._static(PAGE.encode(), "text/html; charset=utf-8"),
            "/docs/": lambda: self._static(PAGE.encode(), "text/html; charset=utf-8"),
            "/docs/swagger-init.js": lambda: self._static(INIT.encode(), "text/javascript; charset=utf-8"),
            "/docs/swagger-ui-bundle.js": lambda: self._static(
                _asset("swagger-ui-bundle.min.js"), "text/javascript; charset=utf-8"
            ),
            "/docs/swagger-ui.css": lambda: self._static(_asset("swagger-ui.min.css"), "text/css; charset=utf-8"),
        }

    @property
    def paths(self) -> list[str]:
        return sorted(self._routes)

    def handle(self, request: HttpRequest) -> HttpResponse | None:
        if request.method not in ("GET", "HEAD"):
            return None
        route = self._routes.get(split_target(request.target)[0])
        return route() if route is not None else None

    def _openapi(self) -> HttpResponse:
        document = json.loads(self._document.read_text())
        document["servers"] = [{"url": self._base_url(), "description": "this local stack"}]
        return self._static(json.dumps(document, indent=2).encode(), "application/json")

    @staticmethod
    def _static(body: bytes, content_type: str) -> HttpResponse:
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return HttpResponse(200, headers, body)


class DocumentedGateway(ApiGateway):
    """The local API Gateway plus the reference: ``/openapi.json`` and ``/docs`` answer before routing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.docs = DocsSite(lambda: self.url)

    def handle(self, request: HttpRequest) -> HttpResponse:
        return self.docs.handle(request) or super().handle(request)
