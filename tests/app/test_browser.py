"""End to end in a real headless browser: `metaembed-rag chat samples/pdfs` driven by Debian's
chromium through its chromedriver (Selenium; nothing is downloaded at run time).

Where the browser cannot start this test fails and says what is missing: `.ci/run` installs
`chromium` and `chromium-driver`. The screenshot is saved in the test's tmp folder (path printed);
set METAEMBED_CHAT_SCREENSHOT to also copy it elsewhere (docs/chat-app.png was made that way).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLES, write_pdf

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("METAEMBED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("METAEMBED_CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT = 600  # indexing the 50 sample pages on a loaded 2-core machine
ANSWER_TIMEOUT = 180


def query(qid: str) -> dict[str, Any]:
    lines = (SAMPLES / "queries.jsonl").read_text().splitlines()
    return next(item for item in map(json.loads, lines) if item["id"] == qid)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)  # polling interval of a condition wait, not a fixed delay
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """`metaembed-rag chat samples/pdfs` on a free port, with its index in the tmp folder."""
    port = free_port()
    log = tmp_path / "chat.log"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("METAEMBED_RAG_LLM", None)  # retrieval-only mode, whatever the environment says
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "metaembed_rag.cli", "chat", str(SAMPLES / "pdfs"),
             "--index", str(tmp_path / "samples.idx"), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        wait_for(lambda: server.poll() is not None or f"127.0.0.1:{port}" in log.read_text(),
                 START_TIMEOUT, "the chat app to start")
        assert server.poll() is None, f"the chat app exited:\n{log.read_text()}"
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        pytest.fail(f"the browser test needs selenium (pip install -e '.[dev]'): {error}")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        pytest.fail(f"the browser test needs Debian's chromium and its driver; missing {missing}: "
                    "apt-get install chromium chromium-driver (.ci/run does this as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--disable-gpu"):
        options.add_argument(flag)
    try:  # an explicit driver path: Selenium Manager never runs, nothing is downloaded
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        pytest.fail(f"headless chromium ({CHROMIUM}) did not start through {CHROMEDRIVER}: {error.msg}")
    try:
        yield driver
    finally:
        driver.quit()


def ask(driver: Any, question: str) -> int:
    """Type ``question`` and press Ask; return how many answers with pages the tab showed before."""
    from selenium.webdriver.common.by import By

    before = len(driver.find_elements(By.CSS_SELECTOR, "#me-chat .me-pages"))
    box = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#me-question textarea"), 60,
                   "the question box")
    box[0].send_keys(question)
    driver.find_element(By.ID, "me-ask").click()
    return before


def answer_pages(driver: Any, before: int) -> list[str]:
    """Wait for the next answer in this tab; the labels under its thumbnails, in order."""
    from selenium.webdriver.common.by import By

    def strips() -> list[Any]:
        found = driver.find_elements(By.CSS_SELECTOR, "#me-chat .me-pages")
        return found if len(found) > before else []

    strips = wait_for(strips, ANSWER_TIMEOUT, "an answer with pages")
    return [img.get_attribute("alt") for img in strips[before].find_elements(By.CSS_SELECTOR, "img")]


def test_chat_in_a_real_browser(app_url: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    crumble, flight, metro = query("q23"), query("q34"), query("q42")
    browser.get(app_url)
    status = wait_for(lambda: browser.find_elements(By.ID, "me-status"), 60, "the app")[0]
    assert "50 pages in 7 documents" in status.text and "retrieval-only mode" in status.text

    # one question: the page that answers it is shown, with its citation linked to its thumbnail
    expected = f"{crumble['file']} p.{crumble['page']}"
    pages = answer_pages(browser, ask(browser, crumble["query"]))
    assert pages[0] == expected, pages  # the default model ranks it first (checked in test_retriever)
    chat = browser.find_element(By.ID, "me-chat")
    assert "No language model is configured" in chat.text
    cite = chat.find_element(By.XPATH, f'.//a[@class="me-cite" and text()="[{expected}]"]')
    thumb = chat.find_element(By.CSS_SELECTOR, cite.get_attribute("hash"))
    image = thumb.find_element(By.TAG_NAME, "img")
    assert image.get_attribute("alt") == expected and thumb.text == expected
    loaded = "return arguments[0].complete && arguments[0].naturalWidth"
    wait_for(lambda: browser.execute_script(loaded, image), 30, "the page image to load")
    thumb.click()  # click to enlarge, click the enlarged page to close
    zoom = chat.find_element(By.CSS_SELECTOR, f"{cite.get_attribute('hash')}-zoom")
    wait_for(zoom.is_displayed, 10, "the enlarged page")
    zoom.click()
    wait_for(lambda: not zoom.is_displayed(), 10, "the enlarged page to close")

    # two tabs asking at once both get their answers
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(app_url)
    second = browser.current_window_handle
    before_second = ask(browser, metro["query"])
    browser.switch_to.window(first)
    before_first = ask(browser, flight["query"])
    assert f"{flight['file']} p.{flight['page']}" in answer_pages(browser, before_first)
    browser.switch_to.window(second)
    assert f"{metro['file']} p.{metro['page']}" in answer_pages(browser, before_second)
    browser.close()
    browser.switch_to.window(first)

    # upload a new PDF (and a broken one), then ask about it
    new = write_pdf(tmp_path / "upload" / "orchid-observatory.pdf",
                    ["The Orchid Valley observatory opens its telescope dome at 21:30 every Friday night.",
                     "Entry to the Orchid Valley observatory costs 7 euros; children go free."])
    broken = tmp_path / "upload" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00not really a pdf" * 64)
    upload = browser.find_element(By.CSS_SELECTOR, "#me-upload input[type=file], input[type=file]")
    upload.send_keys(f"{new}\n{broken}")
    def report() -> str:
        text = browser.find_element(By.ID, "me-upload-status").text
        return text if "orchid-observatory.pdf" in text and "broken.pdf" in text else ""

    report = wait_for(report, ANSWER_TIMEOUT, "the upload report")
    assert "added orchid-observatory.pdf: 2 pages indexed" in report and "rejected broken.pdf" in report
    wait_for(lambda: "52 pages in 8 documents" in browser.find_element(By.ID, "me-status").text, 30,
             "the page count to include the upload (and nothing lost)")
    pages = answer_pages(browser, ask(browser, "When does the Orchid Valley observatory open its dome?"))
    assert pages[0] == "orchid-observatory.pdf p.1", pages

    shot = tmp_path / "chat-app.png"
    browser.execute_script("const s = document.querySelectorAll('#me-chat .me-pages');"
                           "s[s.length - 1].scrollIntoView({block: 'end'});")
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("METAEMBED_CHAT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["METAEMBED_CHAT_SCREENSHOT"])
    print(f"\nscreenshot: {shot}\nbrowser part: {time.monotonic() - started:.1f} s")
