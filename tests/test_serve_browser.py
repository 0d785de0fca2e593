"""`cantor serve` in a real headless Chromium: the page plays a variant and receives every file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_serve import ROOT, Served, wait_for

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (dev extras)")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--window-size=1400,900",
)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
        "profile.default_content_setting_values.automatic_downloads": 1,
    })
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def press(driver, *keys: str, ctrl: bool = False) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for key in keys:
        chain = ActionChains(driver)
        if ctrl:
            chain.key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL)
        else:
            chain.send_keys(key)
        chain.perform()
        time.sleep(0.3)


def files_seen(driver) -> list[dict]:
    return driver.execute_script("return window.cantorFiles")


def answer_prompt(driver, keys: str, name: str) -> None:
    from selenium.webdriver.common.keys import Keys

    press(driver, keys, ctrl=True)
    time.sleep(1.0)
    press(driver, "u", ctrl=True)  # clear the suggested name
    press(driver, name)
    press(driver, Keys.ENTER)


def downloaded(folder: Path, count: int, seconds: float = 60) -> list[Path]:
    def finished() -> list[Path]:  # Chromium writes into hidden or .crdownload files first
        names = [p.name for p in folder.iterdir()]
        if any(n.startswith(".") or n.endswith(".crdownload") for n in names):
            return []
        return sorted(folder.iterdir())

    assert wait_for(lambda: len(finished()) >= count, seconds), sorted(folder.iterdir())
    return finished()


def test_the_browser_plays_a_variant_and_gets_every_file(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    root = tmp_path / "shared"
    root.mkdir()
    # A short harmonization (the served app reads the test's private settings file).
    from tui.settings_store import user_settings_path

    settings = user_settings_path()
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"steps": 8, "variants": 2, "repair": 0}))
    server = Served(root)
    try:
        browser.get(server.url)
        WebDriverWait(browser, 90).until(
            lambda d: "-first-byte" in d.find_element(By.TAG_NAME, "body").get_attribute("class")
        )
        time.sleep(3)  # the composer's first frames
        browser.find_element(By.ID, "terminal").click()
        press(browser, *"cdegc")  # a melody typed into the soprano
        press(browser, "v", "}", "r")  # harmonize one bar: the model loads, writes variants
        time.sleep(45)  # model load + 8 Gibbs steps, on a loaded machine
        press(browser, " ")  # audition the variant (the variants panel's space)
        WebDriverWait(browser, 120).until(
            lambda d: d.execute_script(
                "const a = document.getElementById('cantor-player');"
                " return a.src && !a.paused && a.currentTime > 0.3;"
            )
        )
        first = browser.execute_script("return document.getElementById('cantor-player').currentTime")
        time.sleep(1.0)
        later = browser.execute_script("return document.getElementById('cantor-player').currentTime")
        assert later > first, "the audio element is not advancing"
        played = [f for f in files_seen(browser) if f.get("inline")]
        assert played and played[0]["name"].startswith("cantor-play") and played[0]["size"] > 44
        press(browser, " ")  # space again stops it; the session goes on (the Enter below)
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.getElementById('cantor-player').paused"))
        browser.save_screenshot(str(tmp_path / "serve.png"))
        assert (tmp_path / "serve.png").stat().st_size > 1000
        press(browser, "\ue007")  # enter: accept the variant
        time.sleep(1.0)

        # Save: the MIDI is written in the shared folder and downloaded; cantor info reads it.
        answer_prompt(browser, "s", "melody")
        (midi,) = downloaded(browser.downloads, 1)
        assert midi.read_bytes() == (root / "melody.mid").read_bytes()
        info = subprocess.run([sys.executable, "-m", "cli", "info", str(midi)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert info.returncode == 0, info.stderr

        # Ten rounds of save + export in each format, with no hang and every file whole.
        for round_ in range(10):
            press(browser, "J")  # an edit, so that each save writes something new
            press(browser, "s", ctrl=True)
            name = f"take{round_}.{('mid', 'musicxml', 'wav')[round_ % 3]}"
            answer_prompt(browser, "e", name)
            downloaded(browser.downloads, 3 + 2 * round_, 90)
            got = browser.downloads / name
            assert got.read_bytes() == (root / name).read_bytes(), f"round {round_}: {name}"
        assert all(f.get("status") == 200 for f in files_seen(browser) if "status" in f)
        assert len(server.app_pids()) == 1
    finally:
        browser.quit()
        server.stop()  # asserts that no app process outlives the server
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert not os.path.exists(root / ".." / "evil")
