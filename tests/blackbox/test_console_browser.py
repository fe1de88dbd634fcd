"""The console in a real browser (issue 19): tests/browser/console.spec.mjs
drives Debian's Chromium headless through playwright-core against a real
`silo serve`, a local video host and the test OpenID provider
(tests/browser/oidc_idp.mjs). The microphone is Chromium's fake capture
device playing a speech clip from pocketsphinx-testdata (with silence
around it), so the recording it makes gets a real transcript. Every
section is used end to end at desktop size, the sign-in ways are tried
(the one-time link `silo serve` printed, twice; OpenID Connect; a pasted
API key and token), the admin section as an admin and as a plain user,
and each section is looked at on a phone-sized screen. Screenshots land
in test-artifacts/console/ at the top of the repository."""
import os
import shutil
import subprocess
import tempfile
import wave

import pytest
import requests

from conftest import ROOT
from console_support import IdP, closed_port, node_available
from video_host import VideoHost, make_videos

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCRIPT = os.path.join(ROOT, "tests", "browser", "console.spec.mjs")
PLAYWRIGHT = os.path.join(ROOT, "tests", "node_modules", "playwright-core")
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "console")
CLIP = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
UPLOAD_LIMIT = 2 * 1024 * 1024


def speech_wav(path):
    """CLIP ("he was not an ill disposed young man") with 0.5 s of silence
    before and 1 s after, as 16-bit PCM: what the fake microphone plays, in
    a loop."""
    with wave.open(CLIP) as w:
        params = w.getparams()
        frames = w.readframes(w.getnframes())
    silence = lambda seconds: b"\0" * (int(params.framerate * seconds) * params.sampwidth * params.nchannels)
    with wave.open(path, "wb") as out:
        out.setnchannels(params.nchannels)
        out.setsampwidth(params.sampwidth)
        out.setframerate(params.framerate)
        out.writeframes(silence(0.5) + frames + silence(1.0))


@pytest.mark.skipif(not os.path.exists(CHROMIUM) or not node_available() or not os.path.isdir(PLAYWRIGHT)
                    or not os.path.exists(CLIP),
                    reason="needs Debian's chromium, node, tests/node_modules/playwright-core and "
                           "pocketsphinx-testdata (scripts/deps.sh test installs them)")
def test_console_in_chromium(silo_factory):
    with tempfile.TemporaryDirectory(prefix="silo-console-") as d, IdP() as idp:
        host = VideoHost(make_videos(d))
        try:
            silo = silo_factory(extra_args=[
                "--outbound-allow", "127.0.0.1/32", "--max-upload-size", str(UPLOAD_LIMIT),
                "--oidc-issuer", idp.issuer, "--oidc-client-id", idp.client_id, "--oidc-name", "Test IdP"])
            if os.environ.get("SILO_TEST_DB"):  # serve prints the link on the SQLite default only
                login = silo.cli("login-link", "--sub", "dev", "--email", "dev@example.com", "--role", "admin",
                                 "--public-url", silo.api_url).stdout.strip()
            else:
                line = silo.proc.stdout.readline().decode().strip()
                assert line.startswith("login: "), line
                login = line.split(" ", 1)[1]
            deliver = silo.cli("presign", "--method", "PUT", "--expires", "600", "--s3-public-url", silo.s3_url,
                               "s3://media/deliveries/console.srt").stdout.strip()
            fake_audio = os.path.join(d, "speech.wav")
            speech_wav(fake_audio)
            shutil.rmtree(ARTIFACTS, ignore_errors=True)
            env = dict(os.environ, SILO_API=silo.api_url, LOGIN_URL=login,
                       USER_TOKEN=silo.token("gina", email="gina@example.com"), CLIP=CLIP, FAKE_AUDIO=fake_audio,
                       VIDEO_URL=host.url("/v/clip.mp4"), DELIVER_URL=deliver,
                       BAD_DELIVER_URL=f"http://127.0.0.1:{closed_port()}/out.txt?X-Amz-Signature=0",
                       UPLOAD_LIMIT=str(UPLOAD_LIMIT), ARTIFACTS_DIR=ARTIFACTS, CHROMIUM=CHROMIUM)
            run = subprocess.run(["node", SCRIPT], cwd=os.path.dirname(SCRIPT), env=env, capture_output=True,
                                 text=True, timeout=300)
            print(run.stdout)
            assert run.returncode == 0, run.stdout + run.stderr
            assert "step" in run.stdout and "done" in run.stdout
            # What the browser did, seen from outside it.
            stats = idp.stats()
            assert stats["tokens"] == 1 and stats["refused"] == 0, stats  # one code flow, PKCE verified
            delivered = requests.get(silo.cli("presign", "--s3-public-url", silo.s3_url,
                                              "s3://media/deliveries/console.srt").stdout.strip())
            assert delivered.status_code == 200 and "-->" in delivered.text, delivered.text
        finally:
            host.close()
    for shot in ("01-sign-in.png", "02-link-used.png", "03-files-upload.png", "04-file-details.png",
                 "05-files.png", "06-recordings.png", "07-settings.png", "08-transcribe.png", "09-videos.png",
                 "10-admin.png", "11-oidc-user.png", "phone-files.png", "phone-recordings.png",
                 "phone-settings.png", "phone-transcribe.png", "phone-videos.png"):
        assert os.path.getsize(os.path.join(ARTIFACTS, shot)) > 1000, shot
