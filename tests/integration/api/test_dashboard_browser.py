"""The dashboard in headless Chromium: log in with a token from ``tokens create``, see a completed sync.

A real Meta sync (the syncer's SDK adapter against the Meta sandbox) fills a SQLite database;
``audiencesync serve api`` serves it on a free port; Selenium drives Debian's chromium through
/usr/bin/chromedriver (``make browser`` installs both). Screenshots go to the test's tmp_path and
to var/test-artifacts/ (dashboard.png, dashboard-phone.png, dashboard-report.png) to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.sandbox_meta.server import run_meta_sandbox
from services.syncer_meta.bootstrap import build_service
from services.syncer_meta.config import MetaSettings
from shared.bus.broker import free_port
from shared.config import Settings
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.sync.engine import SyncOptions
from tests.integration.syncer_meta.conftest import definitions, sandbox_config, settings_env
from tests.integration.syncer_meta.seed import Person, seed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WAIT = 10.0


def _cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def synced(tmp_path: Path) -> dict[str, str]:
    """A database holding two completed Meta syncs of ``icp_seed``; returns the services' environment."""
    url = f"sqlite:///{tmp_path / 'audiencesync.db'}"
    upgrade(url)
    store = Store(url)
    seed(store, [Person(i) for i in range(24)] + [Person(i, label="negative_icp") for i in range(24, 30)])
    with run_meta_sandbox(sandbox_config()) as sandbox:
        environ = settings_env(sandbox.url, url)
        syncer = build_service(
            Settings.from_env(environ), store, meta=MetaSettings.from_env(environ), definitions=definitions()
        )
        try:
            reports = [syncer.sync(SyncOptions(), audience_key="icp_seed")]
            seed(store, [Person(i) for i in range(30, 36)])  # new ICP customers: a second run adds them
            reports.append(syncer.sync(SyncOptions(), audience_key="icp_seed"))
        finally:
            syncer.close()
    assert [r.status for (r,) in reports] == ["succeeded", "succeeded"]
    store.dispose()
    return {**os.environ, "DATABASE_URL": url, "AUDIENCESYNC_VAR_DIR": str(tmp_path / "var")}


@pytest.fixture
def server(synced: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``audiencesync serve api`` on a free loopback port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in synced.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "API_HOST")}
    log = tmp_path / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the api did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Debian chromium driven through its chromedriver (never a downloaded browser)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but chromium/chromedriver are missing: `make browser` installs them")
        pytest.skip("chromium and chromium-driver are not installed (`make browser`)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: object, tmp_path: Path, name: str) -> Path:
    """A full-height screenshot in tmp_path, copied to var/test-artifacts/."""
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    width = driver.get_window_size()["width"]  # type: ignore[attr-defined]
    driver.set_window_size(width, max(height + 120, 600))  # type: ignore[attr-defined]
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot


def test_login_shows_the_completed_sync_and_saves_screenshots(
    synced: dict[str, str], server: str, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    token = _cli(synced, "tokens", "create", "dashboard-viewer", "--scope", "read").strip().splitlines()[-1]
    wait = WebDriverWait(driver, WAIT)  # type: ignore[arg-type]

    driver.get(f"{server}/")  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.ID, "token")))
    assert "/dashboard/login" in driver.current_url  # type: ignore[attr-defined]
    driver.find_element(By.ID, "token").send_keys("as_wrong")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.error")))

    driver.find_element(By.ID, "token").send_keys(token)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "span.status.s-succeeded")))
    page = driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    assert "icp_seed" in page and "meta" in page and "succeeded" in page
    assert "dashboard-viewer" in driver.find_element(By.CSS_SELECTOR, ".who").text  # type: ignore[attr-defined]
    cookie = driver.get_cookie("audiencesync_session")  # type: ignore[attr-defined]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert driver.find_elements(By.CSS_SELECTOR, "svg.spark polyline")  # type: ignore[attr-defined]
    _screenshot(driver, tmp_path, "dashboard.png")

    driver.set_window_size(390, 844)  # type: ignore[attr-defined]
    width = driver.execute_script("return document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width <= 390, "the page scrolls sideways on a phone (tables should scroll inside their card)"
    _screenshot(driver, tmp_path, "dashboard-phone.png")

    driver.set_window_size(1280, 900)  # type: ignore[attr-defined]
    driver.find_element(By.LINK_TEXT, "ICP report").click()  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".icp-report h1")))
    report = driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]
    assert "Money per label" in report and "icp_seed" in report
    _screenshot(driver, tmp_path, "dashboard-report.png")

    driver.find_element(By.CSS_SELECTOR, ".logout button").click()  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.ID, "token")))
    driver.get(f"{server}/")  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.ID, "token")))
