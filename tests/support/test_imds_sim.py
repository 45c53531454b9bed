#!/usr/bin/python3
"""Self-test for imds_sim.py: starts the simulator on 127.0.0.1 (ephemeral ports)
and checks the IMDS behaviours and control API the C++ tests rely on.

Run: /usr/bin/python3 tests/support/test_imds_sim.py   (prints "N passed, N failed";
exit status 1 on any failure). Standard library only; only connects to 127.0.0.1.
"""

import base64
import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "imds_sim.py")
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOK = "X-aws-ec2-metadata-token"

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAIL: {name} {detail}", flush=True)


class Sim:
    """A running simulator; stop() asserts a clean SIGTERM exit."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="imds-sim-test-")
        self.port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--listen", "127.0.0.1", "--port", "0",
             "--port-file", self.port_file, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("simulator did not start: " + self.proc.stderr.read())
            time.sleep(0.02)
        with open(self.port_file) as fh:
            self.port_text = fh.read()
        self.port = int(self.port_text)
        self.banner = self.proc.stdout.readline()

    def req(self, method, path, headers=None, body=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get(self, path, token=None):
        status, headers, body = self.req("GET", path, {TOK: token} if token else {})
        return status, headers, body.decode("utf-8", "replace")

    def token(self, ttl=60):
        status, headers, body = self.req("PUT", "/latest/api/token", {TTL: str(ttl)})
        return status, headers, body.decode()

    def ctl(self, method, name, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        status, _, data = self.req(method, "/_sim/" + name, {"Content-Type": "application/json"},
                                   body)
        return status, json.loads(data)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "timeout"
        errors = self.proc.stderr.read()
        check("no traceback on stderr", "Traceback" not in errors, errors[-2000:])
        self.proc.stdout.close()
        self.proc.stderr.close()
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)
        return rc


def test_basics():
    sim = Sim("--tags")
    try:
        check("banner", sim.banner == f"imds-sim listening on http://127.0.0.1:{sim.port}\n",
              repr(sim.banner))
        check("port file digits+newline", sim.port_text == f"{sim.port}\n", repr(sim.port_text))

        # Token PUT
        status, headers, token = sim.token(60)
        check("token PUT 200", status == 200, status)
        check("token TTL echoed", headers.get(TTL.lower()) == "60", headers)
        check("token is base64 of 32 bytes", len(base64.b64decode(token)) == 32, token)
        check("PUT no TTL -> 400", sim.req("PUT", "/latest/api/token")[0] == 400)
        for bad in ("0", "21601", "abc", "-5"):
            check(f"PUT TTL {bad} -> 400", sim.req("PUT", "/latest/api/token", {TTL: bad})[0] == 400)
        check("PUT TTL 21600 ok", sim.token(21600)[0] == 200)
        check("X-Forwarded-For -> 403", sim.req("PUT", "/latest/api/token",
                                                {TTL: "60", "X-Forwarded-For": "1.2.3.4"})[0] == 403)
        check("versioned token PUT -> 403",
              sim.req("PUT", "/2021-03-23/api/token", {TTL: "60"})[0] == 403)
        check("GET api/token -> 405", sim.get("/latest/api/token")[0] == 405)

        # Optional mode
        status, _, body = sim.get("/latest/meta-data/instance-id")
        check("v1 GET in optional mode", (status, body) == (200, "i-1234567890abcdef0"), body)
        check("valid token GET", sim.get("/latest/meta-data/instance-id", token)[0] == 200)
        check("bad token -> 401 in optional", sim.get("/latest/meta-data/instance-id", "nope")[0] == 401)

        # 404 and listings
        status, headers, body = sim.get("/latest/meta-data/no-such-thing")
        check("404 status", status == 404)
        check("404 XHTML body", "404 - Not Found" in body and headers["content-type"] == "text/html")
        status, _, body = sim.get("/latest/meta-data/")
        entries = body.split("\n")
        check("meta-data listing", status == 200 and "placement/" in entries
              and "instance-id" in entries and "network/" in entries, body)
        a, b = sim.get("/latest/meta-data/placement"), sim.get("/latest/meta-data/placement/")
        check("trailing slash optional", a == b and a[0] == 200)
        check("placement listing", {"availability-zone", "availability-zone-id", "region"}
              <= set(a[2].split("\n")), a[2])
        check("iam listing = role", sim.get("/latest/meta-data/iam/security-credentials/")[2]
              == "baskinc-role")
        status, headers, body = sim.get("/latest/meta-data/iam/info")
        check("JSON value", headers["content-type"] == "application/json"
              and json.loads(body)["Code"] == "Success" and "\t" in body)

        # Versions
        versions = sim.get("/")[2].split("\n")
        check("version list", {"latest", "2009-04-04", "2016-09-02", "2018-09-24", "2020-08-24",
                               "2021-01-03", "2021-03-23"} <= set(versions), versions)
        check("version root", sim.get("/latest/")[2].split("\n")
              == ["dynamic", "meta-data", "user-data"])
        check("old version lacks region", sim.get("/2016-09-02/meta-data/placement/region")[0] == 404)
        check("2021-01-03 has region", sim.get("/2021-01-03/meta-data/placement/region")[2] == "us-east-1")
        check("old version lacks tags", sim.get("/2021-01-03/meta-data/tags/instance")[0] == 404)
        check("unknown version 404", sim.get("/1999-01-01/meta-data/")[0] == 404)

        # Identity document (consistent by default)
        status, _, body = sim.get("/latest/dynamic/instance-identity/document")
        doc = json.loads(body)
        check("IID has 15 fields", status == 200 and len(doc) == 15, sorted(doc))
        check("IID AZ = placement", doc["availabilityZone"] == "us-east-1a", doc)
        check("IID privateIp = local-ipv4", doc["privateIp"] == "172.16.34.43", doc)
        for sig in ("signature", "pkcs7", "rsa2048"):
            check(f"IID {sig}", sim.get("/latest/dynamic/instance-identity/" + sig)[0] == 200)
        check("user-data decoded", sim.get("/latest/user-data")[2] == "1234,john,reboot,true\n")

        # Tags (enabled with --tags)
        check("tags listing", sim.get("/latest/meta-data/tags/instance")[2] == "Name\nTest")
        check("tag value", sim.get("/latest/meta-data/tags/instance/Name")[2] == "test-instance")
        check("tags replace", sim.ctl("POST", "tags", {"Env": "ci"})[0] == 200
              and sim.get("/latest/meta-data/tags/instance")[2] == "Env")
        check("bad tag -> 400", sim.ctl("POST", "tags", {"a b": "x"})[0] == 400)

        # Token expiry after TTL=1
        status, _, short = sim.token(1)
        check("TTL 1 token works", sim.get("/latest/meta-data/ami-id", short)[0] == 200)
        time.sleep(1.1)
        check("TTL 1 token expired -> 401", sim.get("/latest/meta-data/ami-id", short)[0] == 401)
        check("long token still valid", sim.get("/latest/meta-data/ami-id", token)[0] == 200)
        check("new token after expiry", sim.get("/latest/meta-data/ami-id", sim.token(5)[2])[0] == 200)

        # Modes via control API
        status, cfg = sim.ctl("POST", "config", {"mode": "required"})
        check("config returns full config", status == 200 and cfg["mode"] == "required"
              and "latency_ms" in cfg, cfg)
        check("required: no token -> 401", sim.get("/latest/meta-data/ami-id")[0] == 401)
        check("required: token -> 200", sim.get("/latest/meta-data/ami-id", token)[0] == 200)
        sim.ctl("POST", "config", {"mode": "disabled"})
        check("disabled GET -> 403", sim.get("/latest/meta-data/ami-id", token)[0] == 403)
        check("disabled PUT -> 403", sim.token(60)[0] == 403)
        sim.ctl("POST", "config", {"mode": "optional"})
        check("expire-tokens", sim.ctl("POST", "expire-tokens")[0] == 200
              and sim.get("/latest/meta-data/ami-id", token)[0] == 401)

        # Faults: 429 then 503 with Retry-After, then healthy
        sim.ctl("POST", "config", {"fail_429": 1, "fail_503": 1, "retry_after": 3})
        s1, h1, b1 = sim.req("PUT", "/latest/api/token", {TTL: "60"})
        s2, h2, _ = sim.req("GET", "/latest/meta-data/ami-id")
        s3 = sim.get("/latest/meta-data/ami-id")[0]
        check("429 first (token PUT too)", s1 == 429 and h1.get("retry-after") == "3"
              and b"<html" in b1, (s1, h1))
        check("503 next", s2 == 503 and h2.get("retry-after") == "3", (s2, h2))
        check("then 200", s3 == 200, s3)
        sim.ctl("POST", "config", {"transient_401": 2})
        codes = [sim.get("/latest/meta-data/ami-id")[0] for _ in range(3)]
        check("transient 401s", codes == [401, 401, 200], codes)
        sim.ctl("POST", "config", {"rate_limit": 3})
        time.sleep(1.05)  # let the one-second window forget the requests above
        codes = [sim.get("/latest/meta-data/ami-id")[0] for _ in range(6)]
        check("rate limit 429", codes[:3] == [200] * 3 and codes[3:] == [429] * 3, codes)
        sim.ctl("POST", "config", {"rate_limit": 0, "latency_ms": 300})
        started = time.monotonic()
        sim.get("/latest/meta-data/ami-id")
        check("latency", time.monotonic() - started >= 0.3)
        try:   # a client that gives up mid-latency must not upset the server
            sim.req("GET", "/latest/meta-data/ami-id", timeout=0.1)
        except socket.timeout:
            pass
        sim.ctl("POST", "config", {"latency_ms": 0, "trailing_newline": True})
        check("trailing newline", sim.get("/latest/meta-data/ami-id")[2] == "ami-0a887e401f7654935\n")
        sim.ctl("POST", "config", {"trailing_newline": False})
        check("bad config -> 400", sim.ctl("POST", "config", {"mode": "sometimes"})[0] == 400
              and sim.ctl("POST", "config", {"bogus": 1})[0] == 400
              and sim.ctl("GET", "config")[1]["mode"] == "optional")

        # Scenarios
        sim.ctl("POST", "config", {"scenario": "local-zone"})
        doc = json.loads(sim.get("/latest/dynamic/instance-identity/document")[2])
        check("local-zone IID", (doc["availabilityZone"], doc["region"])
              == ("us-west-2-lax-1a", "us-west-2"), doc)
        check("local-zone az-id", sim.get("/latest/meta-data/placement/availability-zone-id")[2]
              == "usw2-lax1-az1")
        sim.ctl("POST", "config", {"scenario": "private-subnet"})
        check("private-subnet", sim.get("/latest/meta-data/public-ipv4")[0] == 404
              and sim.get("/latest/meta-data/public-hostname")[0] == 404)
        sim.ctl("POST", "config", {"scenario": "ipv6-only"})
        doc = json.loads(sim.get("/latest/dynamic/instance-identity/document")[2])
        check("ipv6-only", sim.get("/latest/meta-data/local-ipv4")[0] == 404
              and sim.get("/latest/meta-data/ipv6")[2] == "2001:db8::1234"
              and "privateIp" not in doc)
        sim.ctl("POST", "config", {"scenario": "spot"})
        check("spot scenario", sim.get("/latest/meta-data/instance-life-cycle")[2] == "spot")
        sim.ctl("POST", "config", {"scenario": "default"})

        # Runtime switches
        check("spot 404 before", sim.get("/latest/meta-data/spot/instance-action")[0] == 404)
        check("spot POST", sim.ctl("POST", "spot", {"action": "terminate", "delay_seconds": 0})[0] == 200)
        status, headers, body = sim.get("/latest/meta-data/spot/instance-action")
        notice = json.loads(body) if status == 200 else {}
        when = datetime.datetime.strptime(notice.get("time", "1970-01-01T00:00:00Z"),
                                          "%Y-%m-%dT%H:%M:%SZ").replace(
                                              tzinfo=datetime.timezone.utc).timestamp()
        check("spot instance-action", notice.get("action") == "terminate"
              and 100 < when - time.time() < 130, body)
        check("spot termination-time", sim.get("/latest/meta-data/spot/termination-time")[2]
              == notice.get("time"))
        check("spot listed", "spot/" in sim.get("/latest/meta-data/")[2].split("\n"))
        sim.ctl("DELETE", "spot")
        check("spot cleared", sim.get("/latest/meta-data/spot/instance-action")[0] == 404)
        check("bad spot action -> 400", sim.ctl("POST", "spot", {"action": "explode"})[0] == 400)
        check("events empty = []", sim.get("/latest/meta-data/events/maintenance/scheduled")[2] == "[]")
        sim.ctl("POST", "events", {"code": "system-reboot"})
        events = json.loads(sim.get("/latest/meta-data/events/maintenance/scheduled")[2])
        check("event scheduled", events[0]["Code"] == "system-reboot"
              and events[0]["NotBefore"].endswith(" GMT"), events)
        check("asg 404 before", sim.get("/latest/meta-data/autoscaling/target-lifecycle-state")[0] == 404)
        sim.ctl("POST", "asg", {"state": "Terminated"})
        check("asg state", sim.get("/latest/meta-data/autoscaling/target-lifecycle-state")[2]
              == "Terminated")
        check("bad asg -> 400", sim.ctl("POST", "asg", {"state": "Gone"})[0] == 400)
        sim.ctl("POST", "rebalance", {})
        check("rebalance", "noticeTime" in json.loads(
            sim.get("/latest/meta-data/events/recommendations/rebalance")[2]))
        check("bad JSON -> 400", sim.req("POST", "/_sim/config", body=b"{nope")[0] == 400)

        # Request log
        check("clear log", sim.ctl("DELETE", "requests")[0] == 200)
        sim.get("/latest/meta-data/ami-id", "bogus")
        sim.req("PUT", "/latest/api/token", {TTL: "10"})
        status, log = sim.ctl("GET", "requests")
        check("log entries", [(r["method"], r["path"], r["token"], r["status"]) for r in log]
              == [("GET", "/latest/meta-data/ami-id", True, 401),
                  ("PUT", "/latest/api/token", False, 200)], log)
        check("log t increasing", len(log) == 2 and 0 <= log[0]["t"] <= log[1]["t"], log)
    finally:
        check("SIGTERM exit 0", sim.stop() == 0)


def test_raw_fixture():
    sim = Sim("--raw-fixture")
    try:
        doc = json.loads(sim.get("/latest/dynamic/instance-identity/document")[2])
        check("raw IID AZ", doc["availabilityZone"] == "us-east-1f", doc)
        check("raw IID privateIp", doc["privateIp"] == "10.0.7.10", doc)
        check("placement still us-east-1a",
              sim.get("/latest/meta-data/placement/availability-zone")[2] == "us-east-1a")
        check("tags off by default", sim.get("/latest/meta-data/tags/instance")[0] == 404)
    finally:
        check("raw: SIGTERM exit 0", sim.stop() == 0)


def test_refuse_seconds():
    started = time.monotonic()
    sim = Sim("--refuse-seconds", "1.5")
    try:
        refused = False
        try:
            socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
        except ConnectionRefusedError:
            refused = True
        check("connection refused early", refused)
        ok = False
        while time.monotonic() - started < 6 and not ok:
            try:
                ok = sim.get("/latest/meta-data/ami-id")[0] == 200
            except ConnectionRefusedError:
                time.sleep(0.1)
        check("connects after refuse window", ok and time.monotonic() - started >= 1.4)
    finally:
        check("refuse: SIGTERM exit 0", sim.stop() == 0)


def test_hop_limit():
    sim = Sim("--hop-limit", "--mode", "required")
    try:
        started = time.monotonic()
        timed_out = False
        try:
            sim.req("PUT", "/latest/api/token", {TTL: "60"}, timeout=1)
        except socket.timeout:
            timed_out = True
        check("hop-limit PUT hangs", timed_out and time.monotonic() - started >= 0.9)
        started = time.monotonic()
        status = sim.get("/latest/meta-data/ami-id")[0]
        check("hop-limit GET 401 fast", status == 401 and time.monotonic() - started < 0.5, status)
        log = sim.ctl("GET", "requests")[1]
        check("hung PUT logged with status 0", log and log[0]["method"] == "PUT"
              and log[0]["status"] == 0, log)
    finally:
        check("hop: SIGTERM exit 0", sim.stop() == 0)


def test_write_style_and_overlap():
    sim = Sim("--single-write")
    try:
        check("--single-write in config", sim.ctl("GET", "config")[1]["single_write"] is True)
        # One write: the head and the body arrive together, in the first read.
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
            sock.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(65536)
        check("single write: head and body in one read",
              first.startswith(b"HTTP/1.1 200") and first.endswith(b"\r\n\r\ni-1234567890abcdef0"),
              first)
        sim.ctl("POST", "config", {"single_write": False})
        check("two writes: same answer", sim.get("/latest/meta-data/instance-id")[2]
              == "i-1234567890abcdef0")
        check("single_write must be a bool", sim.ctl("POST", "config", {"single_write": 1})[0] == 400)

        # conn numbers connections: two requests on one kept-alive connection share one.
        sim.ctl("DELETE", "requests")
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
        for _ in range(2):
            conn.request("GET", "/latest/meta-data/instance-type")
            conn.getresponse().read()
        conn.close()
        sim.get("/latest/meta-data/instance-type")
        log = sim.ctl("GET", "requests")[1]
        conns = [r["conn"] for r in log]
        check("conn: same connection, same number; a new one, a new number",
              len(conns) == 3 and conns[0] == conns[1] != conns[2], log)
        check("in_flight 1 for requests one after another", all(r["in_flight"] == 1 for r in log), log)

        # gather: three GETs sent at once are all in flight together, then answered.
        sim.ctl("DELETE", "requests")
        sim.ctl("POST", "config", {"gather": 3})
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(
            sim.get("/latest/meta-data/instance-id")[0])) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log = sim.ctl("GET", "requests")[1]
        check("gather: all answered 200", answers == [200, 200, 200], answers)
        check("gather: three in flight at once", max(r["in_flight"] for r in log) == 3, log)
        check("gather turns itself off", sim.ctl("GET", "config")[1]["gather"] == 0)
        # A lone GET is answered anyway once the hold time is over.
        sim.ctl("POST", "config", {"gather": 2})
        check("gather: a lone GET still answered", sim.get("/latest/meta-data/instance-id")[0] == 200)
    finally:
        check("write style: SIGTERM exit 0", sim.stop() == 0)


def test_fault_config():
    sim = Sim("--mode", "v1-only")
    try:
        check("v1-only: token PUT 404", sim.token()[0] == 404)
        check("v1-only: GET without a token", sim.get("/latest/meta-data/instance-id")[0] == 200)
        check("v1-only: a token header is ignored",
              sim.get("/latest/meta-data/instance-id", token="made-up")[0] == 200)
        status, cfg = sim.ctl("POST", "config", {"identity_document": "{\"region\" : \"us-ea"})
        check("identity_document accepted", status == 200 and cfg["identity_document"].startswith("{"))
        check("identity_document served verbatim",
              sim.get("/latest/dynamic/instance-identity/document")[2] == "{\"region\" : \"us-ea")
        check("identity_document must be text or null",
              sim.ctl("POST", "config", {"identity_document": 3})[0] == 400)
        sim.ctl("POST", "config", {"identity_document": None, "trickle_ms": 20})
        start = time.monotonic()
        status, _, body = sim.get("/latest/meta-data/instance-id")
        elapsed = time.monotonic() - start
        check("trickle: the whole body", status == 200 and body == "i-1234567890abcdef0", body)
        check("trickle: a byte every 20 ms", elapsed >= 15 * 0.02, elapsed)  # 19 bytes, 18 gaps
        check("trickle: control answers at once",
              sim.ctl("GET", "config")[1]["trickle_ms"] == 20)
        sim.ctl("POST", "config", {"trickle_ms": 0, "cut_bodies": 1})
        try:
            sim.get("/latest/meta-data/instance-id")
            check("cut body: the read fails", False)
        except http.client.IncompleteRead:
            check("cut body: the read fails", True)
        check("cut body: only once", sim.get("/latest/meta-data/instance-id")[0] == 200)
    finally:
        check("fault config: SIGTERM exit 0", sim.stop() == 0)


def test_cli():
    for host in ("0.0.0.0", "10.1.2.3", "localhost"):
        proc = subprocess.run([sys.executable, SIM, "--listen", host], capture_output=True,
                              text=True, timeout=10)
        check(f"refuse --listen {host}", proc.returncode == 2
              and len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == "", proc.stderr)
    proc = subprocess.run([sys.executable, SIM, "--help"], capture_output=True, text=True,
                          timeout=10)
    check("--help", proc.returncode == 0 and "--refuse-seconds" in proc.stdout
          and "/_sim/config" in proc.stdout)


def main():
    for test in (test_cli, test_basics, test_raw_fixture, test_refuse_seconds, test_hop_limit,
                 test_write_style_and_overlap, test_fault_config):
        try:
            test()
        except Exception as exc:  # a crash counts as one failure, keep going
            check(test.__name__, False, f"raised {type(exc).__name__}: {exc}")
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
