#!/usr/bin/env python3
"""browser.dashboard: the dashboard (agent/dashboard/) in headless Chromium.

    dashboard_test.py SOURCE_DIR BUILD_DIR            # the test (CI)
    dashboard_test.py SOURCE_DIR BUILD_DIR --bench N  # bench.dashboard
    dashboard_test.py SOURCE_DIR BUILD_DIR --readme-shot docs/dashboard.png

It serves the dashboard as the agent will (/, /app.js, /style.css and
/report, with the agent's Content-Security-Policy) from a local HTTP
server on 127.0.0.1, loads reports of several shapes (small,
empty, hostile labels, large, a newer and an old version, malformed, a
missing URL, and a file chosen from disk on file://), checks what is on
screen, clicks through every view, and saves screenshots to
BUILD_DIR/tests/browser-artifacts/.  Then it loads the page as
`bulkhead agent` itself serves it (the files built into the binary, its
headers) with the agent's own /report (learned flows put into its state
directory by tests/tools/report_db_fill).  A CSP violation or a script error on any page fails the test.  Exit 77 (skip) when no chromium is installed.
"""
import http.server
import json
import os
import socketserver
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

# The agent's policy (include/dashboard.h, DASHBOARD_CSP).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Server:
    def __init__(self, dashboard, dirs):
        self.report = None
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                f = None
                if path in ("/", "/index.html"):
                    f = os.path.join(dashboard, "index.html")
                elif path in ("/app.js", "/style.css"):
                    f = os.path.join(dashboard, path[1:])
                elif path == "/report":
                    f = outer.report
                elif path.startswith("/reports/") and "/" not in path[9:] and ".." not in path:
                    for d in dirs:
                        if os.path.exists(os.path.join(d, path[9:])):
                            f = os.path.join(d, path[9:])
                if not f or not os.path.exists(f):
                    self.send_error(404)
                    return
                ctype = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                         "css": "text/css; charset=utf-8"}.get(f.rsplit(".", 1)[-1], "application/json")
                with open(f, "rb") as fh:
                    body = fh.read()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        self.reports = dirs[-1]
        self.httpd = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


class T:
    def __init__(self, b, art):
        self.b, self.art, self.fails, self.n = b, art, 0, 0

    def check(self, what, cond, got=None):
        self.n += 1
        if cond:
            print("ok: " + what)
        else:
            self.fails += 1
            print("FAIL: %s%s" % (what, "" if got is None else " (got %r)" % (got,)))

    def text(self, sel):
        return self.b.eval("(() => { const e = document.querySelector(%s); return e ? e.textContent : null; })()" % json.dumps(sel))

    def texts(self, sel):
        return self.b.eval("[...document.querySelectorAll(%s)].map((e) => e.textContent)" % json.dumps(sel))

    def shot(self, name):
        self.b.pump(0.2)
        self.b.screenshot(os.path.join(self.art, name + ".png"))

    def clean_console(self, what):
        bad = [c for c in self.b.console if "exception" in c or "Content Security Policy" in c
               or "Refused" in c or ".error" in c]
        # a 404 for a missing report is the point of that page, not an error
        bad = [c for c in bad if "404" not in c]
        self.check(what + ": no script error and no CSP violation", not bad, bad)

    def open(self, url, state="ready"):
        self.b.navigate(url)
        self.b.wait("document.body && ['ready','error','empty'].includes(document.body.dataset.state)",
                    timeout=60, what="the page to load " + url)
        got = self.b.eval("document.body.dataset.state")
        self.check("%s: state %s" % (url.rsplit("/", 1)[-1], state), got == state, got)

    def view(self, name):
        self.b.click('#tabs a[data-view="%s"]' % name)
        self.b.wait("document.body.dataset.view === %s && !document.getElementById('view-%s').hidden"
                    % (json.dumps(name), name), what="view " + name)
        self.b.pump(0.1)


