#!/usr/bin/env python3
"""Places orders through the logistics web page in headless Chromium and waits for them to come
back over the live update stream (Server-Sent Events) and in the orders table.

    python3 -m venv /tmp/sel && /tmp/sel/bin/pip install selenium
    apt-get install -y chromium chromium-driver
    /tmp/sel/bin/python examples/logistics/tests/browser/place_order.py http://127.0.0.1:50052/

The URL is the page at `/` of the orders service's port. Debian's chromium and chromedriver are
used as they are, so Selenium Manager never downloads a browser or driver (no network needed).

Environment (all optional):
    CHROMIUM        the browser binary (default /usr/bin/chromium)
    CHROMEDRIVER    the driver binary (default /usr/bin/chromedriver)
    CUSTOMER        the customer to order for (default: the page's own default, c_42)
    TIMEOUT         seconds to wait for each step (default 20)
    SCREENSHOT      a .png path to save the page to when the test fails

The test, with the page's automation hooks (see the comment at the top of index.html):
  1. load the page; wait for the update stream to be `open`, or `waiting` when the customer has
     no orders yet (the server has nothing to follow then);
  2. place an order with the form; wait for `#placed[data-order-id]`, then for an
     `#updates li[data-order-id=ID]` and an `#orders tr[data-order-id=ID]`;
  3. wait for the stream to be `open` (it follows again after a customer's first order);
  4. place a second order, which must arrive over the open stream the same way.
Exit status 0 when all of that happens, 1 with a report (the page's #error, stream state, the
rows and updates it shows, and the browser console) when something does not, 2 on bad usage.
"""

import json
import os
import random
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# Selenium Manager must not look for drivers online: the binaries are given below.
os.environ.setdefault("SE_OFFLINE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
TIMEOUT = float(os.environ.get("TIMEOUT", "20"))


class Failed(Exception):
    """A step of the test did not happen; the message says which."""


def css_string(value):
    """`value` as a CSS string literal, for attribute selectors."""
    return json.dumps(value)


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    # Console messages of every level, for the failure report.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


def wait_for(driver, what, condition, timeout=TIMEOUT):
    """Waits until `condition(driver)` is truthy, returns its value; fails naming `what`."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        raise Failed(f"timed out after {timeout:g} s waiting for {what}") from None


def stream_state(driver):
    return driver.execute_script("return document.body.dataset.stream || ''")


def text_of(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text.strip() if found else ""


def gateway_error(driver):
    """The page's #error text, when it shows one."""
    return text_of(driver, "#error")


def fill(driver, selector, value):
    field = driver.find_element(By.CSS_SELECTOR, selector)
    field.clear()
    field.send_keys(str(value))


def place_order(driver, round_number):
    """Submits the form and returns the placed order's id (from #placed[data-order-id])."""
    quantity = random.randint(1, 3)
    # #customer is left alone: changing it makes the page follow that customer afresh.
    fill(driver, "#sku", "SKU-10042")
    fill(driver, "#quantity", quantity)
    fill(driver, "#price", 1250)
    fill(driver, "#currency", "USD")
    # A fresh #placed: the previous order's id must not be mistaken for this one's.
    driver.execute_script("delete document.querySelector('#placed').dataset.orderId")
    driver.find_element(By.CSS_SELECTOR, "#place-order").click()

    def answered(d):
        placed = d.execute_script("return document.querySelector('#placed').dataset.orderId || ''")
        if placed:
            return placed
        if gateway_error(d):
            raise Failed(f"order {round_number}: the gateway refused it: {gateway_error(d)}")
        return None

    order_id = wait_for(driver, f"order {round_number} to be placed (#placed[data-order-id])", answered)
    print(f"order {round_number}: placed {order_id} ({quantity} x SKU-10042)")
    return order_id


def wait_for_order(driver, order_id, round_number):
    """Waits for the order's live update and its table row; returns the update's status."""
    quoted = css_string(order_id)
    update = wait_for(
        driver,
        f"an #updates li for {order_id}",
        lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, f"#updates li[data-order-id={quoted}]")), None),
    )
    status = update.get_attribute("data-status")
    live = "current" not in (update.get_attribute("class") or "").split()
    print(f"order {round_number}: update received, status {status} ({'live change' if live else 'stream snapshot'})")
    wait_for(
        driver,
        f"an #orders row for {order_id}",
        lambda d: d.find_elements(By.CSS_SELECTOR, f"#orders tr[data-order-id={quoted}]"),
    )
    print(f"order {round_number}: row in the orders table")
    return status


