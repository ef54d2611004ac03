"""Where the API is, as the browser sees it (links the API hands out, and the portal's own links)."""

from __future__ import annotations

from typing import Any


def base_path(event: dict[str, Any]) -> str:
    """The path prefix before ``/portal``: ``/<stage>`` on an execute-api domain (REST API), nothing
    on the local stack (its URLs have no stage), an HTTP API's ``$default`` stage or a custom domain."""
    from order_hub.config import _Settings, load

    context = event.get("requestContext") or {}
    stage = str(context.get("stage") or "")
    domain = str(context.get("domainName") or "")
    if load(_Settings).local or not stage or stage == "$default" or ".execute-api." not in domain:
        return ""
    return f"/{stage}"


def public_base_url(event: dict[str, Any]) -> str:
    """``scheme://host[/stage]`` of the API that received ``event``."""
    from order_hub.config import _Settings, load

    context = event.get("requestContext") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    host = str(context.get("domainName") or headers.get("host") or "localhost")
    scheme = "http" if load(_Settings).local else "https"
    return f"{scheme}://{host}{base_path(event)}"