def nonblank(b, canvas):
    return b.eval("""(() => { const c = document.getElementById(%s); const g = c.getContext('2d');
        const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()""" % json.dumps(canvas))


def run_small(t, srv, src):
    b = t.b
    small = json.load(open(os.path.join(src, "examples/reports/small.json")))
    srv.report = os.path.join(src, "examples/reports/small.json")
    t.open(srv.url + "/")  # the agent's page: / fetches /report
    tot = t.texts("#totals div")
    t.check("summary totals", tot == ["4namespaces", "8workloads", "11flows", "3alerts", "1open alerts", "5proposed policies"], tot)
    lines = t.texts("#safety .ns .line")
    t.check("shop: not safe (safe-to-enforce line)",
            "shop: not safe to enforce yet — 1 open alert, 12h 0m of preview left, 0 flows not yet covered" in lines, lines)
    t.check("payments: safe to enforce",
            "payments: safe to enforce — 0 open alerts, preview window over, 0 flows not yet covered" in lines, lines)
    t.check("kube-system enforced", any(x.startswith("kube-system: enforced") for x in lines), lines)
    t.check("legacy still learning", any(x.startswith("legacy: not ready: still learning, 22h 0m of learning left") for x in lines), lines)
    cmds = t.texts("#safety code.cmd")
    t.check("exact enforce commands", cmds == ["bulkhead enforce --namespace legacy", "bulkhead enforce --namespace payments",
                                               "bulkhead enforce --namespace shop"], cmds)
    t.check("meta line", t.text("#meta") == "cluster demo · node node-1 · agent 0.1.0 · report of 2026-12-04 06:00:00 UTC", t.text("#meta"))
    t.shot("summary-small")

    t.view("alerts")
    t.check("alert count", t.text("#alertCount") == "3 alerts of 3", t.text("#alertCount"))
    b.set_value("#alertState", "open", "change")
    rows = b.eval("[...document.querySelectorAll('#alertTable tr[data-id]')].map((r) => [...r.cells].map((c) => c.textContent))")
    t.check("filtered to open alerts: one row", len(rows) == 1, rows)
    want = ["open", "shop/frontend (frontend-7d9f8-abcde)", "shop/db (db-0)", "5432/TCP", "shop/db (ingress)",
            small["alerts"][0]["explanation"], "3", "2026-12-04 04:00:00 UTC", "2026-12-04 05:50:00 UTC", small["alerts"][0]["id"]]
    t.check("the open alert's row", rows and rows[0] == want, rows and rows[0])
    b.set_value("#alertState", "", "change")
    b.set_value("#alertPort", "8080")
    rows = b.eval("[...document.querySelectorAll('#alertTable tr[data-id]')].map((r) => r.cells[0].textContent + ' ' + r.cells[1].textContent)")
    t.check("port filter 8080", rows == ["allowed shop/cache (cache-6f7a8-uvwxy)"], rows)
    b.set_value("#alertPort", "")
    b.set_value("#alertSearch", "LEDGER")
    t.check("text filter (case-insensitive)", t.text("#alertCount") == "1 alert of 3", t.text("#alertCount"))
    b.set_value("#alertSearch", "")
    b.click('#alertTable th[data-key="count"]')
    counts = b.eval("[...document.querySelectorAll('#alertTable tr[data-id]')].map((r) => r.cells[6].textContent)")
    t.check("sorted by count, descending", counts == ["12", "3", "1"], counts)
    b.click('#alertTable th[data-key="count"]')
    counts = b.eval("[...document.querySelectorAll('#alertTable tr[data-id]')].map((r) => r.cells[6].textContent)")
    t.check("sorted by count, ascending", counts == ["1", "3", "12"], counts)
    t.shot("alerts-small")

    t.view("proposals")
    b.click('#propList li[data-policy="shop/api"]')
    pol = [p for p in small["proposals"] if p["name"] == "api"][0]
    t.check("shop/api YAML shown as written", t.text("#propDetail pre.yaml") == pol["yaml"], t.text("#propDetail pre.yaml"))
    rules = b.eval("[...document.querySelectorAll('#propDetail .rule')].map((r) => [r.firstChild.textContent + r.childNodes[1].textContent, r.querySelectorAll('tr').length - 1, r.querySelector('tr:nth-child(2) td').textContent])")
    t.check("rules with their justifying flows", rules == [
        ["ingress rule 0: from shop pods app=frontend on 8080/TCP — justified by 1 flow", 1, "shop/frontend"],
        ["ingress rule 1: from shop pods app=cache on 8080/TCP — justified by 1 flow", 1, "shop/cache"]], rules)
    t.shot("proposals-small")

    t.view("map")
    info = t.text("#mapInfo")
    t.check("map: 8 workloads + 2 outside the cluster", info == "10 nodes, 11 edges (11 flows)", info)
    t.check("map drawn", nonblank(b, "mapCanvas") > 10000)
    t.shot("map-small")
    b.set_value("#mapSearch", "app=db")
    t.check("map search", t.text("#mapInfo") == "1 match for the search", t.text("#mapInfo"))
    b.set_value("#mapSearch", "")
    # click the db node: its position on screen, from the layout
    xy = b.eval("""(() => { const r = document.getElementById('mapCanvas').getBoundingClientRect();
        const n = IX.map.nodes.find((n) => n.id === 'shop/StatefulSet/db');
        return [r.left + view.x + n.x * view.s, r.top + view.y + n.y * view.s]; })()""")
    b.mouse("mouseMoved", *xy)
    b.wait("!document.getElementById('mapTip').hidden", what="the tooltip")
    tip = t.text("#mapTip")
    t.check("tooltip names the workload", tip == "shop/StatefulSet/db\nalerted in preview · 2 inbound flows, 0 outbound flows", tip)
    b.mouse("mousePressed", *xy)
    b.mouse("mouseReleased", *xy)
    b.wait("document.body.dataset.view === 'workload'", what="the workload page after a click on the map")
    t.check("clicking a node opens its page", t.text("#wlDetail h2") == "StatefulSet shop/db", t.text("#wlDetail h2"))
    t.check("its pods", t.texts("#wlDetail table:first-of-type td") [:3] == ["db-0", "10.244.1.30", "node-1"])
    t.check("its labels", t.texts("#wlDetail .labels span") == ["app=db", "tier=data"], t.texts("#wlDetail .labels span"))
    t.check("policies selecting it", t.texts("#wlDetail ul li")[0].startswith("proposed: shop/db"), t.texts("#wlDetail ul li"))
    h3 = t.texts("#wlDetail h3")
    t.check("inbound/outbound counts", "Inbound flows (2)" in h3 and "Outbound flows (0)" in h3, h3)
    t.shot("workload-small")
    # zoom and wheel keep it drawing; the namespace filter narrows it
    t.view("map")
    s0 = b.eval("view.s")
    b.click("#zoomIn")
    b.call("Input.dispatchMouseEvent", type="mouseWheel", x=xy[0], y=xy[1], deltaX=0, deltaY=-300)
    b.pump(0.2)
    t.check("zoom (button and wheel)", b.eval("view.s") > s0 * 1.5 * 1.4, (s0, b.eval("view.s")))
    b.set_value("#nsFilter", "payments", "change")
    t.check("namespace filter on the map", t.text("#mapInfo") == "3 nodes, 2 edges (11 flows) in payments", t.text("#mapInfo"))
    t.view("summary")
    t.check("namespace filter on the summary", len(t.texts("#safety .ns")) == 1)
    b.set_value("#nsFilter", "", "change")
    t.view("preview")
    rows = b.eval("[...document.querySelectorAll('#windows tr[data-ns]')].map((r) => [...r.cells].map((c) => c.textContent).join(' | '))")
    t.check("preview windows", "shop | preview | 2026-12-03 06:00:00 UTC to 2026-12-03 18:00:00 UTC | 2026-12-03 18:00:00 UTC | "
            "2026-12-04 18:00:00 UTC | 12h 0m | 1 | 2" in rows, rows)
    t.check("timeline drawn", nonblank(b, "timeline") > 2000)
    t.shot("preview-small")
    t.clean_console("small report")


