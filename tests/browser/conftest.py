"""Browser tests of the console: a real broker, the console as a real process, and Debian's
chromium driven by Playwright (``executable_path``; no browser is ever downloaded).

Screenshots of every page go to ``test-artifacts/console/`` at the repository root
(git-ignored) as artifacts of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess, free_port

CHROMIUM = os.environ.get("RIVERHEAD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@dataclass
class Console:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_console(bootstrap: str, log: Path, *extra: str) -> Console:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERHEAD_")}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "riverhead",
                "-X",
                bootstrap,
                "console",
                "--port",
                str(port),
                "--sample-interval",
                "0.5",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"console exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/throughput", timeout=2):
                return Console(url, proc, log)
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"console not serving: {log.read_text()}") from None
            time.sleep(0.2)


def stop_console(console: Console) -> None:
    if console.proc.poll() is None:
        console.proc.terminate()
        try:
            console.proc.wait(10)
        except subprocess.TimeoutExpired:
            console.proc.kill()
            console.proc.wait()


@pytest.fixture(scope="module")
def shop_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker of this module's own (so pages show only these tests' data)."""
    proc = BrokerProcess(tmp_path_factory.mktemp("console-broker")).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def console(
    shop_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    c = start_console(shop_broker.bootstrap, tmp_path_factory.mktemp("console") / "console.log")
    try:
        yield c
    finally:
        stop_console(c)


@pytest.fixture(scope="module")
def read_only_console(
    shop_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    log = tmp_path_factory.mktemp("console-ro") / "console.log"
    c = start_console(shop_broker.bootstrap, log, "--read-only")
    try:
        yield c
    finally:
        stop_console(c)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],  # small /dev/shm in containers
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page; its final state is saved as ``<test name>.png`` in the artifacts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    try:
        yield pg
    finally:
        name = request.node.name.replace("/", "-")
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()


def shot(page: object, name: str) -> None:
    """Save a screenshot of the page as it is now (an extra artifact)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
