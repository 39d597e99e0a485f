"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe.

Python standard library only.  Starts headless Chromium (Debian's
/usr/bin/chromium) with the pipe on fds 3 (commands in) and 4 (replies
and events out), messages NUL-terminated JSON, attaches to its page and
offers what the browser tests need: navigate, evaluate, wait for a
condition, click, mouse events, file inputs, screenshots, and the console
and CSP messages the page produced.  close() stops the browser it
started, by its pid (and that pid's process group, for its helpers).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, width=1400, height=900, binary=None):
        binary = binary or find_chromium()
        if not binary:
            raise CDPError("no chromium found (scripts/install-deps.sh installs it)")
        self.profile = tempfile.mkdtemp(prefix="bh-chromium-")
        to_r, self.to_w = os.pipe()      # we write commands, chromium reads fd 3
        self.from_r, from_w = os.pipe()  # chromium writes fd 4, we read

        def child():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)
        args = [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox",
                "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--mute-audio", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.profile, "stderr.log"), "wb"),
                                     start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.console = []
        self.session = None
        self.width, self.height = width, height
        targets = self.call("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"]
        if page:
            tid = page[0]["targetId"]
        else:
            tid = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=tid, flatten=True)["sessionId"]
        for dom in ("Page", "Runtime", "Log", "DOM"):
            self.call(dom + ".enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    # --- the pipe ---
    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self.to_w, data)
            data = data[n:]

    def _recv(self, timeout):
        import select
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise CDPError("no message from chromium in %.0f s" % timeout)
            r, _, _ = select.select([self.from_r], [], [], left)
            if r:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    raise CDPError("chromium closed the pipe (exit %s)" % self.proc.poll())
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def _event(self, m):
        meth = m.get("method", "")
        p = m.get("params", {})
        if meth == "Runtime.consoleAPICalled":
            self.console.append("console.%s: %s" % (p.get("type"), " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif meth == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.console.append("exception: %s %s" % (d.get("text", ""),
                                                      d.get("exception", {}).get("description", "")))
        elif meth == "Log.entryAdded":
            e = p.get("entry", {})
            self.console.append("log.%s.%s: %s" % (e.get("source"), e.get("level"), e.get("text")))
        self.events.append(m)
        del self.events[:-200]

    def call(self, method, timeout=60, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        self._send(msg)
        while True:
            m = self._recv(timeout)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self._event(m)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self._event(self._recv(max(0.01, end - time.monotonic())))
            except CDPError as e:
                if "no message" in str(e):
                    return
                raise

    # --- page helpers ---
    def navigate(self, url):
        self.console.clear()
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))

    def eval(self, expr, timeout=60):
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("evaluate %r: %s" % (expr[:80], d.get("exception", {}).get("description", d.get("text"))))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=30, what=None):
        end = time.monotonic() + timeout
        while True:
            try:
                v = self.eval(expr)
            except CDPError:
                v = None
            if v:
                return v
            if time.monotonic() > end:
                raise CDPError("timed out after %d s waiting for %s" % (timeout, what or expr))
            self.pump(0.05)

    def click(self, selector):
        ok = self.eval("(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true; })()"
                       % json.dumps(selector))
        if not ok:
            raise CDPError("no element %s to click" % selector)

    def mouse(self, kind, x, y, button="left"):
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button,
                  clickCount=1 if kind in ("mousePressed", "mouseReleased") else 0)

    def set_value(self, selector, value, event="input"):
        ok = self.eval("(() => { const e = document.querySelector(%s); if (!e) return false; e.value = %s; "
                       "e.dispatchEvent(new Event(%s, {bubbles: true})); return true; })()"
                       % (json.dumps(selector), json.dumps(value), json.dumps(event)))
        if not ok:
            raise CDPError("no element %s" % selector)

    def set_file(self, selector, path):
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", files=[path], nodeId=node)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self._send({"id": 0, "method": "Browser.close"})
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:  # helpers (zygote, renderers) left in the browser's group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for fd in (self.to_w, self.from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
