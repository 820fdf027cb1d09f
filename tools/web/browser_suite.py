"""The web interface in a real browser (headless Chromium through selenium), as its users use it.

Run by tools/web-check against a running `dossier serve` on a prepared ledger:
    python3 tools/web/browser_suite.py URL SCREENSHOT_DIR DOSSIER_BIN

Each test saves screenshots in SCREENSHOT_DIR (not committed). Exits non-zero on the first failure.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

URL, SHOTS, BIN = sys.argv[1], sys.argv[2], sys.argv[3]
PASSWORD = "correct horse battery"
SUFFIX = "_" + os.environ["DOSSIER_WEB_SUFFIX"]
os.makedirs(SHOTS, exist_ok=True)


def browser(width=1366, height=768, lang="zh-CN", phone=False):
    options = webdriver.ChromeOptions()
    if phone:
        # A desktop window cannot be narrower than about 500 px: emulate the phone's screen.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", f"--lang={lang}"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def finish(driver):
    """Quits the browser, keeping a screenshot and the page when a test is failing."""
    if sys.exc_info()[0] is not None:
        name = sys._getframe(1).f_code.co_name
        shot(driver, "FAILED-" + name)
        with open(os.path.join(SHOTS, "FAILED-" + name + ".html"), "w") as handle:
            handle.write(driver.page_source)
    driver.quit()


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def replaced(page):
    """A wait condition: true once the document holding `page` (an element) is gone.

    Selenium's staleness_of only counts StaleElementReferenceException; while Chromium is swapping
    documents, asking about the old element can also fail with "unhandled inspector error: Node
    with given id does not belong to the document", which means the same: the old document is
    gone. (That error, raised out of staleness_of, is what made this suite fail now and then.)"""
    def condition(_driver):
        try:
            page.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
    return condition


def submit(driver, selector):
    """Clicks a submit button and waits until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 30).until(replaced(page))
    # The new document may still be settling (see open_page): wait until it has loaded.
    WebDriverWait(driver, 30).until(loaded)


def loaded(driver):
    """A wait condition: the current document has finished loading (false while Chromium is
    still swapping it in and cannot answer)."""
    try:
        return driver.execute_script("return document.readyState") == "complete"
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return False
        raise


def open_page(driver, url):
    """Loads a page and waits until it has finished loading (scripts and DevTools calls made
    while a phone-emulating Chromium is still settling the document fail with "Node with given
    id does not belong to the document")."""
    driver.get(url)
    WebDriverWait(driver, 30).until(loaded)


def login(driver, user):
    user += SUFFIX
    for attempt in range(3):
        try:
            open_page(driver, URL + "/login")
            driver.find_element(By.ID, "user").send_keys(user)
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            break
        except WebDriverException as error:
            # The login page was replaced under the typing (see open_page): type it again.
            if attempt == 2 or "does not belong to the document" not in str(error):
                raise
    submit(driver, "form button[type=submit]")
    if "/login" in driver.current_url:
        shot(driver, "login-failed-" + user)
        problems = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".problem, h1"))
        raise AssertionError(f"{user} could not log in: {problems}")


def fill(driver, values):
    for name, value in values.items():
        for attempt in range(3):
            try:
                fill_one(driver, name, value)
                break
            except WebDriverException as error:
                # Chromium settling the document under us (see open_page): find the field again.
                if attempt == 2 or "does not belong to the document" not in str(error):
                    raise
                time.sleep(0.2)


def fill_one(driver, name, value):
    element = driver.find_element(By.ID, "f-" + name)
    if element.tag_name == "select":
        Select(element).select_by_value(value)
    elif element.get_attribute("type") == "date":
        # What the date picker sets; typing depends on the browser's locale.
        driver.execute_script("arguments[0].value = arguments[1]", element, value)
    else:
        element.clear()
        element.send_keys(value)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def marks(driver):
    return len(driver.find_elements(By.CSS_SELECTOR, ".timeline svg circle.ev, .timeline svg circle.void"))


