"""A real gunicorn (several sync workers, one thread each) serving Sillon on 127.0.0.1, on the
test session's database, and an HTTP client that keeps its cookies like a browser.

The server is started from the project's venv (``wsgi:app``) with the environment a production
host would set: DATABASE_URL (the SQLite file or the PostgreSQL server of the session),
SILLON_INSTANCE_PATH, SECRET_KEY, MAIL_SERVER / MAIL_PORT (a real aiosmtpd server,
tests/support/smtp.py), PUBLIC_BASE_URL. ``start()`` returns once every worker has loaded the
app (a ``post_worker_init`` hook writes one file per worker) and /healthz answers; with
``task_worker=True`` the background consumer (``flask worker``) runs beside it on the same
instance folder, so the outbox is really sent. ``stop()`` ends them (SIGINT, then SIGKILL) —
only the processes started here. Their output (gunicorn's log, the app's tracebacks) is kept
in ``log_path`` and ``worker_log_path``.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import (HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener,
                            urlopen)

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")

_HOOKS = '''
import os

def post_fork(server, worker):
    # With --preload the app was imported by the master: each worker must open its own
    # database connections (none is open at import — the task queue's SQLite storage opens
    # its own lazily too —; this makes sure of it for the app's engine).
    import wsgi
    from portal.extensions import db
    with wsgi.app.app_context():
        db.engine.dispose(close=False)

def post_worker_init(worker):
    # One file per worker ready to serve: the test set-up waits for all of them.
    open(os.path.join({ready!r}, str(worker.pid)), "w").close()

def worker_exit(server, worker):
    # The worker has served its last request and closed its files: skip the interpreter's
    # tear-down of the whole app (seconds on a busy machine, past gunicorn's grace period).
    os._exit(0)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    def __init__(self, database_url: str, *, workers: int = 4, env: dict | None = None,
                 preload: bool = True, task_worker: bool = False):
        if workers < 2:
            raise ValueError("at least two workers: the point is several processes")
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base = tempfile.mkdtemp(prefix="sillon-gunicorn-")
        self.instance_path = os.path.join(self.base, "instance")
        self.ready_dir = os.path.join(self.base, "ready")
        self.log_path = os.path.join(self.base, "server.log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.secret_key = secrets.token_hex(32)  # one for the server and its task worker
        # The app is imported once by the master, then forked: four workers are up in the time
        # of one import (each still has its own process and database connections).
        self.preload = preload
        # `flask worker` (the background consumer that sends the outbox) beside the server,
        # on the same instance folder and task queue: e-mails really reach MAIL_SERVER.
        self.task_worker = task_worker
        self.worker_log_path = os.path.join(self.base, "worker.log")
        self.process: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MAIL_", "SQLALCHEMY_", "DATABASE_"))}
        env.update({
            "DATABASE_URL": self.database_url,
            "SILLON_INSTANCE_PATH": self.instance_path,
            "SECRET_KEY": self.secret_key,
            "PUBLIC_BASE_URL": self.url,
            "PYTHONUNBUFFERED": "1",
        })
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def start(self, timeout: float = 60.0) -> "GunicornServer":
        os.makedirs(self.instance_path)
        os.makedirs(self.ready_dir)
        config = os.path.join(self.base, "hooks.py")
        Path(config).write_text(_HOOKS.format(ready=self.ready_dir))
        cmd = [str(GUNICORN), "--config", config, "--workers", str(self.workers),
               "--threads", "1", "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}",
               "--chdir", str(ROOT), "--timeout", "60", "--graceful-timeout", "10",
               "--backlog", "64", "--no-control-socket",
               *(["--preload"] if self.preload else []), "wsgi:app"]
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(cmd, env=self.environment(), stdout=log,
                                        stderr=subprocess.STDOUT, cwd=str(ROOT))
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn s'est arrêté au démarrage :\n{self.log()}")
            if len(os.listdir(self.ready_dir)) >= self.workers and self._healthy():
                if self.task_worker:
                    self._start_task_worker()
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn n'a pas démarré en {timeout:.0f} s :\n{self.log()}")

    def _start_task_worker(self) -> None:
        log = open(self.worker_log_path, "wb")
        self.worker = subprocess.Popen(
            [str(GUNICORN.with_name("flask")), "worker", "--workers", "2", "--no-periodic"],
            env=dict(self.environment(), FLASK_APP="wsgi.py"), stdout=log,
            stderr=subprocess.STDOUT, cwd=str(ROOT))
        log.close()

    def _healthy(self) -> bool:
        try:
            with urlopen(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except (URLError, OSError):
            return False

    def stop(self) -> None:
        """Quick shutdown (SIGINT: the master stops its workers at once; the tests have no
        request in flight by then), SIGKILL if it does not end."""
        for name in ("worker", "process"):
            process = getattr(self, name)
            setattr(self, name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def worker_log(self) -> str:
        try:
            return Path(self.worker_log_path).read_text(errors="replace")
        except OSError:
            return ""

    def tracebacks(self) -> list[str]:
        """The exceptions the app and the task worker logged (a 500 logs its traceback)."""
        return re.findall(r"^Traceback \(most recent call last\):$",
                          self.log() + "\n" + self.worker_log(), re.M)


# --- a browser-like HTTP client ---------------------------------------------------------------

class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"'
                    r'|value="([^"]+)"[^>]*name="csrf_token"')


class Client:
    """Keeps cookies, does not follow redirects (a test looks at each answer)."""

    def __init__(self, base: str, timeout: float = 60.0):
        self.base = base
        self.timeout = timeout
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()), _NoRedirect())

    def request(self, path: str, data: dict | list | None = None) -> Response:
        body = urlencode(data, doseq=True).encode() if data is not None else None
        request = Request(self.base + path, data=body)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return Response(response.status, response.read(), response.headers)
        except HTTPError as error:
            return Response(error.code, error.read(), error.headers)

    def get(self, path: str) -> Response:
        return self.request(path)

    def post(self, path: str, data: dict | list) -> Response:
        return self.request(path, data)

    def csrf(self, path: str = "/admin/") -> str:
        return csrf_from(self.get(path).text)

    def login(self, email: str, password: str = "sillon-demo") -> "Client":
        response = self.post("/login", {"email": email, "password": password,
                                        "csrf_token": self.csrf("/login")})
        assert response.status == 302, f"login failed for {email}: {response.status}"
        return self


def csrf_from(page: str) -> str:
    match = _TOKEN.search(page)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def form_fields(page: str, marker: str) -> dict[str, str]:
    """The hidden inputs of the form posting to ``marker`` (its action), or whose opening tag
    holds ``marker`` (e.g. 'id="tab-form"'): what a browser sends besides the visible fields."""
    start = page.find(f'action="{marker}"')
    if start == -1:
        start = page.find(marker)
    assert start != -1, f"no form {marker} in the page"
    end = page.find("</form>", start)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page[start:end]):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields
