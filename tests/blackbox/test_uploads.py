"""Seed 003's direct browser uploads (issue 6): a presigned POST form or PUT
URL for one key under the caller's prefix, posted exactly as a browser
would, then /api/upload/complete, listing, a download URL and the bytes."""
import base64
import json

import pytest
import requests

from test_files import ELF, WAV, auth, catalog_keys


@pytest.fixture(scope="module")
def env(silo_module):
    return silo_module, silo_module.token("dana"), silo_module.token("eve")


def ask(silo, token, **body):
    return requests.post(silo.url("/api/upload/presigned-url"), headers=auth(token), json=body)


def test_presigned_post_form_pins_key_type_size_and_expiry(env):
    silo, dana, _ = env
    r = ask(silo, dana, filename="take 1.WAV", contentType="audio/wav")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"url", "fields", "key"}
    assert body["url"] == silo.s3_url + "/media"
    key = body["key"]
    assert key.startswith("uploads/dana/") and key.endswith(".wav")
    fields = body["fields"]
    assert fields["key"] == key and fields["Content-Type"] == "audio/wav"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "audio/wav"} in conditions
    assert any(isinstance(c, list) and c[0] == "content-length-range" and c[1] == 1 for c in conditions)
    assert {"bucket": "media"} in conditions
    assert body["expiresIn"] == 900


def test_validation_names_the_field(env):
    silo, dana, _ = env
    cases = [({}, "filename"), ({"filename": ""}, "filename"), ({"filename": 5, "contentType": "audio/wav"}, "filename"),
             ({"filename": "a.wav"}, "contentType"), ({"filename": "a.wav", "contentType": "nonsense"}, "contentType"),
             ({"filename": "a.exe", "contentType": "application/x-dosexec"}, "contentType"),
             ({"filename": "a.wav", "contentType": "audio/wav", "method": "PATCH"}, "method"),
             ({"filename": "a.wav", "contentType": "audio/wav", "size": -1}, "size")]
    for body, field in cases:
        r = ask(silo, dana, **body)
        assert r.status_code == 400, body
        assert r.json()["field"] == field, (body, r.json())
    r = requests.post(silo.url("/api/upload/presigned-url"), headers=auth(dana), data="not json")
    assert r.status_code == 400
    assert requests.post(silo.url("/api/upload/presigned-url"), json={"filename": "a"}).status_code == 401


def post_form(body, data, filename="blob.wav", ctype="audio/wav"):
    """Posts the form as a browser does: fields first, the file last."""
    files = [(k, (None, v)) for k, v in body["fields"].items()] + [("file", (filename, data, ctype))]
    return requests.post(body["url"], files=files)


def test_browser_post_flow_end_to_end(env):
    silo, dana, _ = env
    body = ask(silo, dana, filename="note.wav", contentType="audio/wav").json()
    r = post_form(body, WAV)
    assert r.status_code in (200, 201, 204), r.text
    # Indexed on arrival: listed before any /complete call.
    listed = requests.get(silo.url("/api/v1/s3/files"), headers=auth(dana)).json()["files"]
    assert body["key"] in [f["key"] for f in listed]
    done = requests.post(silo.url("/api/upload/complete"), headers=auth(dana), json={"key": body["key"]})
    assert done.status_code == 200, done.text
    assert done.json()["size"] == len(WAV)
    listed = requests.get(silo.url("/api/v1/s3/files"), headers=auth(dana)).json()["files"]
    assert body["key"] in [f["key"] for f in listed]
    url = requests.get(silo.url(f"/api/v1/s3/file/{body['key']}/url"), headers=auth(dana)).json()["url"]
    assert requests.get(url).content == WAV


def test_browser_post_outside_the_grant_is_refused(env):
    silo, dana, _ = env
    body = ask(silo, dana, filename="note.wav", contentType="audio/wav", size=1000).json()
    assert post_form(body, WAV).status_code == 400  # larger than the granted range
    other = dict(body, fields=dict(body["fields"], key="uploads/eve/x.wav"))
    assert post_form(other, WAV[:500]).status_code == 403  # another key
    retyped = dict(body, fields=dict(body["fields"], **{"Content-Type": "text/html"}))
    assert post_form(retyped, WAV[:500], ctype="text/html").status_code == 403
    assert body["key"] not in catalog_keys(silo)


def test_presigned_put_flow(env):
    silo, dana, _ = env
    body = ask(silo, dana, filename="clip.wav", contentType="audio/wav", method="PUT").json()
    assert body["method"] == "PUT" and body["headers"] == {"Content-Type": "audio/wav"}
    r = requests.put(body["url"], data=WAV, headers=body["headers"])
    assert r.status_code == 200, r.text
    done = requests.post(silo.url("/api/upload/complete"), headers=auth(dana), json={"key": body["key"]})
    assert done.status_code == 200, done.text


def test_complete_refuses_bad_objects_and_deletes_them(env):
    silo, dana, eve = env
    body = ask(silo, dana, filename="x.wav", contentType="audio/wav", method="PUT").json()
    assert requests.put(body["url"], data=ELF, headers=body["headers"]).status_code == 200
    r = requests.post(silo.url("/api/upload/complete"), headers=auth(dana), json={"key": body["key"]})
    assert r.status_code == 415
    assert body["key"] not in catalog_keys(silo)
    r = requests.post(silo.url("/api/upload/complete"), headers=auth(dana), json={"key": body["key"]})
    assert r.status_code == 404
    # Someone else's key.
    body = ask(silo, dana, filename="y.wav", contentType="audio/wav", method="PUT").json()
    requests.put(body["url"], data=WAV, headers=body["headers"])
    r = requests.post(silo.url("/api/upload/complete"), headers=auth(eve), json={"key": body["key"]})
    assert r.status_code == 403
    assert requests.post(silo.url("/api/upload/complete"), headers=auth(dana), json={}).json()["field"] == "key"
