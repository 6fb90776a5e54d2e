"""A Git repository served over smart HTTP on localhost, for source-controller to clone.

source-controller clones with go-git, which speaks Git's smart HTTP protocol only (not
the dumb one a plain file server gives), so the requests are handed to Git's own
``git http-backend`` as CGI, from a WSGI server on a thread of the test process.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

_CGI_VARIABLES = ("REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE", "PATH_INFO")


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Every fetch would print a line to the test's output otherwise."""


class GitServer:
    """Bare repositories under ``root``, at ``http://127.0.0.1:<port>/<name>.git``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._server: WSGIServer = make_server("127.0.0.1", 0, self._app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        env = {name: str(environ.get(name, "")) for name in _CGI_VARIABLES}
        env.update(GIT_PROJECT_ROOT=str(self.root), GIT_HTTP_EXPORT_ALL="1")
        env["CONTENT_LENGTH"] = str(len(body))
        if environ.get("HTTP_GIT_PROTOCOL"):
            env["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = [tuple(line.split(": ", 1)) for line in head.decode().split("\r\n") if line]
        status = next((v for k, v in headers if k.lower() == "status"), "200 OK")
        start(status, [(k, v) for k, v in headers if k.lower() != "status"])
        return [payload]

    @contextmanager
    def serving(self) -> Iterator[GitServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


class Repository:
    """A work tree whose commits are pushed to a bare repository the server serves."""

    def __init__(self, server: GitServer, name: str, work: Path) -> None:
        self.bare = server.root / f"{name}.git"
        self.url = f"{server.url}/{name}.git"
        self.work = work
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=obreg tests", "-c", "user.email=tests@obreg.invalid",
             *args],
            cwd=self.work, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def commit(self, files: dict[str, str], message: str) -> str:
        """Replace the work tree's files with ``files``, commit, push; the new revision."""
        for old in self.work.rglob("*"):
            if old.is_file() and ".git" not in old.relative_to(self.work).parts:
                old.unlink()
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.git("push", "-q", str(self.bare), "main")
        return self.git("rev-parse", "HEAD")
