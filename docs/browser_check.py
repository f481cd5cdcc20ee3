"""Open the built documentation in a real headless Chromium and check it.

    python docs/browser_check.py docs/_build/html [--screenshot gallery.png]

The HTML folder is served by ``http.server`` on 127.0.0.1; every page reachable from
``index.html`` is loaded in Chromium (Debian's ``chromium`` package, driven by Playwright). The
check fails when a link inside the site leads to a missing page or to an anchor that the page does
not have, when an image does not load (missing file or undecodable), or when a page's own
resources (style sheets, scripts) fail. Links leaving the site are counted, not followed (no
network). A screenshot of the gallery page is written for a person to look at.
"""
import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
import urllib.parse

# Collects, in the page, every link target and every image with whether it rendered.
_INSPECT = """() => ({
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    images: Array.from(document.images).map(i => [i.currentSrc || i.src,
                                                 i.complete && i.naturalWidth > 0]),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
        .concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.name)),
})"""


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("no Chromium found: apt-get install chromium (or set CHROMIUM to its path)")


def serve(folder):
    handler = functools.partial(_QuietHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def check(folder, screenshot=None, gallery="auto_examples/index.html"):
    """Crawl the site; return (problems, counts)."""
    from playwright.sync_api import sync_playwright

    server, root = serve(folder)
    problems, anchors, seen_ids = [], [], {}
    counts = {"pages": 0, "links": 0, "images": 0, "external": 0}
    queue, queued = [root + "index.html"], {root + "index.html"}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(),
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            current = {}
            page.on("response", lambda r: r.status >= 400 and problems.append(
                f"{current.get('url')}: {r.url} answered {r.status}"))
            page.on("requestfailed", lambda r: r.url.startswith(root) and problems.append(
                f"{current.get('url')}: {r.url} failed ({r.failure})"))
            while queue:
                url = queue.pop()
                current["url"] = url[len(root):]
                page.goto(url, wait_until="load")
                counts["pages"] += 1
                found = page.evaluate(_INSPECT)
                seen_ids[url] = set(found["ids"])
                for src, ok in found["images"]:
                    counts["images"] += 1
                    if not ok:
                        problems.append(f"{current['url']}: image {src} did not load")
                for href in found["links"]:
                    if not href.startswith(root):
                        counts["external"] += href.startswith("http")
                        continue
                    counts["links"] += 1
                    target, _, fragment = href.partition("#")
                    if target.endswith("/"):
                        target += "index.html"
                    if fragment:
                        anchors.append((current["url"], target, urllib.parse.unquote(fragment)))
                    if target not in queued and target.endswith(".html"):
                        queued.add(target)
                        queue.append(target)
            if screenshot:
                page.goto(root + gallery, wait_until="load")
                page.screenshot(path=screenshot, full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    for origin, target, fragment in anchors:
        if target in seen_ids and fragment not in seen_ids[target]:
            problems.append(f"{origin}: link to {target[len(root):]}#{fragment}: no such anchor")
    return sorted(set(problems)), counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", help="the built HTML folder (sphinx-build -b html's output)")
    parser.add_argument("--screenshot", default="gallery.png",
                        help="where to write the gallery page's screenshot (default gallery.png)")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.html, "index.html")):
        sys.exit(f"{args.html} has no index.html")
    problems, counts = check(args.html, args.screenshot)
    print(f"browser check: {counts['pages']} pages, {counts['links']} internal links, "
          f"{counts['images']} images, {counts['external']} external links (not followed); "
          f"screenshot of the gallery in {args.screenshot}")
    for line in problems:
        print("  " + line)
    if problems:
        sys.exit(f"{len(problems)} problems in the built documentation")


if __name__ == "__main__":
    main()
