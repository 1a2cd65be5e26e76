"""The dashboard in a real browser: headless Chromium driven through WebDriver (Selenium).

Run by tests/integration/browser.rs (`cargo test`), or by hand:
    EXECQ_BIN=target/debug/execq target/pyenv/bin/python -m unittest tests/py/test_dashboard.py

It builds a queue with the real binary (a completed job, a failed job whose output is hostile
HTML, a job waiting for its time), then checks the written file page and the served page as a
user sees them: counts, escaped output, nothing from a job running, retry and cancel with and
without the token, live updates without a reload, and screenshots that are not blank.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

EXECQ = os.environ.get("EXECQ_BIN", "target/debug/execq")
SHOTS = Path(os.environ.get("EXECQ_SHOTS") or tempfile.mkdtemp(prefix="execq-shots-"))
SHOTS.mkdir(parents=True, exist_ok=True)
DEADLINE = 30

# What a hostile job prints: each piece would run or navigate if the page did not escape it.
HOSTILE = (
    '<script>document.title="pwned";window.pwned=1</script>'
    '</pre><img src=x onerror="window.pwned=2">'
    '<a id="evil" href="javascript:window.pwned=3">click</a>'
)


def execq(queue, *args, check=True):
    return subprocess.run(
        [EXECQ, "--queue", str(queue), *args],
        check=check,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=DEADLINE,
    )


def browser():
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,1400",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="execq-chromium-"),
    ):
        options.add_argument(flag)
    chromium = os.environ.get("EXECQ_CHROMIUM") or shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    driver_path = os.environ.get("EXECQ_CHROMEDRIVER") or shutil.which("chromedriver")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


def assert_not_blank(test, png_path):
    """A render, not a blank page: many pixels differ from the background, in several colours."""
    with Image.open(png_path) as shot:
        rgb = shot.convert("RGB")
        width, height = rgb.size
        test.assertGreater(width * height, 100_000, f"{png_path}: tiny screenshot")
        small = rgb.resize((width // 4, height // 4))
        pixels = list(small.getdata())
        background = max(set(pixels), key=pixels.count)
        differing = sum(1 for p in pixels if p != background)
        colours = len(set(pixels))
    test.assertGreater(differing / len(pixels), 0.02, f"{png_path}: almost all background")
    test.assertGreater(colours, 20, f"{png_path}: only {colours} colours")


def wait_for(what, cond, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def hold_drain_lock(queue):
    """Holds the queue's drain lock, as a drain busy with a long job does."""
    import fcntl
    held = open(queue / "drain.lock", "a+")
    fcntl.flock(held, fcntl.LOCK_EX)
    return held


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="execq-browser-"))
        cls.queue = cls.tmp / "queue"
        execq(cls.queue, "submit", "--id", "greeting", "--", "echo", "hello from execq")
        execq(cls.queue, "submit", "--id", "hostile", "--", "sh", "-c",
              'printf "%s" "$1"; exit 3', "sh", HOSTILE)
        execq(cls.queue, "drain")
        # Waits an hour: stays pending for the cancel test.
        execq(cls.queue, "submit", "--id", "later", "--delay", "1h", "--", "echo", "later")
        cls.files = {
            task: json.loads(execq(cls.queue, "show", "--json", task).stdout)["job"]
            for task in ("greeting", "hostile", "later")
        }
        cls.driver = browser()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def text(self, css):
        """The element's text, read in one step: the served page swaps its live part in place."""
        text = self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e && e.innerText", css)
        if text is None:
            raise AssertionError(f"no element matches {css}")
        return text

    def assert_inert(self, shown=True):
        """Nothing from the hostile output ran, navigated, or became markup; and, when `shown`,
        the hostile job's output is on the page as text."""
        d = self.driver
        try:
            alert = d.switch_to.alert.text
            self.fail(f"an alert opened: {alert}")
        except NoAlertPresentException:
            pass
        self.assertNotEqual(d.title, "pwned")
        self.assertIsNone(d.execute_script("return window.pwned || null"))
        self.assertEqual(d.find_elements(By.ID, "evil"), [])
        for a in d.find_elements(By.TAG_NAME, "a"):
            self.assertFalse((a.get_attribute("href") or "").startswith("javascript:"))
        for img in d.find_elements(By.TAG_NAME, "img"):
            self.fail(f"an <img> from job output made it into the page: {img.get_attribute('outerHTML')}")
        if not shown:
            return
        # The hostile text is shown literally, as text (read in one step: see `text`).
        pre = d.execute_script(
            "const d = document.getElementById(arguments[0]); d.open = true;"
            "return d.querySelector('pre').textContent",
            "job-" + self.files["hostile"])
        self.assertIn(HOSTILE, pre)

    def test_file_page(self):
        out = self.tmp / "page.html"
        execq(self.queue, "dashboard", "--out", str(out))
        d = self.driver
        d.get(out.as_uri())
        self.assertEqual(self.text("#count-completed .n"), "1")
        self.assertEqual(self.text("#count-failed .n"), "1")
        self.assertEqual(self.text("#count-pending .n"), "1")
        self.assertEqual(d.find_elements(By.TAG_NAME, "script"), [], "the file page has no script")
        self.assertIn("later", self.text("#pending"))
        self.assertIn("not before", self.text("#pending"))
        self.assert_inert()
        greeting = d.find_element(By.ID, "job-" + self.files["greeting"])
        d.execute_script("arguments[0].open = true", greeting)
        self.assertIn("hello from execq", greeting.text)
        shot = SHOTS / "dashboard-file.png"
        d.save_screenshot(str(shot))
        assert_not_blank(self, shot)

    def test_served_page(self):
        server = subprocess.Popen(
            [EXECQ, "--queue", str(self.queue), "dashboard", "--serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            url = server.stdout.readline().strip()
            self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32}$")
            base = url.split("?")[0].rstrip("/")
            self.served(base, url)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
        # Ctrl-C stops it cleanly: exit 0, port closed.
        self.assertEqual(server.wait(timeout=DEADLINE), 0, server.stderr.read())
        port = int(base.rsplit(":", 1)[1])
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def api(self, base, path, method="GET", headers=None):
        request = urllib.request.Request(base + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def click(self, act, task):
        """Clicks the job's button, again if the page swapped it out under the click."""
        selector = f'button[data-act="{act}"][data-job="{self.files[task]}"]'
        for _ in range(20):
            try:
                self.driver.find_element(By.CSS_SELECTOR, selector).click()
                return
            except StaleElementReferenceException:
                time.sleep(0.05)
        self.fail(f"the {act} button of {task} kept being replaced")

    def state_of(self, base, job):
        status, body = self.api(base, "/api/jobs/" + job)
        self.assertEqual(status, 200, body)
        return body["state"], body["record"].get("result", {}).get("status")

    def served(self, base, url):
        d = self.driver
        token = url.split("token=")[1]

        status, report = self.api(base, "/api/status")
        self.assertEqual(status, 200)
        self.assertEqual(report["counts"]["failed"], 1)
        self.assertEqual(report["counts"]["completed"], 1)
        status, body = self.api(base, "/api/jobs/nonexistent")
        self.assertEqual(status, 404)
        self.assertIn("no job matches", body["error"])

        # Without the token: the button is refused, the job stays failed.
        d.get(base + "/")
        self.assertEqual(self.text("#count-failed .n"), "1")
        self.assert_inert()
        self.click("retry", "hostile")
        WebDriverWait(d, DEADLINE).until(lambda d: "token" in self.text("#msg-text"))
        self.assertEqual(self.state_of(base, "hostile"), ("failed", "failed"))

        # With the token, from a page carrying a foreign Origin: refused.
        status, body = self.api(base, "/api/jobs/hostile/retry", "POST",
                                {"X-Execq-Token": token, "Origin": "http://evil.example"})
        self.assertEqual(status, 403, body)
        status, body = self.api(base, "/api/jobs/hostile/retry", "POST", {"X-Execq-Token": "0" * 32})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.state_of(base, "hostile"), ("failed", "failed"))

        # A rebound DNS name reaching 127.0.0.1 is refused.
        status, _ = self.api(base, "/api/status", headers={"Host": "evil.example"})
        self.assertEqual(status, 421)

        # With the token: retry works, and the page shows it without a reload. A drain holds the
        # queue meanwhile (the retry would start one otherwise), so the job stays pending.
        held = hold_drain_lock(self.queue)
        d.get(url)
        d.execute_script("window.notReloaded = true")
        self.click("retry", "hostile")
        WebDriverWait(d, DEADLINE).until(lambda d: "pending again" in self.text("#msg-text"))
        self.assertEqual(self.state_of(base, "hostile")[0], "pending")
        WebDriverWait(d, DEADLINE).until(lambda d: self.text("#count-failed .n") == "0")
        self.assertEqual(self.text("#count-pending .n"), "2")

        # Cancel the job waiting for its time.
        self.click("cancel", "later")
        WebDriverWait(d, DEADLINE).until(lambda d: "cancelled" in self.text("#msg-text"))
        self.assertEqual(self.state_of(base, "later"), ("failed", "cancelled"))
        held.close()

        # A job submitted from elsewhere shows up in place.
        execq(self.queue, "submit", "--id", "newcomer", "--delay", "1h", "--", "true")
        WebDriverWait(d, DEADLINE).until(lambda d: "newcomer" in self.text("#pending"))
        self.assertTrue(d.execute_script("return window.notReloaded === true"))
        self.assert_inert(shown=False)

        shot = SHOTS / "dashboard-served.png"
        d.save_screenshot(str(shot))
        assert_not_blank(self, shot)


if __name__ == "__main__":
    unittest.main()