def run_hostile(t, srv, src):
    b = t.b
    h = json.load(open(os.path.join(src, "examples/reports/hostile-labels.json")))
    t.open(srv.url + "/?report=/reports/hostile-labels.json")
    fe = [w for w in h["workloads"] if w["name"].startswith("frontend")][0]
    for v in ("summary", "map", "preview", "alerts", "proposals"):
        t.view(v)
    b.click('#propList li[data-policy="shop/frontend"]')
    t.check("hostile YAML shown as text", t.text("#propDetail pre.yaml") == [p for p in h["proposals"] if p["name"] == "frontend"][0]["yaml"])
    t.view("alerts")
    t.check("hostile explanation shown as text", h["alerts"][0]["explanation"] in t.texts("#alertTable td"))
    b.navigate(srv.url + "/?report=/reports/hostile-labels.json#workload/" + fe["id"].replace("<", "%3C").replace(">", "%3E"))
    try:
        b.wait("document.body.dataset.state === 'ready' && !!document.querySelector('#wlDetail h2')", what="the hostile workload page")
    except cdp.CDPError:
        print(b.console, b.eval("location.href"), b.eval("document.body.dataset.view"))
        raise
    labels = t.texts("#wlDetail .labels span")
    want = sorted("%s=%s" % (k, v) for k, v in fe["labels"].items())
    t.check("hostile labels shown literally", labels == ["%s=%s" % (k, fe["labels"][k]) for k in sorted(fe["labels"])], (labels, want))
    t.check("hostile name shown literally", t.text("#wlDetail h2") == "Deployment shop/" + fe["name"], t.text("#wlDetail h2"))
    t.shot("workload-hostile")
    inj = b.eval("""({pwned: window.__pwned === undefined ? null : window.__pwned,
        img: document.querySelectorAll('img').length,
        script: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
        b: [...document.querySelectorAll('b, i')].filter((e) => e.textContent.startsWith('bold')).length,
        onattr: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length})""")
    t.check("hostile labels inject nothing", inj == {"pwned": None, "img": 0, "script": ["app.js"], "b": 0, "onattr": 0}, inj)
    t.clean_console("hostile report")