def test_clerk_records_meets_a_refusal_and_overrides_it():
    driver = browser()
    try:
        login(driver, "web_clerk")
        shot(driver, "01-clerk-home")
        open_page(driver, URL + "/decisions/new?kind=hire")
        fill(driver, {"worker": "W-901", "name": "王芳", "effective": "2018-03-01", "authority": "黄浦区人力资源和社会保障局",
                      "reference": "黄人社〔2018〕12号", "community": "桥二居民区", "street": "五里桥街道", "district": "黄浦区",
                      "city": "上海", "post": "staff", "role": "staff", "level": "3", "education": "bachelor"})
        check(not driver.find_elements(By.ID, "f-knownSince"),
              "the form offers knownSince, which only an import may carry (record refuses it)")
        shot(driver, "02-hire-form")
        submit(driver, "form.grid button[type=submit]")
        shot(driver, "02b-hire-recorded")
        confirmed = driver.find_elements(By.CSS_SELECTOR, ".flash")
        check(confirmed and "W-901" in confirmed[0].text, "the hire was not confirmed: " + " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".problem")))
        open_page(driver, URL + "/workers/W-901")
        before = marks(driver)
        check(before == 1, f"one decision on the timeline, found {before}")
        # A level-up on assessment grounds with no assessments: refused, naming the rule.
        open_page(driver, URL + "/decisions/new?kind=level-change&worker=W-901")
        fill(driver, {"worker": "W-901", "effective": "2019-06-01", "authority": "黄浦区人力资源和社会保障局",
                      "reference": "黄人社〔2019〕40号", "level": "5", "grounds": "assessment"})
        submit(driver, "form.grid button[type=submit]")
        problem = driver.find_element(By.CSS_SELECTOR, ".problem")
        check("excellent" in problem.text or "level" in problem.text, f"the refusal names no rule: {problem.text}")
        shot(driver, "03-refused")
        # The form keeps what was typed and offers the override.
        driver.find_element(By.ID, "f-override").send_keys("区委常委会2019年第5次会议特批")
        driver.find_element(By.ID, "f-overrideApproval").send_keys("黄委〔2019〕5号")
        submit(driver, "form.grid button[type=submit]")
        check(driver.find_elements(By.CSS_SELECTOR, ".flash"), f"the override was not recorded: {driver.page_source[:800]}")
        open_page(driver, URL + "/workers/W-901")
        after = marks(driver)
        check(after == before + 1, f"the timeline did not change: {before} -> {after}")
        check("政策例外" in driver.page_source, "the overridden decision is not marked as a policy exception")
        shot(driver, "04-timeline-after-override")
        # Keyboard: the skip link is the first stop.
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("\t")
        check(driver.switch_to.active_element.get_attribute("class") == "skip", "the skip link is not the first tab stop")
    finally:
        finish(driver)


def test_auditor_finds_no_form_and_no_names():
    driver = browser(lang="en")
    try:
        login(driver, "web_auditor")
        check(not driver.find_elements(By.CSS_SELECTOR, "a[href='/decisions/new']"), "an auditor is offered the decision form")
        open_page(driver, URL + "/decisions/new")
        check("Not allowed" in driver.page_source, "an auditor reached the decision form")
        open_page(driver, URL + "/workers/W-901")
        check("王芳" not in driver.page_source, "an auditor sees a name on the worker page")
        check("withheld" in driver.page_source, "the worker page does not say names are withheld")
        open_page(driver, URL + "/roster?district=黄浦区")
        check("王芳" not in driver.page_source and "W-901" in driver.page_source, "the auditor's roster is wrong")
        shot(driver, "05-auditor-roster-en")
        open_page(driver, URL + "/quota")
        check(driver.find_elements(By.CSS_SELECTOR, ".chart svg rect"), "the quota dashboard draws no bars")
        shot(driver, "06-quota")
        # The quota of a district on a date as known at a time; a misspelt district is said so.
        open_page(driver, URL + "/quota?jurisdiction=上海/黄浦区&asOf=2020-12-31&knownAt=2030-01-01")
        check("上海/黄浦区" in driver.page_source and driver.find_elements(By.CSS_SELECTOR, "a[href*='format=csv']"),
              "the quota page for one district on a date lost its line or its CSV link")
        open_page(driver, URL + "/quota?jurisdiction=上海/黄埔区")
        check("no city or district" in driver.page_source, "a misspelt district is not said so on the quota page")
        # What needs attention, and the exceptions of a period.
        open_page(driver, URL + "/due")
        check(driver.find_elements(By.CSS_SELECTOR, "a[href='/due']") and "Needs attention" in driver.page_source,
              "the page of what needs attention is missing")
        shot(driver, "09-due")
        open_page(driver, URL + "/exceptions?since=2000-01-01&until=2100-12-31&jurisdiction=上海")
        check(driver.find_elements(By.ID, "q-since") and driver.find_elements(By.ID, "q-jurisdiction"), "the exceptions page has no filters")
        check(driver.find_elements(By.CSS_SELECTOR, "tbody a[href='/workers/W-901']"),
              "the exception's worker is not named and linked in its column")
        shot(driver, "10-exceptions-filtered")
    finally:
        finish(driver)


def test_reviewer_reads_as_known_then_and_downloads_a_bundle():
    driver = browser()
    try:
        login(driver, "web_reviewer")
        open_page(driver, URL + "/workers/W-902")
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        check(len(rows) == 2, f"W-902 should have a hire and a correction, found {len(rows)} rows")
        check("已更正" in driver.page_source, "the corrected hire is not marked corrected")
        check(driver.find_elements(By.CSS_SELECTOR, ".timeline svg circle.ring"), "the corrected decision has no ring on the timeline")
        now_level = driver.find_element(By.CSS_SELECTOR, "dl.facts").text
        check("4" in now_level, f"the corrected level should show: {now_level}")
        # As known when only the hire was recorded: level 2, one row.
        first_recorded = rows[0].find_elements(By.TAG_NAME, "td")[5].text
        known = first_recorded  # the instant the hire was recorded
        driver.find_element(By.ID, "knownAt").send_keys(known)
        submit(driver, "form.row button[type=submit]")
        check(len(driver.find_elements(By.CSS_SELECTOR, "tbody tr")) == 1, "as known then, the correction should not show")
        check("2" in driver.find_element(By.CSS_SELECTOR, "dl.facts").text, "as known then, the level was 2")
        shot(driver, "07-reviewer-known-at")
        link = driver.find_element(By.CSS_SELECTOR, "a[href='/api/workers/W-902/bundle']")
        check(link is not None, "no bundle link")
        cookie = driver.get_cookie("dossier_session")["value"]
        request = urllib.request.Request(URL + link.get_attribute("href").replace(URL, ""), headers={"Cookie": "dossier_session=" + cookie})
        with urllib.request.urlopen(request) as response:
            bundle = response.read()
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(bundle)
        result = subprocess.run([os.path.join(BIN, "dossier"), "verify-bundle", handle.name], capture_output=True, text=True)
        check(result.returncode == 0, f"verify-bundle refused the downloaded bundle: {result.stdout} {result.stderr}")
        check("朱" in bundle.decode("utf-8") or "name" in bundle.decode("utf-8"), "the reviewer's bundle carries no personal data")
    finally:
        finish(driver)


def test_phone_width():
    driver = browser(width=390, height=844, phone=True)
    try:
        login(driver, "web_clerk")
        open_page(driver, URL + "/workers/W-901")
        shot(driver, "08-phone-worker")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        widest = driver.execute_script(
            "let w=null;for(const e of document.querySelectorAll('body *')){const r=e.getBoundingClientRect();"
            "if(r.right>window.innerWidth+1&&!e.closest('.scroll')&&(!w||r.right>w.r))w={r:r.right,t:e.tagName+'.'+e.className};}return w&&w.t;")
        inner = driver.execute_script("return window.innerWidth")
        check(inner <= 400 and width <= inner, f"(viewport {inner}px) the worker page scrolls sideways on a phone ({width}px; widest: {widest})")
    finally:
        finish(driver)


if __name__ == "__main__":
    tests = [test_clerk_records_meets_a_refusal_and_overrides_it, test_auditor_finds_no_form_and_no_names,
             test_reviewer_reads_as_known_then_and_downloads_a_bundle, test_phone_width]
    failed = 0
    for test in tests:
        started = time.time()
        try:
            test()
            print(f"browser: ok   {test.__name__} ({time.time() - started:.1f} s)")
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the suite fails
            failed += 1
            print(f"browser: FAIL {test.__name__}: {error}")
    print(f"browser: {len(tests) - failed} of {len(tests)} passed; screenshots in {SHOTS}")
    sys.exit(1 if failed else 0)
