"""The /gallery page in a real browser (issue 9): tests/browser/gallery.spec.mjs
drives Debian's Chromium headless through playwright-core against a silo
and a local video host: sign in with a token, import a video from a URL,
play it and seek, delete it after confirming, and the phone-sized layout.
Screenshots land in test-artifacts/gallery/ at the top of the repository."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT
from video_host import VideoHost, make_videos

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCRIPT = os.path.join(ROOT, "tests", "browser", "gallery.spec.mjs")
PLAYWRIGHT = os.path.join(ROOT, "tests", "node_modules", "playwright-core")
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "gallery")


@pytest.mark.skipif(not os.path.exists(CHROMIUM) or not shutil.which("node") or not os.path.isdir(PLAYWRIGHT),
                    reason="needs Debian's chromium, node and tests/node_modules/playwright-core "
                           "(scripts/deps.sh test installs them)")
def test_gallery_in_chromium(silo_factory):
    with tempfile.TemporaryDirectory(prefix="silo-videos-") as d:
        host = VideoHost(make_videos(d))
        try:
            host.types["clip.webm"] = "video/webm"
            host.files["phone.mp4"] = host.files["clip.mp4"]
            silo = silo_factory(extra_args=["--outbound-allow", "127.0.0.1/32"])
            shutil.rmtree(ARTIFACTS, ignore_errors=True)
            env = dict(os.environ, SILO_API=silo.api_url, SILO_TOKEN=silo.token("gina", email="gina@example.com"),
                       SILO_EMAIL="gina@example.com", VIDEO_URL=host.url("/v/clip.webm"),
                       VIDEO_URL_2=host.url("/v/phone.mp4"), ARTIFACTS_DIR=ARTIFACTS, CHROMIUM=CHROMIUM)
            run = subprocess.run(["node", SCRIPT], cwd=os.path.dirname(SCRIPT), env=env, capture_output=True,
                                 text=True, timeout=180)
        finally:
            host.close()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "step" in run.stdout and "done" in run.stdout
    for shot in ("01-sign-in.png", "03-gallery.png", "04-player.png", "05-confirm-delete.png", "06-phone.png"):
        assert os.path.getsize(os.path.join(ARTIFACTS, shot)) > 1000, shot
