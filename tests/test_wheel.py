"""The wheel runs: `python -m build`, `pip install` the wheel into a fresh venv in an empty folder,
and `forkflow serve --demo` there serves every screen with its templates and static files.

Marked `wheel` (about half a minute to a minute: a build, a venv, an install of the dependencies);
`pytest -m "not wheel"` leaves it out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import TEST_HASH_COST, csrf_from, free_port

pytestmark = [pytest.mark.wheel, pytest.mark.long]

REPO = Path(__file__).resolve().parent.parent
# Each demo account lands on its own screen when it signs in (routes/login.py): its path, its title.
SCREENS = {
    "kitchen": ("/kitchen/display", "Kitchen · ForkFlow</title>"),
    "cashier": ("/pos", "<title>Till · ForkFlow</title>"),
    "manager": ("/manage", "<title>Manager's console · ForkFlow</title>"),
}


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    folder: Path  # the empty folder the venv was made in, where the server runs


def _run(*command: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would lead back to the repository or its
    .venv, or point the server at another database."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not name.startswith("FORKFLOW_")
    }
    env["FORKFLOW_PASSWORD_HASH_COST"] = TEST_HASH_COST  # the demo hashes three passwords, sign-in three more
    return env


def _files(folder: Path) -> list[str]:
    """The files under a top-level folder of the repository, relative to the repository."""
    return sorted(
        path.relative_to(REPO).as_posix()
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    # sdist first, then the wheel built from the unpacked sdist: both archives are what users get.
    _run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=dist)
    (wheel,) = dist.glob("forkflow-*.whl")
    (sdist,) = dist.glob("forkflow-*.tar.gz")
    folder = tmp_path_factory.mktemp("empty")
    assert not any(folder.iterdir())
    venv = folder / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=folder)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, cwd=folder)
    return Installed(wheel=wheel, sdist=sdist, venv=venv, folder=folder)


def test_the_wheel_carries_templates_static_files_migrations_and_the_password_list(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = _files(Path("templates")) + _files(Path("static"))
    assert len(shipped) > 40
    assert {f"forkflow/{name}" for name in shipped} <= names, "templates/ and static/ land inside the package"
    assert not {name for name in names if name.startswith(("templates/", "static/"))}, "and nowhere else"
    migrations = [
        f"forkflow/migrations/versions/{path.name}" for path in (REPO / "forkflow/migrations/versions").glob("*.py")
    ]
    assert migrations
    assert {"forkflow/migrations/env.py", "forkflow/migrations/script.py.mako", *migrations} <= names
    assert "forkflow/auth/common-passwords.txt" in names


def test_the_sdist_carries_templates_and_static_files_at_its_top_level(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        names = {name.removeprefix(f"{top}/") for name in sdist.getnames()}
    assert set(_files(Path("templates")) + _files(Path("static"))) <= names
    assert {"pyproject.toml", "README.md", "forkflow/auth/common-passwords.txt"} <= names


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[tuple[str, str]]:
    """`forkflow serve --demo` from the venv, in the empty folder (its database lands there);
    yields the server's URL and what it printed."""
    port = free_port()
    log = installed.folder / "serve.log"
    command = [str(installed.venv / "bin" / "forkflow"), "serve", "--demo", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=installed.folder, env=_clean_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield url, log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()


def test_the_installed_package_reads_its_own_templates_and_static_files(installed: Installed) -> None:
    where = _run(
        installed.venv / "bin" / "python",
        "-c",
        "import forkflow, forkflow.web as w; print(forkflow.__file__, w.TEMPLATES_DIR, w.STATIC_DIR, sep='\\n')",
        cwd=installed.folder,
    ).splitlines()
    package = Path(where[0]).parent
    assert package.is_relative_to(installed.venv), "ForkFlow is imported from the venv, not the repository"
    assert [Path(where[1]), Path(where[2])] == [package / "templates", package / "static"]


def _assets_of(page: str) -> set[str]:
    return set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', page))


def _check_assets(web: httpx.Client, page: str, url: str) -> None:
    assets = _assets_of(page)
    assert assets, f"{url} links static files"
    for asset in assets:
        response = web.get(asset)
        assert response.status_code == 200, f"{asset} (linked from {url})"
        assert response.content == (REPO / asset.removeprefix("/")).read_bytes()


def test_forkflow_serve_demo_from_the_wheel_serves_every_screen(served: tuple[str, str]) -> None:
    url, printed = served
    passwords = dict(re.findall(r"^  (kitchen|cashier|manager) +(\S+)$", printed, re.MULTILINE))
    assert set(passwords) == set(SCREENS), printed

    with httpx.Client(base_url=url, timeout=10, headers={"accept": "text/html"}) as web:
        health = web.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        shop = web.get("/")
        assert shop.status_code == 200
        assert "<title>Order online · ForkFlow</title>" in shop.text
        assert "Classic Burger" in shop.text, "the shop shows the demo menu"
        _check_assets(web, shop.text, "/")

        docs = web.get("/docs")
        assert docs.status_code == 200
        assert "<title>API · ForkFlow</title>" in docs.text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in _assets_of(docs.text)
        _check_assets(web, docs.text, "/docs")

        htmx = web.get("/static/vendor/htmx/htmx.min.js")
        assert htmx.status_code == 200
        assert htmx.content == (REPO / "static/vendor/htmx/htmx.min.js").read_bytes()

    for role, (screen, title) in SCREENS.items():
        with httpx.Client(base_url=url, timeout=10, headers={"accept": "text/html"}, follow_redirects=True) as web:
            login = web.get("/login")
            assert login.status_code == 200
            assert "<title>Staff sign-in · ForkFlow</title>" in login.text
            _check_assets(web, login.text, "/login")
            form = {"username": role, "password": passwords[role], "csrf_token": csrf_from(login.text), "next": "/"}
            landed = web.post("/login", data=form)
            assert landed.status_code == 200, f"{role}: {landed.text[:500]}"
            assert landed.url.path == screen, f"{role} lands on {screen}"
            assert title in landed.text
            _check_assets(web, landed.text, screen)
