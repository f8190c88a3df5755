"""`kubeduty mcp serve` over stdio: MCP discovery answered before the `mcp` SDK is imported.

An MCP client spawns the server and at once asks for its tools: `initialize`, `notifications/initialized` and
`tools/list` (handshake era), or `server/discover` and `tools/list` with the 2026 per-request envelope (what the
SDK's own client sends).
Importing the SDK and building the server costs most of a second of CPU (seconds on a loaded machine), and the
tool list never changes for a given install. So this front, which imports nothing heavy, answers those
messages from `tools/mcp_listing.json` (the SDK's own answers, captured by `tools/mcp_listing.py` and checked
by a test) while a thread imports the SDK and builds the real server. Then it hands over: the SDK's stdio
transport first receives the lines the front already answered (so its session is initialised exactly as if it
had read them itself; its answers to those requests are dropped, the client has them), then the rest of stdin.
Everything else is the SDK's: tools/call, ping, malformed JSON-RPC (-32600), unusual envelopes or capabilities.
The front answers invalid JSON with -32700 itself, as `tools/mcp_stdio.py` does.

The front answers only what it recognises exactly; any other line, and the moment the SDK is ready, end it.
If the listing file does not match the installed sources (fingerprint), the SDK serves everything, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

LISTING_PATH = Path(__file__).with_name("mcp_listing.json")
MODES = {"read-only": True, "read-write": False}
SERVER_VERSION_PLACEHOLDER = "<installed kubeduty version>"
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
PARSE_ERROR_LINE = '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}\n'
# The 2026 protocol's per-request envelope (`params._meta`) and the server-info stamp on its results (mcp_types).
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
_ENVELOPE = {PROTOCOL_VERSION_KEY, CLIENT_INFO_KEY, CLIENT_CAPABILITIES_KEY}
_PLAIN_CAPABILITIES = {"roots", "sampling", "elicitation"}  # no extensions: those change how results are shaped

HERE = Path(__file__).resolve().parent
# What the captured answers depend on: the tool specs and their models, the MCP adapter, the capture itself, and
# the versions of the libraries that build and serialise them.
_SOURCES = ("catalogue.py", "spec.py", "k8s/models.py", "mcp_server.py", "mcp_listing.py")
_DISTS = ("mcp", "mcp_types", "pydantic", "pydantic_core")
_POLL_SECONDS = 0.05  # how soon the front notices that the SDK is ready


def dist_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions from the `*.dist-info` directory names on sys.path, first match wins (as imports do).
    `importlib.metadata` would give the same for ~60 ms of imports; this costs a directory listing."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names_here = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names_here:
            if not name.endswith(".dist-info"):
                continue
            dist, _, version = name[: -len(".dist-info")].rpartition("-")
            if dist in names and dist not in found:
                found[dist] = version
    return found


def fingerprint() -> str:
    digest = hashlib.sha256()
    for rel in _SOURCES:
        digest.update(rel.encode() + b"\0" + (HERE / rel).read_bytes() + b"\0")
    for dist, version in sorted(dist_versions(_DISTS).items()):
        digest.update(f"{dist}={version}\0".encode())
    return digest.hexdigest()


@dataclass
class Listing:
    """The captured answers for one mode (read-only or read-write)."""

    versions: tuple[str, ...]
    latest: str
    initialize: dict[str, Any]  # protocol version -> result
    tools: dict[str, Any]
    discover: dict[str, Any]  # 2026 era: protocol version -> server/discover result
    modern_tools: dict[str, Any]
    server_version: str

    def negotiate(self, requested: str) -> str:
        return requested if requested in self.versions else self.latest  # as the SDK's handshake does

    def _dump(self, result: Any) -> str:
        return json.dumps(result, ensure_ascii=False, separators=(",", ":"))

    def _stamped(self, result: dict[str, Any]) -> str:
        meta = result["_meta"]
        return self._dump(
            {**result, "_meta": {**meta, SERVER_INFO_KEY: {**meta[SERVER_INFO_KEY], "version": self.server_version}}}
        )

    def initialize_result(self, version: str) -> str:
        result = dict(self.initialize[version])
        result["serverInfo"] = {**result["serverInfo"], "version": self.server_version}
        return self._dump(result)

    def tools_result(self, version: str) -> str:
        return self._dump(self.tools[version])

    def discover_result(self, version: str) -> str:
        return self._stamped(self.discover[version])

    def modern_tools_result(self, version: str) -> str:
        return self._stamped(self.modern_tools[version])


def load_listing(read_only: bool) -> Listing | None:
    """The listing for this install, or None when the file is missing or does not match the sources."""
    try:
        doc = json.loads(LISTING_PATH.read_text(encoding="utf-8"))
        if doc.get("fingerprint") != fingerprint():
            return None
        mode = doc["modes"]["read-only" if read_only else "read-write"]
        payloads = doc["payloads"]
        return Listing(
            versions=tuple(doc["handshake_versions"]),
            latest=doc["latest_handshake_version"],
            initialize={v: payloads[i] for v, i in mode["initialize"].items()},
            tools={v: payloads[i] for v, i in mode["tools/list"].items()},
            discover={v: payloads[i] for v, i in mode["server/discover"].items()},
            modern_tools={v: payloads[i] for v, i in mode["modern"].items()},
            server_version=dist_versions(("kubeduty",)).get("kubeduty", "0"),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass
class Handover:
    """What the SDK's transport must see first: the lines the front answered (their requests' ids, whose SDK
    answers are dropped), then the bytes read from stdin but not yet handled, then stdin itself."""

    replay: list[str] = field(default_factory=list)
    answered: list[int | str] = field(default_factory=list)
    rest: bytes = b""


def _is_id(value: object) -> TypeGuard[int | str]:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _only_progress_meta(params: object) -> bool:
    """`params` of a plain legacy request: absent, empty, or only a progress token in `_meta`."""
    if params is None:
        return True
    if not isinstance(params, Mapping) or set(params) - {"_meta"}:
        return False
    meta = params.get("_meta", {})
    return isinstance(meta, Mapping) and not set(meta) - {"progressToken"}


def _modern_version(params: object, versions: Mapping[str, Any]) -> str | None:
    """The version of a plain 2026-era request (`params` only a full envelope, a known version, a client with
    plain capabilities); None for anything else, the SDK's to judge."""
    if not isinstance(params, Mapping) or set(params) != {"_meta"}:
        return None
    meta = params["_meta"]
    if not isinstance(meta, Mapping) or not _ENVELOPE <= set(meta) or set(meta) - _ENVELOPE - {"progressToken"}:
        return None
    info, caps = meta[CLIENT_INFO_KEY], meta[CLIENT_CAPABILITIES_KEY]
    if (
        not isinstance(info, Mapping)
        or not isinstance(info.get("name"), str)
        or not isinstance(info.get("version"), str)
    ):
        return None
    if (
        not isinstance(caps, Mapping)
        or set(caps) - _PLAIN_CAPABILITIES
        or not all(isinstance(v, Mapping) for v in caps.values())
    ):
        return None
    version = meta[PROTOCOL_VERSION_KEY]
    return version if isinstance(version, str) and version in versions else None


def _initialize_version(params: object) -> str | None:
    """The protocol version asked for by a well-formed `initialize` (None: let the SDK judge it)."""
    if not isinstance(params, Mapping) or set(params) - {"protocolVersion", "capabilities", "clientInfo", "_meta"}:
        return None
    info = params.get("clientInfo")
    if not isinstance(params.get("capabilities"), Mapping) or not isinstance(info, Mapping):
        return None
    if not isinstance(info.get("name"), str) or not isinstance(info.get("version"), str):
        return None
    version = params.get("protocolVersion")
    return version if isinstance(version, str) else None


class Front:
    def __init__(self, listing: Listing, *, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
        self.listing = listing
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.version: str | None = None  # negotiated once `initialize` is answered
        self.era: str | None = None  # "handshake" or "modern": the client's first request decides, as in the SDK
        self.handover = Handover()

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self.stdout_fd, data) :]

    def _answer(self, request_id: int | str, result_json: str) -> None:
        self._write(f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"result":{result_json}}}\n')
        self.handover.answered.append(request_id)

    def handle(self, raw: bytes) -> bool:
        """Answer one line if it is one of ours; False when the SDK must take it (and everything after it)."""
        raw = raw.removesuffix(b"\r")
        if b"\r" in raw:  # the SDK reads with universal newlines: a bare CR splits lines, let it decide
            return False
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        try:
            doc = json.loads(text)
        except ValueError:
            self._write(PARSE_ERROR_LINE)  # not replayed: the client has its answer
            return True
        if not isinstance(doc, dict) or doc.get("jsonrpc") != "2.0" or set(doc) - {"jsonrpc", "id", "method", "params"}:
            return False
        method, params, request_id = doc.get("method"), doc.get("params"), doc.get("id")
        modern = (
            _modern_version(params, self.listing.discover)
            if method in ("server/discover", "tools/list") and self.era != "handshake"
            else None
        )
        if method == "initialize" and self.era is None and _is_id(request_id):
            requested = _initialize_version(params)
            if requested is None:
                return False
            self.era, self.version = "handshake", self.listing.negotiate(requested)
            self._answer(request_id, self.listing.initialize_result(self.version))
        elif method == "notifications/initialized" and "id" not in doc and self.era == "handshake":
            if params not in (None, {}):
                return False
        elif method == "tools/list" and self.version is not None and _is_id(request_id):
            if not _only_progress_meta(params):
                return False
            self._answer(request_id, self.listing.tools_result(self.version))
        elif modern is not None and _is_id(request_id):
            self.era = "modern"
            answer = self.listing.discover_result if method == "server/discover" else self.listing.modern_tools_result
            self._answer(request_id, answer(modern))
        else:
            return False
        self.handover.replay.append(text)
        return True

    def run(self, sdk_ready: threading.Event) -> Handover | None:
        """Serve until a line needs the SDK or the SDK is ready (Handover), or stdin ends first (None)."""
        buf = b""
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not self.handle(line):
                    self.handover.rest = line + b"\n" + buf
                    return self.handover
            if sdk_ready.is_set():
                self.handover.rest = buf
                return self.handover
            try:
                readable, _, _ = select.select([self.stdin_fd], [], [], _POLL_SECONDS)
                if not readable:
                    continue
                chunk = os.read(self.stdin_fd, 65536)
            except OSError:  # stdin is not something to poll (closed, odd): the SDK's transport decides
                self.handover.rest = buf
                return self.handover
            if not chunk:
                if buf:  # a last line without a newline: the SDK reads it as a line
                    self.handover.rest = buf
                    return self.handover
                return None
            buf += chunk


