"""The playground's static files: the right file and type, the security headers on every answer,
and every path-traversal form refused with a 404."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from extproc.playground.files import CONTENT_SECURITY_POLICY, StaticFiles

SHIPPED = ("index.html", "playground.css", "playground.js", "chat.js", "decisions.js", "gateway.js", "recent.js")


@pytest.fixture(scope="module")
def shipped() -> StaticFiles:
    return StaticFiles("/playground/")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    (folder / "css").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>t</title>")
    (folder / "css" / "site.css").write_text("body{}")
    (folder / "notes.md").write_text("not served")
    (folder / ".hidden.js").write_text("secret()")
    return folder


def test_the_package_ships_the_page_its_style_and_its_script(shipped: StaticFiles) -> None:
    assert set(SHIPPED) <= set(shipped.names())


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/playground/", "text/html; charset=utf-8"),
        ("/playground/index.html", "text/html; charset=utf-8"),
        ("/playground/playground.css", "text/css; charset=utf-8"),
        ("/playground/playground.js?v=1", "text/javascript; charset=utf-8"),
    ],
)
def test_files_come_with_their_type_and_the_security_headers(shipped: StaticFiles, path: str, content_type: str) -> None:
    answer = shipped.answer("GET", path)
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["content-length"] == str(len(answer.body))
    assert answer.body


def test_the_policy_allows_no_inline_script_or_style_and_no_other_origin() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["frame-ancestors"] == "'none'"


def test_the_page_itself_has_no_inline_script_or_style(shipped: StaticFiles) -> None:
    page = shipped.answer("GET", "/playground/").body.decode()
    assert "<style" not in page and " style=" not in page
    assert "<script>" not in page and " on" + "click=" not in page
    scripts = [name for name in shipped.names() if name.endswith(".js")]
    for name in scripts:
        script = shipped.answer("GET", "/playground/" + name).body.decode()
        for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "console."):
            assert sink not in script, f"{name} uses {sink}"


@pytest.mark.parametrize(
    "path",
    [
        "/playground/../pyproject.toml",
        "/playground/../../etc/passwd",
        "/playground/%2e%2e/files.py",
        "/playground/%2E%2E%2Ffiles.py",
        "/playground/%252e%252e/files.py",
        "/playground/..%2ffiles.py",
        "/playground/..\\files.py",
        "/playground/%5c..%5cfiles.py",
        "/playground//etc/passwd",
        "/playground/%2fetc%2fpasswd",
        "/playground/index.html%00.css",
        "/playground/index.html\x00",
        "/playground/./index.html",
        "/playground/C:/Windows/win.ini",
        "/playground/%ff%fe",
        "/playground/files.py",
        "/playground/__init__.py",
        "/index.html",
    ],
)
def test_traversal_and_anything_not_shipped_is_a_404(shipped: StaticFiles, path: str) -> None:
    answer = shipped.answer("GET", path)
    assert answer.status == 404
    assert answer.body == b"Not found.\n"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_symlink_out_of_the_folder_is_not_served(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("upstream key")
    os.symlink(secret, folder / "leak.txt")
    os.symlink(tmp_path, folder / "up")
    files = StaticFiles("/", folder)
    assert files.answer("GET", "/leak.txt").status == 404
    assert files.answer("GET", "/up/secret.txt").status == 404
    assert "leak.txt" not in files.names()


def test_only_known_types_are_served_and_no_dot_files(tmp_path: Path) -> None:
    files = StaticFiles("/", _folder(tmp_path))
    assert files.names() == ["css/site.css", "index.html"]
    assert files.answer("GET", "/css/site.css").status == 200
    assert files.answer("GET", "/notes.md").status == 404
    assert files.answer("GET", "/.hidden.js").status == 404


def test_files_are_read_once_at_start(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    files = StaticFiles("/", folder)
    (folder / "index.html").write_text("changed on disk")
    (folder / "late.js").write_text("late()")
    assert files.answer("GET", "/").body == b"<!doctype html><title>t</title>"
    assert files.answer("GET", "/late.js").status == 404


def test_root_prefix_serves_the_index_at_slash(tmp_path: Path) -> None:
    files = StaticFiles("/", _folder(tmp_path))
    assert files.handles("/") and files.handles("/css/site.css")
    assert files.answer("GET", "/").headers["content-type"].startswith("text/html")


def test_prefix_without_its_slash_redirects(shipped: StaticFiles) -> None:
    answer = shipped.answer("GET", "/playground")
    assert answer.status == 308 and answer.headers["location"] == "/playground/"
    assert shipped.handles("/playground") and shipped.handles("/playground/x")
    assert not shipped.handles("/playgroundx") and not shipped.handles("/v1/models")


def test_head_has_the_length_and_no_body(shipped: StaticFiles) -> None:
    whole = shipped.answer("GET", "/playground/playground.js")
    head = shipped.answer("HEAD", "/playground/playground.js")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(whole.body))


def test_other_methods_are_refused(shipped: StaticFiles) -> None:
    answer = shipped.answer("POST", "/playground/")
    assert answer.status == 405 and answer.headers["allow"] == "GET, HEAD"


def test_a_matching_etag_gets_304(shipped: StaticFiles) -> None:
    etag = shipped.answer("GET", "/playground/").headers["etag"]
    assert shipped.answer("GET", "/playground/", {"if-none-match": etag}).status == 304
    assert shipped.answer("GET", "/playground/", {"if-none-match": '"other"'}).status == 200


def test_a_prefix_must_be_a_folder() -> None:
    with pytest.raises(ValueError, match="start and end with '/'"):
        StaticFiles("/playground")
