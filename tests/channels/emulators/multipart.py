"""multipart/form-data parsed from the raw body: the recording middleware (`base.py`) has read the request
stream already, so aiohttp's own `request.post()` would see nothing."""

from __future__ import annotations

import re

from aiohttp import web

_NAME = re.compile(rb'name="([^"]*)"')
_FILENAME = re.compile(rb'filename="([^"]*)"')


class FormPart:
    def __init__(self, data: bytes, filename: str | None) -> None:
        self.data = data
        self.filename = filename


async def form_fields(request: web.Request) -> dict[str, FormPart]:
    """name -> part (its bytes, and its filename for a file); {} when the body is not multipart."""
    raw = await request.read()
    ctype = request.headers.get("Content-Type", "")
    match = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.startswith("multipart/form-data") or match is None:
        return {}
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, FormPart] = {}
    for chunk in raw.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, sep, body = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        name = _NAME.search(head)
        if name is None:
            continue
        filename = _FILENAME.search(head)
        data = body[:-2] if body.endswith(b"\r\n") else body
        fields[name.group(1).decode()] = FormPart(data, filename.group(1).decode() if filename else None)
    return fields
