"""Visit pages in headless Chromium and report what ran: `python chromium_visit.py` reads a
job as JSON on stdin and writes the findings as JSON on stdout.

A process of its own, so that it never shares Playwright's event loop with the browser tests'
session-wide browser (two sync Playwrights cannot run in one process)."""

import json
import sys

from playwright.sync_api import Error, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# What a page holds that no template writes, and whether a payload ran.
DOM_CHECK = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) found.push(el.tagName + ' ' + attr.name);
    }
    if (el.tagName === 'SCRIPT' && !el.src) found.push('inline script');
    if (el.tagName === 'IFRAME') found.push('iframe');
    if ((el.getAttribute('src') || '') === 'x') found.push(el.tagName + ' src=x');
  }
  return {
    found,
    xss: window.__xss || null,
    evaluated: document.body.innerText.includes('1337'),
    brand: (document.querySelector('.brand') || {}).innerText || '',
  };
}"""


def main() -> None:
    job = json.load(sys.stdin)
    results, dialogs = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=job["base"], viewport=job["viewport"])
        context.set_default_timeout(30_000)  # as tests/fixtures/browser.py's WAIT_MS
        page = context.new_page()
        csp = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on(
            "console",
            lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None,
        )
        if job.get("login"):
            page.goto("/login")
            page.fill("input[name=email]", job["login"]["email"])
            page.fill("input[name=password]", job["login"]["password"])
            page.click("button[type=submit]")
            page.wait_for_url("**/clinic/")
        for path in job["paths"]:
            csp.clear()
            try:
                response = page.goto(path)
            except Error as error:
                # A file to save (Content-Disposition: attachment, as a CSV export): Chromium
                # downloads it and renders nothing, so nothing in it can run.
                if "Download is starting" not in error.message:
                    raise
                results.append(
                    {"path": path, "status": None, "download": True, "csp": list(csp)}
                    | {"found": [], "xss": None, "evaluated": False, "brand": ""}
                )
                continue
            result = page.evaluate(DOM_CHECK)
            result.update(path=path, status=response.status if response else None, csp=list(csp))
            results.append(result)
        browser.close()
    json.dump({"results": results, "dialogs": dialogs}, sys.stdout)


if __name__ == "__main__":
    main()
