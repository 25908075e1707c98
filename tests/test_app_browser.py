"""``reenactor app`` end to end in a real browser: Debian's chromium, headless, driven by Playwright for Python.

The browser is the system's (``apt-get install chromium``, done by ``make install``), never a downloaded
build: these tests FAIL (not skip) when chromium or Playwright is missing. The app runs as its own process with
an audit hook that records every connection or name lookup outside this machine; the tests assert there was
none (and that the page fetched nothing from another host).

With ``REENACTOR_APP_SCREENSHOTS=DIR`` the first test also saves the screenshots of docs/app.md there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HOOK = r"""
import sys, ipaddress
LOG = sys.argv.pop(1)
def _outside(host):
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host not in ("localhost", "")
def hook(event, args):
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and addr and _outside(str(addr[0])):
            open(LOG, "a").write(f"connect {addr}\n")
    elif event == "socket.getaddrinfo":
        if args and args[0] and _outside(str(args[0].decode() if isinstance(args[0], bytes) else args[0])):
            open(LOG, "a").write(f"lookup {args[0]}\n")
sys.addaudithook(hook)
from reenactor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def chromium_path() -> str:
    for p in (
        "/usr/lib/chromium/chromium",
        shutil.which("chromium") or "",
        shutil.which("chromium-browser") or "",
    ):
        if p and os.access(p, os.X_OK):
            return p
    pytest.fail("Debian's chromium is not installed (make install runs `apt-get install -y chromium`)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("appwork")
    net_log = work.parent / "net.log"
    port = _free_port()
    env = {**os.environ, "GLOG_minloglevel": "2"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOOK, str(net_log), "app", "--workdir", str(work / "wd"), "--port", str(port)],
        stdout=open(work.parent / "app.log", "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the app stopped:\n" + (work.parent / "app.log").read_text())
            time.sleep(0.1)
    else:
        pytest.fail("the app did not serve its page within 60 s")
    print(f"app served its first page after {time.perf_counter() - t0:.1f} s")
    yield url, net_log
    proc.terminate()
    proc.wait(20)
    assert not net_log.exists(), "the app reached outside this machine:\n" + net_log.read_text()


@pytest.fixture
def page():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('Playwright is not installed (pip install "reenactor[app]")')
    exe = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.outside = []
        pg.on(
            "request",
            lambda r: (
                pg.outside.append(r.url)
                if not r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else None
            ),
        )
        yield pg
        browser.close()
    assert not pg.outside, f"the page fetched from other hosts: {pg.outside[:5]}"


def _driving_clip(path: Path, n: int = 20) -> float:
    from reenactor.io.video import iter_frames, probe, write_video
    from reenactor.samples import sample_path

    src = sample_path("carphone")
    fps = probe(src).fps
    write_video(path, iter_frames(src, 0, n), fps)
    return fps


def _shot(page, name: str) -> None:
    folder = os.environ.get("REENACTOR_APP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"app_{name}.png"), full_page=True)


def test_pose_warp_in_the_browser(app_url, page, tmp_path):
    from reenactor.samples import sample_path

    url, _ = app_url
    clip = tmp_path / "drive20.mp4"
    fps = _driving_clip(clip, 20)
    page.goto(url)
    page.get_by_role("tab", name="Targets").wait_for()
    _shot(page, "targets")
    page.get_by_role("tab", name="Drive").click()
    page.set_input_files("#drive-photo-upload input[type=file]", str(sample_path("astronaut")))
    page.locator("#drive-status", has_text="astronaut.png").wait_for(timeout=30_000)
    page.set_input_files("#drive-upload input[type=file]", str(clip))
    page.locator("#drive-status", has_text="drive20.mp4").wait_for(timeout=30_000)
    page.click("#drive-run")
    page.locator("#drive-status", has_text="transfer job").wait_for(timeout=30_000)
    seen = []
    end = time.monotonic() + 300
    while time.monotonic() < end:
        bar = page.locator("progress#drive-progress")
        if bar.count():
            state = (bar.get_attribute("data-status"), bar.get_attribute("value"), bar.get_attribute("max"))
            if not seen or seen[-1] != state:
                seen.append(state)
            if state[0] in ("done", "failed", "died", "cancelled"):
                break
        time.sleep(0.2)
    assert seen and seen[-1][0] == "done", f"progress states: {seen}\n{page.inner_text('#drive-status')}"
    running = [s for s in seen if s[0] in ("starting", "running")]
    assert running, f"never saw the job running: {seen}"
    assert len(seen) >= 3, f"the progress did not move: {seen}"
    page.locator("#drive-notes", has_text="Normalization that ran").wait_for(timeout=30_000)
    video = page.locator("#drive-result video")
    video.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('#drive-result video');"
        " if (v && v.readyState < 3) { v.muted = true; v.play().catch(() => {}); }"
        " return v && v.readyState >= 3; }",
        timeout=30_000,
    )
    duration = video.evaluate("v => v.duration")
    assert abs(duration - 20 / fps) < 1.5 / fps, (duration, 20 / fps)
    page.evaluate(
        "() => { const v = document.querySelector('#drive-result video'); v.pause(); v.currentTime = 0.3; }"
    )
    time.sleep(1)
    _shot(page, "drive")
    page.get_by_role("tab", name="Results").click()
    if os.environ.get("REENACTOR_APP_SCREENSHOTS"):
        page.get_by_role("button", name="refresh lists").click()
        time.sleep(2)
        page.click("#results-run input")
        page.get_by_role("option").first.click()
        page.locator("#results-run").page.wait_for_timeout(3000)
    _shot(page, "results")


def test_text_named_mp4_is_refused_in_the_page(app_url, page, tmp_path):
    url, _ = app_url
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is not a video\n" * 50)
    page.goto(url)
    page.get_by_role("tab", name="Drive").click()
    page.set_input_files("#drive-upload input[type=file]", str(fake))
    err = page.locator("#drive-status .rx-error")
    err.wait_for(timeout=30_000)
    text = err.inner_text()
    assert "holiday.mp4" in text and "not a video or image file" in text, text
    assert "fix:" in text
