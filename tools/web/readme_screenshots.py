"""Takes the README's screenshots of the web interface on the demo data (tools/serve-demo running).

    python3 tools/web/readme_screenshots.py http://127.0.0.1:8080 docs/screenshots
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, out = sys.argv[1], sys.argv[2]
options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,760", "--lang=zh-CN"]:
    options.add_argument(flag)
options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(url + "/login")
    driver.find_element(By.ID, "user").send_keys("demo_reviewer")
    driver.find_element(By.ID, "password").send_keys("demo password 2026")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    driver.get(url + "/workers/D01-00121")
    driver.execute_script("document.querySelector('.timeline').scrollIntoView({block: 'center'})")
    driver.save_screenshot(out + "/worker-timeline.png")
    driver.get(url + "/quota")
    driver.save_screenshot(out + "/quota.png")
finally:
    driver.quit()
