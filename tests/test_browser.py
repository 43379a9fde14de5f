"""The built book in a real browser: math typeset offline, images load, nothing remote.

Needs the HTML from `make book` (which `make test` builds first) and Debian's chromium and
chromium-driver (which `make test` installs when missing).
"""

import os
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
PAGES = {"intro": HTML / "index.html", "results": HTML / "book" / "results.html"}

missing = [what for what, ok in (("the built book (make book)", (HTML / "index.html").exists()),
                                 ("chromium", bool(shutil.which("chromium"))),
                                 ("chromedriver", bool(shutil.which("chromedriver")))) if not ok]
pytestmark = pytest.mark.skipif(bool(missing) and not os.environ.get("CI"),
                                reason=f"needs {', '.join(missing)}; `make test` provides them")

# Any attribute pointing off the machine, and any resource the page fetched from one.
# Namespace declarations (xmlns, added by MathJax to its SVG) name a namespace; nothing is fetched.
REMOTE_REFERENCES = """
return Array.from(document.querySelectorAll('*')).flatMap(el =>
  Array.from(el.attributes).filter(a => !a.name.startsWith('xmlns') && /^(https?:)?\\/\\//i.test(a.value.trim()))
    .map(a => el.tagName + '[' + a.name + ']=' + a.value))
  .concat(performance.getEntriesByType('resource').map(r => r.name).filter(n => /^https?:/i.test(n)));
"""
BROKEN_IMAGES = "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);"
VISIBLE_TEXT = """
const clone = document.body.cloneNode(true);
clone.querySelectorAll('script, style, pre, code, mjx-container, .MathJax').forEach(e => e.remove());
return clone.innerText;
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600", "--allow-file-access-from-files"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    yield driver
    driver.quit()


def load(driver, page: Path):
    driver.get(page.as_uri())
    deadline = time.time() + 30
    while time.time() < deadline:  # MathJax typesets asynchronously
        if driver.execute_script("return document.querySelectorAll('mjx-container').length") > 0:
            break
        time.sleep(0.2)
    time.sleep(0.5)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_offline_with_typeset_math_and_images(browser, name):
    page = PAGES[name]
    assert page.exists(), f"{page} missing: run `make book`"
    load(browser, page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    assert browser.execute_script("return document.querySelectorAll('mjx-container').length") > 0
    text = browser.execute_script(VISIBLE_TEXT)
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in text, f"untypeset math ({raw}) on {page.name}"
    assert browser.execute_script("return document.images.length") > 0, "the page should show figures"
    assert browser.execute_script(BROKEN_IMAGES) == []
    assert browser.execute_script(REMOTE_REFERENCES) == []