class _Loader(threading.Thread):
    """Imports the SDK and builds the server (and then loads the Kubernetes client) off the front's way."""

    def __init__(self, read_only: bool) -> None:
        super().__init__(name="kubeduty-mcp-loader", daemon=True)
        self.read_only = read_only
        self.ready = threading.Event()
        self.prepared: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            from tools.mcp_server import prepare

            self.prepared = prepare(read_only=self.read_only, warm=None)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread after the handover
            self.error = exc
        finally:
            self.ready.set()
        if self.error is None:
            from tools.k8s.client import warm_up

            warm_up()  # what the first tools/call needs, while the client is still reading the list


def serve_stdio(*, read_only: bool) -> int:
    """`kubeduty mcp serve` (stdio): the front, then the SDK for the rest of the session."""
    listing = load_listing(read_only)
    if listing is None:  # no (matching) listing: the SDK serves everything, as before the front existed
        from tools.mcp_server import serve

        return serve(transport="stdio", host="127.0.0.1", port=0, read_only=read_only)
    loader = _Loader(read_only)
    loader.start()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # the front gets the GIL back from the importing thread sooner
    try:
        handover = Front(listing).run(loader.ready)
    finally:
        sys.setswitchinterval(interval)
    if handover is None:
        # stdin closed before anything needed the SDK: nothing is buffered (answers went out with os.write);
        # leave without waiting for the loader thread to finish importing.
        sys.stderr.flush()
        os._exit(0)
    loader.ready.wait()
    if loader.error is not None:
        raise loader.error
    from tools.mcp_server import serve_prepared

    return serve_prepared(loader.prepared, transport="stdio", host="127.0.0.1", port=0, handover=handover)