def run_bad(t, srv, src):
    b = t.b
    t.open(srv.url + "/?report=/reports/empty.json")
    t.check("empty: message", "This report is empty" in (t.text("#msg") or ""), t.text("#msg"))
    t.check("empty: zero totals", t.texts("#totals b") == ["0"] * 6, t.texts("#totals b"))
    t.check("empty: no namespaces line", t.text("#safety") == "No namespaces in this report yet.", t.text("#safety"))
    t.view("alerts")
    t.check("empty: no alerts", "No alerts" in t.text("#alertTable"), t.text("#alertTable"))
    t.view("map")
    t.view("preview")
    t.view("workload")
    t.check("empty: no workloads", t.text("#wlDetail") == "No workloads in this report yet.", t.text("#wlDetail"))
    t.shot("empty")
    t.clean_console("empty report")
    for name, needle in (("newer-version.json", "has schema version 2; this dashboard reads schema version 1"),
                         ("old-version.json", "has an old format (version 0, no schemaVersion)"),
                         ("malformed.json", "is not valid JSON"),
                         ("nope.json", "Could not load the report from /reports/nope.json: HTTP 404")):
        t.open(srv.url + "/?report=/reports/" + name, state="error")
        msg = t.text("#msg") or ""
        t.check(name + ": clear message", needle in msg and b.eval("document.getElementById('msg').className") == "error", msg)
        t.check(name + ": no view shown", b.eval("[...document.querySelectorAll('.view')].every((v) => v.hidden)"))
        t.shot("error-" + name.split(".")[0])
    srv.report = os.path.join(src, "tests/browser/data/malformed.json")
    t.open(srv.url + "/", state="error")