def run(driver, url, customer):
    driver.get(url)
    wait_for(driver, "the page's form (#place-order)", lambda d: d.find_elements(By.CSS_SELECTOR, "#place-order"))
    first_state = wait_for(
        driver,
        "the update stream to open (body[data-stream] open, or waiting for a first order)",
        lambda d: stream_state(d) if stream_state(d) in ("open", "waiting") else None,
    )
    if customer:
        # Another customer than the page's default: follow that one instead (the page follows
        # on the field's change event).
        driver.execute_script(
            "const field = document.querySelector('#customer');"
            "field.value = arguments[0];"
            "field.dispatchEvent(new Event('change'));",
            customer,
        )
        first_state = wait_for(
            driver,
            f"the update stream for {customer}",
            lambda d: stream_state(d) if stream_state(d) in ("open", "waiting") else None,
        )
    print(f"page loaded; update stream {first_state}")

    first = place_order(driver, 1)
    wait_for_order(driver, first, 1)
    wait_for(driver, "body[data-stream=open]", lambda d: stream_state(d) == "open")
    print("update stream open")

    second = place_order(driver, 2)
    if second == first:
        raise Failed(f"the second submit returned the first order {first}: the idempotency key was reused")
    wait_for_order(driver, second, 2)
    if stream_state(driver) != "open":
        raise Failed(f"the update stream is {stream_state(driver)!r} after the second order, not open")


def report(driver, failure):
    print(f"FAIL: {failure}", file=sys.stderr)
    try:
        print(f"  page #error: {gateway_error(driver) or '(empty)'}", file=sys.stderr)
        print(f"  body[data-stream]: {stream_state(driver)!r} ({text_of(driver, '#stream-state')})", file=sys.stderr)
        print(f"  #placed: {text_of(driver, '#placed') or '(empty)'}", file=sys.stderr)
        rows = [r.get_attribute("data-order-id") for r in driver.find_elements(By.CSS_SELECTOR, "#orders tr[data-order-id]")]
        print(f"  #orders rows: {rows[:20]}", file=sys.stderr)
        updates = [u.text.replace("\n", " ") for u in driver.find_elements(By.CSS_SELECTOR, "#updates li")]
        print(f"  #updates: {updates[:20]}", file=sys.stderr)
    except WebDriverException as error:
        print(f"  (page state unavailable: {error.msg})", file=sys.stderr)
    try:
        logs = driver.get_log("browser")
    except (WebDriverException, AttributeError) as error:
        logs = []
        print(f"  (browser console unavailable: {error})", file=sys.stderr)
    print(f"  browser console ({len(logs)} entries):", file=sys.stderr)
    for entry in logs:
        print(f"    [{entry.get('level')}] {entry.get('message')}", file=sys.stderr)
    screenshot = os.environ.get("SCREENSHOT")
    if screenshot:
        try:
            driver.save_screenshot(screenshot)
            print(f"  screenshot: {screenshot}", file=sys.stderr)
        except WebDriverException as error:
            print(f"  (no screenshot: {error.msg})", file=sys.stderr)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(f"usage: {sys.argv[0]} PAGE_URL   e.g. http://127.0.0.1:50052/", file=sys.stderr)
        return 2
    url = sys.argv[1]
    customer = os.environ.get("CUSTOMER", "").strip()
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.access(binary, os.X_OK):
            print(f"FAIL: {binary} is not an executable (apt-get install chromium chromium-driver)", file=sys.stderr)
            return 1
    started = time.monotonic()
    try:
        driver = start_browser()
    except WebDriverException as error:
        print(f"FAIL: cannot start {CHROMIUM} with {CHROMEDRIVER}: {error.msg}", file=sys.stderr)
        return 1
    try:
        run(driver, url, customer)
    except Failed as failure:
        report(driver, failure)
        return 1
    except WebDriverException as error:
        report(driver, f"browser error: {error.msg}")
        return 1
    finally:
        try:
            driver.quit()
        except WebDriverException:
            pass
    print(f"OK: both orders placed, streamed and listed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
