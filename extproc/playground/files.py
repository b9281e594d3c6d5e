"""The playground's static files: read once at start-up, answered as (status, headers, body).

A pure module: the caller (the endpoint layer) passes the method, the request
path as the client sent it and the request headers, and sends back what
`StaticFiles.answer` returns. Requests never touch the file system: every
file is read when `StaticFiles` is built and looked up by its exact name, so a
path that names anything else (`..`, `%2e%2e`, a backslash, an absolute path,
a NUL, a symlink pointing out of the folder) is a 404. Those forms are refused
by name before the lookup too, so the refusal does not rest on the lookup alone.

Every answer, errors included, carries the Content-Security-Policy below (no
inline script or style, nothing from another origin), `nosniff` and
`Referrer-Policy: no-referrer`. Files are revalidated on each load
(`no-cache` with a strong ETag): they are small, and a new release must not be
masked by an old copy in a browser's cache.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import unquote_to_bytes

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
# The only files served: anything else in the folder (a stray editor backup, a README) is not.
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
INDEX = "index.html"
# The folder's largest plausible size; a bigger folder is a packaging mistake, not a playground.
MAX_FOLDER_BYTES = 4 * 1024 * 1024
_ALLOWED_METHODS = "GET, HEAD"


@dataclass(frozen=True, slots=True)
class StaticResponse:
    """What to answer: a status, headers (lower-case names) and a body."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _File:
    content_type: str
    body: bytes
    etag: str


class StaticFiles:
    """The files of one folder, served under `prefix` (`/playground/` or `/`)."""

    def __init__(self, prefix: str = "/playground/", folder: Traversable | None = None) -> None:
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError(f"the playground's prefix must start and end with '/'; got {prefix!r}")
        self.prefix = prefix
        root = folder if folder is not None else importlib.resources.files("extproc.playground") / "static"
        self._files = dict(_read_folder(root))
        if INDEX not in self._files:
            raise ValueError(f"the playground's folder has no {INDEX}")

    def names(self) -> list[str]:
        """The files served, by their path under the prefix."""
        return sorted(self._files)

    def handles(self, path: str) -> bool:
        """True when `path` (query string allowed) is the playground's to answer."""
        path = path.split("?", 1)[0]
        return path.startswith(self.prefix) or path == self.prefix.rstrip("/")

    def answer(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> StaticResponse:
        """The answer to `method path`; `headers` are the request's (lower-case names)."""
        bare = path.split("?", 1)[0].split("#", 1)[0]
        if bare == self.prefix.rstrip("/") and bare:
            # `/playground` without its slash: the page's relative links need the slash.
            return _reply(308, b"", {"location": self.prefix})
        if method not in ("GET", "HEAD"):
            return _reply(405, b"Method not allowed.\n", {"allow": _ALLOWED_METHODS})
        name = _file_name(bare, self.prefix)
        found = self._files.get(name) if name is not None else None
        if found is None:
            return _reply(404, b"Not found.\n")
        file_headers = {"content-type": found.content_type, "etag": found.etag, "cache-control": "no-cache"}
        if _matches(headers, found.etag):
            return _reply(304, b"", {"etag": found.etag, "cache-control": "no-cache"})
        return _reply(200, b"" if method == "HEAD" else found.body, file_headers, length=len(found.body))


def _file_name(path: str, prefix: str) -> str | None:
    """The served file's name for a request path, or None for anything that is not a plain name under the prefix."""
    if not path.startswith(prefix):
        return None
    raw = path[len(prefix):]
    try:
        name = unquote_to_bytes(raw).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if name == "":
        return INDEX
    if "\\" in name or "\x00" in name or "%" in name or ":" in name or name.startswith("/"):
        return None
    if any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return name


def _matches(headers: Mapping[str, str] | None, etag: str) -> bool:
    if not headers:
        return False
    wanted = headers.get("if-none-match", "")
    return any(tag.strip() in (etag, "*") for tag in wanted.split(",")) if wanted else False


def _reply(status: int, body: bytes, extra: Mapping[str, str] | None = None, length: int | None = None) -> StaticResponse:
    headers = dict(SECURITY_HEADERS)
    if status >= 400:
        headers["content-type"] = "text/plain; charset=utf-8"
        headers["cache-control"] = "no-store"
    headers.update(extra or {})
    headers["content-length"] = str(len(body) if length is None else length)
    return StaticResponse(status, headers, body)


def _read_folder(root: Traversable) -> Iterator[tuple[str, _File]]:
    """Every servable file under `root`, by its path relative to it; symlinks that leave the folder are skipped."""
    real_root = Path(str(root)).resolve() if isinstance(root, Path) else None
    total = 0
    pending: list[tuple[str, Traversable]] = [("", root)]
    while pending:
        base, folder = pending.pop()
        for entry in folder.iterdir():
            name = base + entry.name
            if real_root is not None and isinstance(entry, Path) and not entry.resolve().is_relative_to(real_root):
                continue
            if entry.is_dir():
                pending.append((name + "/", entry))
                continue
            content_type = CONTENT_TYPES.get(Path(entry.name).suffix.lower())
            if content_type is None or not entry.is_file() or entry.name.startswith("."):
                continue
            body = entry.read_bytes()
            total += len(body)
            if total > MAX_FOLDER_BYTES:
                raise ValueError(f"the playground's folder is over {MAX_FOLDER_BYTES} bytes")
            yield name, _File(content_type, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