def run_file(t, src):
    b = t.b
    t.open("file://" + os.path.join(src, "agent/dashboard/index.html"), state="empty")
    t.check("file: asks for a report", (t.text("#msg") or "").startswith("Choose a report"), t.text("#msg"))
    b.set_file("#file", os.path.join(src, "examples/reports/small.json"))
    b.wait("document.body.dataset.state === 'ready'", what="the chosen file to load")
    t.check("file: report from disk shown", len(t.texts("#safety .ns")) == 4)
    t.clean_console("file report")


def run_large(t, srv, large):
    b = t.b
    r = json.load(open(large))
    t.open(srv.url + "/?report=/reports/large.json")
    ms = b.eval("window.__bhReadyMs")
    print("large report interactive after %.0f ms %s" % (ms, b.eval("JSON.stringify(window.__bhTimes)")))
    t.check("large: totals", t.texts("#totals b")[1:4] == ["2,000", "50,000", "5,000"], t.texts("#totals b"))
    t.shot("summary-large")
    t0 = time.monotonic()
    t.view("map")
    b.wait("IX.map && document.getElementById('mapInfo').textContent.length", what="the map")
    t.check("large: map drawn", nonblank(b, "mapCanvas") > 10000)
    print("map view in %.0f ms" % ((time.monotonic() - t0) * 1000))
    t.shot("map-large")
    t.view("alerts")
    b.set_value("#alertState", "open", "change")
    n_open = sum(a["state"] == "open" for a in r["alerts"])
    t.check("large: open alerts counted", t.text("#alertCount").startswith("%s alerts of 5,000" % format(n_open, ",")), t.text("#alertCount"))
    t.check("large: long list capped", len(t.texts("#alertTable tr[data-id]")) == 300)
    t.view("proposals")
    t.view("preview")
    t.shot("preview-large")
    t.clean_console("large report")
    return ms


def bench(srv, art, n):
    b = cdp.Browser()
    try:
        ready, maps, pans = [], [], []
        for i in range(n):
            b.navigate(srv.url + "/?report=/reports/large.json")
            b.wait("document.body.dataset.state === 'ready'", timeout=120)
            ready.append(b.eval("window.__bhReadyMs"))
            # the map: layout and its first frame painted, from the click
            maps.append(b.eval("""new Promise((res) => { const t0 = performance.now();
                document.querySelector('#tabs a[data-view=map]').click();
                setTimeout(() => requestAnimationFrame(() => setTimeout(() => res(performance.now() - t0), 0)), 0); })"""))
            # panning: 20 frames, each moved and painted
            pans.append(b.eval("""new Promise((res) => { const t0 = performance.now(); let k = 0;
                const step = () => { view.x += 7; drawMap(); requestAnimationFrame(() => setTimeout(() => {
                    if (++k < 20) step(); else res((performance.now() - t0) / 20); }, 0)); }; step(); })"""))
            print("  load %d: interactive at %.0f ms, map %.0f ms, a pan frame %.0f ms" % (i + 1, ready[-1], maps[-1], pans[-1]))
        print("large report (2,000 workloads, 50,000 flows, 5,000 alerts, %.1f MB), %d loads, load average %.1f:" % (
            os.path.getsize(os.path.join(srv.reports, "large.json")) / 1e6, n, os.getloadavg()[0]))
        print("  navigation to interactive summary: median %.0f ms (min %.0f, max %.0f)" % (
            statistics.median(ready), min(ready), max(ready)))
        print("  map view (layout + first frame): median %.0f ms; a frame while panning: median %.0f ms" % (
            statistics.median(maps), statistics.median(pans)))
        target = 3000
        ok = statistics.median(ready) < target
        print("  target under %d ms: %s" % (target, "met" if ok else "NOT MET"))
        return 0 if ok else 1
    finally:
        b.close()


