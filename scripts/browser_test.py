#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium driven by Selenium (scripts/test.sh installs
both), against a `spool dev` that scripts/test.sh started with a tenant, a number and some jobs.

It signs in with the operator key, sees a queue's pending count change live (the overview polls
every 2 s), retries a dead job and sees it leave the dead list, takes over a conversation, checks
that a job argument `<script>alert(1)</script>` is shown as text (and runs nothing), and saves a
screenshot of each page in the output folder. Every wait is on a condition with a timeout.

Environment: SPOOL_DASHBOARD (the API's base URL), SPOOL_OPERATOR_KEY, SPOOL_SANDBOX (the sandbox's
base URL), SPOOL_NUMBER (the tenant's number), SPOOL_BIN (the spool binary, with REDIS_URL and the
rest of its environment set), SPOOL_SHOTS (the screenshot folder).
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE = os.environ["SPOOL_DASHBOARD"].rstrip("/")
OPERATOR_KEY = os.environ["SPOOL_OPERATOR_KEY"]
SANDBOX = os.environ["SPOOL_SANDBOX"].rstrip("/")
NUMBER = os.environ["SPOOL_NUMBER"]
SPOOL = os.environ["SPOOL_BIN"]
SHOTS = os.environ["SPOOL_SHOTS"]
TIMEOUT = 60  # seconds; a busy CI machine is slow, a working page is not


def spool(*args):
    """Runs the spool CLI and answers its standard output."""
    return subprocess.run([SPOOL, *args], check=True, capture_output=True, text=True).stdout.strip()


def enqueue(args):
    """Enqueues a noop job with these arguments; answers its id."""
    return spool("enqueue", "noop", "--args", json.dumps(args)).splitlines()[-1].strip()


def wait_for(what, check):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception:  # the page may be between loads
            pass
        time.sleep(0.2)
    raise AssertionError(f"waited {TIMEOUT} s for {what}")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    shots = []

    def shot(name):
        path = os.path.join(SHOTS, f"{len(shots) + 1:02d}-{name}.png")
        driver.save_screenshot(path)
        shots.append(path)

    def text():
        return driver.find_element(By.TAG_NAME, "body").text

    def submit(button_text):
        """Clicks the first button with this text (every action is a form with its CSRF token)."""
        buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == button_text]
        assert buttons, f"no '{button_text}' button on {driver.current_url}"
        buttons[0].click()

    try:
        # Signing in.
        driver.get(BASE + "/dashboard")
        wait_for("the login form", lambda: driver.find_elements(By.NAME, "key"))
        shot("login")
        driver.find_element(By.NAME, "key").send_keys(OPERATOR_KEY)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait_for("the overview", lambda: driver.current_url.rstrip("/").endswith("/dashboard") and "Overview" in driver.title)

        # A dead job, before the queue is paused.
        dead = enqueue({"fail": "permanent"})
        wait_for("the job to die", lambda: json.loads(spool("job", dead, "--json")).get("state") == "dead")

        # A queue's count changing live: paused, its pending count follows three enqueues.
        spool("queue", "pause", "default")
        driver.get(BASE + "/dashboard")
        cell = '[data-queue="default"][data-field="pending"]'
        before = int(wait_for("the default queue's pending cell", lambda: driver.find_element(By.CSS_SELECTOR, cell).text))
        for _ in range(3):
            enqueue({})
        wait_for("the live pending count", lambda: int(driver.find_element(By.CSS_SELECTOR, cell).text) == before + 3)
        shot("overview")

        driver.get(BASE + "/dashboard/queues")
        wait_for("the queues page", lambda: "Queues" in driver.title)
        shot("queues")

        # The dead job, retried from its page, leaves the dead list (and waits in the paused queue).
        driver.get(BASE + "/dashboard/jobs?state=dead")
        wait_for("the dead job in the list", lambda: dead in text())
        shot("jobs-dead")
        driver.get(BASE + f"/dashboard/jobs/{dead}")
        wait_for("the job's page", lambda: dead in text())
        submit("Retry now")
        driver.get(BASE + "/dashboard/jobs?state=dead")
        wait_for("the dead list without the job", lambda: "Dead" in driver.title or "Jobs" in driver.title)
        assert dead not in text(), "the retried job is still in the dead list"

        # A job argument that is markup is shown as text and runs nothing.
        script_job = enqueue({"note": "<script>alert(1)</script>"})
        driver.get(BASE + f"/dashboard/jobs/{script_job}")
        wait_for("the job with markup in its arguments", lambda: "<script>alert(1)</script>" in text())
        try:
            driver.switch_to.alert
            raise AssertionError("an alert opened: the job's argument ran as a script")
        except NoAlertPresentException:
            pass
        shot("job")

        # A contact writes; the operator takes the conversation over.
        request = urllib.request.Request(
            SANDBOX + "/_sandbox/inbound",
            data=json.dumps({"from": "+14155550199", "to": NUMBER, "body": "Is Friday at 10 possible?"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.load(answer)["status"] == 200
        driver.get(BASE + "/dashboard/conversations")
        link = wait_for(
            "the conversation in the list",
            lambda: [a for a in driver.find_elements(By.CSS_SELECTOR, "a[href*='/dashboard/conversations/cv_']")],
        )
        shot("conversations")
        link[0].click()
        wait_for("the conversation's page", lambda: "Is Friday at 10 possible?" in text())
        submit("Take over")
        wait_for("the conversation in a human's hands", lambda: "human" in text().lower())
        shot("conversation")

        for page in ("workers", "limits", "schedules", "tenants", "campaigns", "calendars"):
            driver.get(BASE + f"/dashboard/{page}")
            wait_for(f"the {page} page", lambda: driver.find_elements(By.TAG_NAME, "h1"))
            shot(page)

        # Signing out.
        submit("Log out")
        wait_for("the login form after logging out", lambda: driver.find_elements(By.NAME, "key"))
        driver.get(BASE + "/dashboard/queues")
        wait_for("a page without a session to send to the login form", lambda: driver.find_elements(By.NAME, "key"))
    except Exception:
        shot("failure")
        raise
    finally:
        driver.quit()
    print(f"browser test passed; {len(shots)} screenshots in {SHOTS}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"browser test failed: {error}", file=sys.stderr)
        sys.exit(1)
