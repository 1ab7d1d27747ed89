"""Fixtures: one privatelink-sim per session on 127.0.0.1:0, SDK clients, admin helpers."""

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from alibabacloud_privatelink20200415.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ACCOUNT = "1234567890123456"
OTHER_ACCOUNT = "2234567890123456"
KEYS = {
    "default": ("sim-ak-default", "sim-secret-default", None),
    "other": ("sim-ak-other", "sim-secret-other", None),
    "sts": ("STS.sim-sts-ak", "sim-sts-secret", "sim-sts-token"),
    "inactive": ("sim-ak-inactive", "sim-secret-inactive", None),
    "unopened": ("sim-ak-unopened", "sim-secret-unopened", None),
}
TIMINGS = {"createSeconds": 0.6, "updateSeconds": 0.5, "deleteSeconds": 0.6, "qpsLimit": 0,
           "tokenTtlSeconds": 86400, "serviceQuota": 100}


class Sim:
    def __init__(self, port: int):
        self.port = port
        self.endpoint = f"127.0.0.1:{port}"

    def admin(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://{self.endpoint}/_sim/{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            raw = r.read().decode()
            return json.loads(raw) if raw.startswith(("{", "[")) else raw

    def client(self, who="default", v2=False, secret=None, token=None) -> Client:
        ak, sk, tok = KEYS[who]
        cfg = Config(access_key_id=ak, access_key_secret=secret or sk, security_token=token or tok,
                     endpoint=self.endpoint, protocol="http", region_id="cn-hangzhou",
                     read_timeout=5000, connect_timeout=2000)
        if v2:
            cfg.signature_algorithm = "v2"
        return Client(cfg)


@pytest.fixture(scope="session")
def sim():
    binary = os.environ.get("PRIVATELINK_SIM_BIN", str(ROOT / "target" / "debug" / "privatelink-sim"))
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"privatelink-sim listening on http://127\.0\.0\.1:(\d+)", line)
        assert m, f"unexpected first line from sim: {line!r}"
        yield Sim(int(m.group(1)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def clean(sim):
    sim.admin("POST", "reset")
    sim.admin("PUT", "config", TIMINGS)
    yield


@pytest.fixture
def runtime():
    return RuntimeOptions(read_timeout=5000, connect_timeout=2000)