def run_agent(t, src, build):
    """The page and the report from `bulkhead agent --snapshot --no-enforce`
    on the shop snapshot, its state directory filled as if it had learned
    tests/data/agent/report-flows.json (tests/tools/report_db_fill), stopped
    by its pid."""
    import socket
    import tempfile
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "state"))
        subprocess.run([os.path.join(build, "tests", "tools", "report_db_fill"), os.path.join(tmp, "state"),
                        os.path.join(src, "tests/data/agent/report-flows.json")],
                       check=True, stdout=subprocess.DEVNULL)
        p = subprocess.Popen([os.path.join(build, "agent", "bulkhead"), "agent", "--node", "node-1",
                              "--snapshot", os.path.join(src, "tests/data/snapshot/shop.yaml"), "--no-enforce",
                              "--state-dir", os.path.join(tmp, "state"),
                              "--socket", os.path.join(tmp, "agent.sock"),
                              "--listen", "127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
        try:
            url = "http://127.0.0.1:%d/" % port
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # The page loads the agent's own /report, under its policy.
            t.open(url, state="ready")
            msg = t.text("#msg") or ""
            t.check("agent: no error message", "HTTP 404" not in msg and "Could not load" not in msg, msg)
            meta = t.text("#meta") or ""
            t.check("agent: the page shows the node name", " node node-1 · agent 0.1.0 · " in meta, meta)
            tot = t.texts("#totals div")
            t.check("agent: summary totals from the agent's report",
                    tot[:3] == ["3namespaces", "8workloads", "5flows"], tot)
            cmds = t.texts("#safety code.cmd")
            t.check("agent: an enforce command per namespace", "bulkhead enforce --namespace shop" in cmds, cmds)
            t.shot("agent")
            t.clean_console("page served by the agent")
            # Under the agent's policy an injected inline script does not run.
            t.b.eval("(() => { const s = document.createElement('script');"
                     " s.textContent = 'window.injected = 1'; document.body.appendChild(s); })()")
            t.b.pump(0.2)
            t.check("agent: an inline script is refused (CSP)",
                    t.b.eval("typeof window.injected") == "undefined", t.b.eval("typeof window.injected"))
        finally:
            p.terminate()
            p.wait(timeout=10)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    src, build = sys.argv[1], sys.argv[2]
    if not cdp.find_chromium():
        print("no chromium: skipped (scripts/install-deps.sh installs it)")
        return 77
    art = os.path.join(build, "tests", "browser-artifacts")
    os.makedirs(art, exist_ok=True)
    reports = os.path.join(build, "reports")
    os.makedirs(reports, exist_ok=True)
    large = os.path.join(reports, "large.json")
    subprocess.run([sys.executable, os.path.join(src, "scripts/gen-report.py"), "large", "--if-stale", "-o", large], check=True)
    srv = Server(os.path.join(src, "agent/dashboard"),
                 [os.path.join(src, "examples/reports"), os.path.join(src, "tests/browser/data"), reports])
    try:
        if "--readme-shot" in sys.argv:  # docs/dashboard.png
            b = cdp.Browser(width=1100, height=640)
            try:
                srv.report = os.path.join(src, "examples/reports/small.json")
                b.navigate(srv.url + "/")
                b.wait("document.body.dataset.state === 'ready'")
                b.pump(0.3)
                b.screenshot(sys.argv[sys.argv.index("--readme-shot") + 1])
            finally:
                b.close()
            return 0
        if "--bench" in sys.argv:
            return bench(srv, art, int(sys.argv[sys.argv.index("--bench") + 1]))
        b = cdp.Browser()
        t = T(b, art)
        try:
            run_small(t, srv, src)
            run_hostile(t, srv, src)
            run_bad(t, srv, src)
            run_file(t, src)
            run_large(t, srv, large)
            run_agent(t, src, build)
        finally:
            b.close()
        print("%d checks, %d failed; screenshots in %s" % (t.n, t.fails, art))
        return 1 if t.fails else 0
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
