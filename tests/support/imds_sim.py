#!/usr/bin/python3
"""imds-sim: a loopback-only simulator of the EC2 Instance Metadata Service (IMDS).

Used by kontena-node's tests and demo in place of http://169.254.169.254. Python 3
standard library only; it never makes outbound connections and refuses to bind
anything but 127.0.0.0/8 or ::1.

Usage
-----
    tests/support/imds_sim.py --port 0 --port-file /tmp/imds.port [options]

Once the socket is bound it prints exactly one line to stdout,
``imds-sim listening on http://HOST:PORT``, and (with --port-file) atomically
writes the port number to PATH. SIGTERM/SIGINT exit with status 0. Bad options,
a non-loopback --listen or an unreadable fixture exit with status 2. Run with
--help for every flag.

IMDS surface (what clients see)
-------------------------------
* ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds: 1..21600``
  returns a token (TTL echoed in the same header). Missing/bad TTL -> 400,
  ``X-Forwarded-For`` -> 403, versioned token path (``/2021-03-23/api/token``)
  -> 403, non-PUT on ``/latest/api/token`` -> 405.
* Tokens go in ``X-aws-ec2-metadata-token``; each token expires exactly TTL
  seconds after issue (then 401). Modes: optional (v1 allowed, but a present bad
  token -> 401), required (no/bad token -> 401), disabled (everything -> 403), v1-only (an EC2-compatible
  service without IMDSv2: the token path answers 404, the token header is ignored).
* ``GET /`` lists versions; ``/<version>/`` lists dynamic, meta-data, user-data.
  Categories only appear in versions at or after the one that introduced them.
  Unknown version/path -> 404 with an XHTML "404 - Not Found" page.
* ``meta-data/...`` comes from the AEMM fixture; parents give generated LF
  listings (sub-trees end in ``/``); trailing ``/`` is optional. JSON values are
  served tab-indented as application/json, strings as text/plain.
* ``dynamic/instance-identity/{document,signature,pkcs7,rsa2048}``; the document
  is made consistent with meta-data unless --raw-fixture.
* Runtime items (404 until switched on through the control API): spot/instance-
  action, spot/termination-time, events/recommendations/rebalance, autoscaling/
  target-lifecycle-state; events/maintenance/scheduled is ``[]`` when empty;
  tags/instance/* only with --tags / config ``tags``.

Control API (same listener, prefix /_sim/, not logged, ignores mode/faults/latency)
----------------------------------------------------------------------------------
    GET    /_sim/health         {"ok": true}
    GET    /_sim/requests       [{"method","path","token","status","t","conn","in_flight"},
                                ...] in arrival order; status 0 = no response sent
                                (hop-limit hang); conn numbers the TCP connection (1, 2,
                                ... in accept order); in_flight counts the IMDS requests
                                begun and not yet answered when this one arrived, itself
                                included (above 1: requests overlapped)
    DELETE /_sim/requests       clear the log
    GET    /_sim/config         current config (fault counters count down as used)
    POST   /_sim/config         {"mode","hop_limit","latency_ms","fail_429","fail_503",
                                 "retry_after","transient_401","rate_limit","scenario",
                                 "raw_fixture","tags","trailing_newline","user_data",
                                 "single_write","gather","trickle_ms","identity_document"}
                                trickle_ms: every IMDS answer body is sent one byte at
                                a time, N ms apart; identity_document: served verbatim
                                instead of the generated one (null: generated);
                                cut_bodies: the next N answers close the connection
                                half-way through the body
                                any subset; applied atomically; returns full config
    POST   /_sim/spot           {"action":"terminate|stop|hibernate","delay_seconds":0}
                                notice visible after delay; time = visible + 120 s
    DELETE /_sim/spot
    POST   /_sim/asg            {"state":"InService|Terminated|Standby|Detached|Warmed:*"}
    DELETE /_sim/asg
    POST   /_sim/rebalance      {} or {"delay_seconds": N};  DELETE /_sim/rebalance
    POST   /_sim/events         {"code":"system-reboot","state":"active"} appends a
                                scheduled event;  DELETE /_sim/events clears them
    GET    /_sim/tags; POST /_sim/tags {"Key":"Value",...} replaces the instance tags
                                (served only while config "tags" is true)
    POST   /_sim/expire-tokens  invalidate every issued token
Bad control input -> 400 {"error": "..."}; unknown control path -> 404.

Fault order for each IMDS request: disabled (403) -> hop-limit token PUT (hang) ->
fail_429 -> fail_503 -> rate limit (429) -> routing/405 -> transient_401 ->
token check (401) -> lookup (200/404); latency applies to every answer.

Write style: by default an answer leaves in two writes (status line and headers,
then the body), as http.server does. Nagle on this side then holds the body until
the client ACKs the headers, which a client in delayed-ACK mode (a kept-alive
connection) does only after ~40 ms: the harder case. --single-write (config
"single_write") sends each answer in one write.

Gather (config "gather": N, GET only, 0 = off): each GET answer is held until N
GETs are in flight at once, then all are answered and gather turns itself off; a
GET held GATHER_HOLD_SECONDS without that is answered anyway. Tests use it to
prove that a client sends its GETs at the same time: a client that sends them one
after another never has more than one in flight.
"""

import argparse
import base64
import binascii
import collections
import datetime
import ipaddress
import json
import math
import os
import re
import secrets
import select
import signal
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# ---------------------------------------------------------------------------
# Constants (AWS documented behaviour)
# ---------------------------------------------------------------------------

# Token protocol: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TTL_MIN, TTL_MAX = 1, 21600  # "a TTL of 1 second up to 6 hours"
# How long a hop-limited token PUT is held open without an answer; real clients
# see their own timeout long before this.
HOP_LIMIT_HOLD_SECONDS = 60.0
# How long a GET waits for its gather (see the docstring); below the 1 s request
# timeout of the clients under test, so a client that never overlaps its GETs sees
# slow answers, not timeouts.
GATHER_HOLD_SECONDS = 0.5
# Spot notices give two minutes' warning:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
SPOT_WARNING_SECONDS = 120
SPOT_ACTIONS = ("terminate", "stop", "hibernate")
# Target lifecycle states:
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html
ASG_STATES = ("Detached", "InService", "Standby", "Terminated")
# Scheduled events: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instances-status-check_sched.html
EVENT_CODES = ("instance-reboot", "system-reboot", "system-maintenance",
               "instance-retirement", "instance-stop")
EVENT_STATES = ("active", "completed", "canceled")

MODES = ("optional", "required", "disabled", "v1-only")
SCENARIOS = ("default", "local-zone", "wavelength", "private-subnet", "ipv6-only", "spot")

# `GET /` answer. Approximates the real list; 2020-08-24 introduced placement/region.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
            "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01",
            "2012-01-12", "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19",
            "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24",
            "2019-10-01", "2020-08-24", "2020-10-27", "2021-01-03", "2021-03-23",
            "2021-07-15", "latest")
# "Version when category was released" (longest prefix wins; default 1.0):
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
INTRODUCED = {
    "autoscaling": "2021-07-15", "block-device-mapping": "2007-12-15",
    "elastic-inference": "2018-11-29", "events/maintenance": "2018-08-17",
    "events/recommendations": "2020-11-04", "iam": "2012-01-12",
    "instance-action": "2008-09-01", "instance-life-cycle": "2019-10-01",
    "instance-type": "2007-08-29", "ipv6": "2021-01-03", "kernel-id": "2008-02-01",
    "local-hostname": "2007-01-19", "mac": "2011-01-01", "network": "2011-01-01",
    "placement": "2008-02-01", "placement/availability-zone-id": "2020-08-24",
    "placement/group-name": "2020-08-24", "placement/host-id": "2020-08-24",
    "placement/partition-number": "2020-08-24", "placement/region": "2020-08-24",
    "product-codes": "2007-03-01", "public-hostname": "2007-01-19",
    "public-ipv4": "2007-01-19", "ramdisk-id": "2007-10-10",
    "services/domain": "2014-02-25", "services/partition": "2015-10-20",
    "spot/instance-action": "2016-11-15", "spot/termination-time": "2014-11-05",
    "tags/instance": "2021-03-23",
}
DYNAMIC_SINCE = "2009-04-04"  # fws/ and instance-identity/ (same page, dynamic table)

# Sub-trees whose content is runtime state, even where the AEMM fixture maps them.
RUNTIME_PREFIXES = ("spot", "events", "autoscaling", "tags")

# Error pages look like the real service's XHTML pages (clients that ignore the
# status then store HTML, cf. hashicorp/nomad#611, so tests must see one).
ERROR_PAGE = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
              '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
              '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
              '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
              ' <head>\n  <title>{code} - {reason}</title>\n </head>\n'
              ' <body>\n  <h1>{code} - {reason}</h1>\n </body>\n</html>\n')
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large",
           429: "Too Many Requests", 503: "Service Unavailable"}
MAX_BODY = 1 << 20
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

DEFAULT_FIXTURE = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "fixtures", "imds", "aemm-metadata-default-values.json"))


class Verbatim(str):
    """Text served exactly as stored (no --trailing-newline), e.g. the IID."""


EMPTY_DIR = object()  # marks a directory with no entries (e.g. tags enabled, none set)


def version_key(version):
    """Sortable key: 1.0 first, dated builds in order, latest last."""
    return {"1.0": "0000", "latest": "9999"}.get(version, version)


def introduced_in(rel_path):
    parts = rel_path.split("/")
    for n in range(len(parts), 0, -1):
        hit = INTRODUCED.get("/".join(parts[:n]))
        if hit:
            return hit
    return "1.0"


def rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def event_date(epoch):
    """`21 Jan 2019 09:00:43 GMT` (documented scheduled-event date format)."""
    d = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year} {d:%H:%M:%S} GMT"


# ---------------------------------------------------------------------------
# Fixture
# ---------------------------------------------------------------------------

class Fixture:
    """AEMM default values, flattened to {path-under-category: value}."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.metadata = self._flatten(data["metadata"], "/latest/meta-data/")
        self.dynamic = self._flatten(data["dynamic"], "/latest/dynamic/")
        # The fixture puts instance tags under tags/instance/<Key>; they seed the
        # runtime tag set (served only when tags are enabled).
        self.tags = {k.split("/", 2)[2]: str(v) for k, v in self.metadata.items()
                     if k.startswith("tags/instance/")}
        self.metadata = {k: v for k, v in self.metadata.items()
                         if k.split("/")[0] not in RUNTIME_PREFIXES}
        self.event_id = data["metadata"]["values"].get(
            "event-id", "instance-event-1234567890abcdef0")
        iid = self.dynamic.get("instance-identity/document")
        if not isinstance(iid, dict):
            raise ValueError("fixture has no dynamic instance-identity-document object")
        self.iid = iid
        # rsa2048 is not in the fixture; any base64 text will do for a fake signature.
        self.dynamic.setdefault("instance-identity/rsa2048",
                                self.dynamic.get("instance-identity/pkcs7", "c2lt"))
        self.user_data = None
        ud = data.get("userdata", {}).get("values", {}).get("userdata")
        if isinstance(ud, str):
            # AEMM stores user data base64-encoded; the real service serves raw bytes.
            try:
                self.user_data = base64.b64decode(ud, validate=True)
            except (binascii.Error, ValueError):
                self.user_data = ud.encode("utf-8")

    @staticmethod
    def _flatten(section, prefix):
        flat = {}
        values = section.get("values", {})
        for name, path in section.get("paths", {}).items():
            # Paths without a value (spot, events, ...) are runtime-managed here.
            if name in values and path.startswith(prefix) and path != prefix:
                flat[path[len(prefix):].strip("/")] = values[name]
        # A key that is also a directory (iam/security-credentials, elastic-inference/
        # associations) serves its generated listing, as the real service does.
        dirs = {k.rsplit("/", 1)[0] for k in flat if "/" in k}
        dirs = {"/".join(d.split("/")[:n]) for d in dirs for n in range(1, d.count("/") + 2)}
        return {k: v for k, v in flat.items() if k not in dirs}


def apply_scenario(md, scenario):
    """Mutate a flat meta-data map to model one of the --scenario network shapes."""
    macs = "network/interfaces/macs/" + str(md.get("mac", "")) + "/"

    def rehost(region):  # hostnames follow the region outside us-east-1
        ip = str(md.get("local-ipv4", "")).replace(".", "-")
        for key in ("hostname", "local-hostname", macs + "local-hostname"):
            if key in md:
                md[key] = f"ip-{ip}.{region}.compute.internal"

    def drop(*keys):  # each key and everything under it
        for key in [k for k in md if any(k == d or k.startswith(d + "/") for d in keys)]:
            del md[key]

    if scenario in ("local-zone", "wavelength"):
        # Zone names that break "region = AZ minus last character".
        # https://docs.aws.amazon.com/local-zones/latest/ug/how-local-zones-work.html
        region, az, azid = {
            "local-zone": ("us-west-2", "us-west-2-lax-1a", "usw2-lax1-az1"),
            "wavelength": ("us-east-1", "us-east-1-wl1-bos-wlz-1", "use1-wl1-bos-wlz1"),
        }[scenario]
        md["placement/region"] = region
        md["placement/availability-zone"] = az
        md["placement/availability-zone-id"] = azid
        if region != "us-east-1":
            rehost(region)
    elif scenario == "private-subnet":
        drop("public-ipv4", "public-hostname", macs + "public-ipv4s",
             macs + "public-hostname", macs + "ipv4-associations")
    elif scenario == "ipv6-only":
        # "If this is an IPv6-only instance, [local-ipv4] is not set and results in
        # an HTTP 404 response"; hostnames become resource-based names.
        drop("local-ipv4", "public-ipv4", "public-hostname", macs + "local-ipv4s",
             macs + "public-ipv4s", macs + "public-hostname", macs + "ipv4-associations")
        md["ipv6"] = "2001:db8::1234"
        md[macs + "ipv6s"] = "2001:db8::1234"
        rbn = f"{md.get('instance-id', 'i-0')}.ec2.internal"
        for key in ("hostname", "local-hostname", macs + "local-hostname"):
            md[key] = rbn
    elif scenario == "spot":
        md["instance-life-cycle"] = "spot"


# ---------------------------------------------------------------------------
# Simulator state (shared by all handler threads; every access under one lock)
# ---------------------------------------------------------------------------

class Reply:
    __slots__ = ("status", "ctype", "body", "headers", "hang")

    def __init__(self, status, body=b"", ctype="text/plain", headers=None, hang=False):
        self.status, self.ctype, self.headers, self.hang = status, ctype, headers or {}, hang
        self.body = body.encode("utf-8") if isinstance(body, str) else body


def error_reply(code, headers=None):
    page = ERROR_PAGE.format(code=code, reason=REASONS.get(code, "Error"))
    return Reply(code, page, "text/html", headers)


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _check(value, kind, name):
    """Validate one control/config value; kind = 'bool' | 'int' | 'num' | tuple of choices."""
    if kind == "bool":
        ok = type(value) is bool
    elif kind == "int":
        ok = type(value) is int and value >= 0
    elif kind == "num":   # NaN/inf/huge would break sleep() and date formatting
        ok = type(value) in (int, float) and math.isfinite(value) and 0 <= value <= 1e9
    elif kind == "text|null":
        ok = value is None or type(value) is str
    else:
        ok = value in kind
    if not ok:
        want = kind if isinstance(kind, str) else "one of " + "|".join(kind)
        raise ControlError(400, f"{name}: expected {want}, got {value!r}")
    return value


CONFIG_KINDS = {"mode": MODES, "hop_limit": "bool", "latency_ms": "num", "fail_429": "int",
                "fail_503": "int", "retry_after": "int", "transient_401": "int",
                "rate_limit": "int", "scenario": SCENARIOS, "raw_fixture": "bool",
                "tags": "bool", "trailing_newline": "bool", "user_data": "bool",
                "single_write": "bool", "gather": "int", "trickle_ms": "num",
                "identity_document": "text|null", "cut_bodies": "int"}


class SimState:
    def __init__(self, fixture, config):
        self.lock = threading.Lock()
        self.gathered = threading.Condition(self.lock)   # a gather was complete
        self.connections = 0              # TCP connections accepted so far
        self.in_flight = 0                # IMDS requests begun and not yet answered
        self.gathering = 0                # GETs held by the current gather
        self.fixture = fixture
        self.config = dict(config)
        self.started = time.monotonic()
        self.tokens = {}                  # token -> monotonic expiry
        self.log = []                     # request records (dicts), arrival order
        self.window = collections.deque() # arrival times in the last second (rate limit)
        self.tags = dict(fixture.tags)
        self.spot = None                  # {"action", "visible_at", "time"}
        self.rebalance = None             # {"visible_at", "noticeTime"}
        self.asg_state = None
        self.events = []

    # -- IMDS request handling ------------------------------------------------

    def connected(self):
        """Number a new TCP connection (1, 2, ...)."""
        with self.lock:
            self.connections += 1
            return self.connections

    def begin(self, method, raw_path, headers, conn):
        """Record an IMDS request and decide its answer. Returns (record, reply, delay_s)."""
        now = time.monotonic()
        with self.lock:
            self.in_flight += 1
            record = {"method": method, "path": raw_path,
                      "token": headers.get(TOKEN_HEADER) is not None,
                      "status": 0, "t": round(now - self.started, 6), "conn": conn,
                      "in_flight": self.in_flight}
            self.log.append(record)
            self.window.append(now)
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            reply = self._decide(method, raw_path, headers, now)
            return record, reply, self.config["latency_ms"] / 1000.0

    def gather(self, record):
        """Hold a GET until config gather GETs are in flight together (see the docstring)."""
        with self.lock:
            if record["method"] != "GET" or self.config["gather"] <= 0:
                return
            self.gathering += 1
            if self.gathering >= self.config["gather"]:
                self.config["gather"], self.gathering = 0, 0
                self.gathered.notify_all()
                return
            if not self.gathered.wait_for(lambda: self.config["gather"] == 0,
                                          timeout=GATHER_HOLD_SECONDS):
                self.gathering -= 1

    def finish(self, record, status):
        """Record the answer's status; returns True when it goes out in one write."""
        with self.lock:
            record["status"] = status
            self.in_flight -= 1
            return self.config["single_write"]

    def take_cut(self):
        """True for the next config cut_bodies answers (counting down)."""
        with self.lock:
            if self.config["cut_bodies"] <= 0:
                return False
            self.config["cut_bodies"] -= 1
            return True

    def abandon(self):
        """A request that is never answered (hop-limit hang) is no longer in flight."""
        with self.lock:
            self.in_flight -= 1

    def _throttle(self, code):
        # Retry-After is honoured by e.g. cloud-init's url_helper on 503.
        return error_reply(code, {"Retry-After": str(self.config["retry_after"])})

    def _decide(self, method, raw_path, headers, now):
        cfg = self.config
        segs = [s for s in urlsplit(raw_path).path.split("/") if s]
        token_path = len(segs) == 3 and segs[1:] == ["api", "token"]
        # With IMDS turned off every request is answered 403 Forbidden.
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
        if cfg["mode"] == "disabled":
            return error_reply(403)
        # PUT response hop limit 1 seen from a container: the answer's IP TTL runs
        # out, so the client never gets anything (DataDog/datadog-agent#55269).
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
        if method == "PUT" and token_path and segs[0] == "latest" and cfg["hop_limit"]:
            return Reply(0, hang=True)
        if cfg["fail_429"] > 0:
            cfg["fail_429"] -= 1
            return self._throttle(429)
        if cfg["fail_503"] > 0:
            cfg["fail_503"] -= 1
            return self._throttle(503)
        # IMDS throttles queries per instance; clients must back off and retry.
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
        if cfg["rate_limit"] and len(self.window) > cfg["rate_limit"]:
            return self._throttle(429)
        # An EC2-compatible metadata service without IMDSv2 does not know the token path;
        # AWS SDKs read 403/404/405 to the PUT as "no token support" and go on with
        # IMDSv1 (https://github.com/aws/aws-sdk-go-v2/blob/main/feature/ec2/imds/token_provider.go).
        if cfg["mode"] == "v1-only" and token_path:
            return error_reply(404)
        if token_path:
            if method == "PUT":
                # Only /latest/api/token issues tokens; versioned token paths are 403
                # by design (Afterburn's comment says the same).
                return self._issue_token(headers, now) if segs[0] == "latest" else error_reply(403)
            if segs[0] == "latest":
                return error_reply(405, {"Allow": "PUT"})
        if method not in ("GET", "HEAD"):
            return error_reply(405, {"Allow": "GET, HEAD"})
        # Early-boot race: the first answers are 401 (NixOS/amis#137).
        if cfg["transient_401"] > 0:
            cfg["transient_401"] -= 1
            return error_reply(401)
        token = headers.get(TOKEN_HEADER)
        if token is not None and cfg["mode"] != "v1-only":   # a v1-only service ignores the header
            expiry = self.tokens.get(token)
            if expiry is None or now >= expiry:
                return error_reply(401)   # bad/expired token is 401 in every mode
        elif cfg["mode"] == "required":
            return error_reply(401)
        return self._lookup(segs, now)

    def _issue_token(self, headers, now):
        # Token PUTs carrying X-Forwarded-For are rejected (anti-proxy/SSRF measure):
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
        if headers.get("X-Forwarded-For") is not None:
            return error_reply(403)
        raw = headers.get(TTL_HEADER)
        if raw is None or not re.fullmatch(r"\s*[0-9]{1,9}\s*", raw):
            return error_reply(400)
        ttl = int(raw)
        if not TTL_MIN <= ttl <= TTL_MAX:
            return error_reply(400)
        for tok in [t for t, exp in self.tokens.items() if exp <= now]:
            del self.tokens[tok]          # keep memory bounded; expired ones are 401 anyway
        token = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        self.tokens[token] = now + ttl
        return Reply(200, token, "text/plain", {TTL_HEADER: str(ttl)})

    # -- Metadata views -------------------------------------------------------

    def _metadata_view(self, version, now):
        md = dict(self.fixture.metadata)
        apply_scenario(md, self.config["scenario"])
        if self.spot and now >= self.spot["visible_at"]:
            md["spot/instance-action"] = {"action": self.spot["action"], "time": self.spot["time"]}
            # termination-time "is present ... only if the Spot Instance has been
            # marked for termination" (not for stop/hibernate).
            if self.spot["action"] == "terminate":
                md["spot/termination-time"] = self.spot["time"]
        if self.rebalance and now >= self.rebalance["visible_at"]:
            md["events/recommendations/rebalance"] = {"noticeTime": self.rebalance["noticeTime"]}
        # No events must still be a 2xx: NTH treats any other status as an error.
        md["events/maintenance/scheduled"] = [dict(e) for e in self.events]
        if self.asg_state:
            md["autoscaling/target-lifecycle-state"] = self.asg_state
        # Tags only when allowed: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html
        if self.config["tags"]:
            for key, value in self.tags.items():
                md["tags/instance/" + key] = value
            if not self.tags:
                md["tags/instance"] = EMPTY_DIR
        vkey = version_key(version)
        return {k: v for k, v in md.items() if version_key(introduced_in(k)) <= vkey}

    def _identity_document(self, md):
        """IID; consistent with meta-data (as on EC2) unless raw_fixture.
        Fields: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html"""
        if self.config["identity_document"] is not None:   # a malformed or cut document, as given
            return Verbatim(self.config["identity_document"])
        doc = dict(self.fixture.iid)
        if not self.config["raw_fixture"]:
            for field, key in (("availabilityZone", "placement/availability-zone"),
                               ("region", "placement/region"), ("instanceId", "instance-id"),
                               ("instanceType", "instance-type"), ("imageId", "ami-id")):
                if key in md:
                    doc[field] = md[key]
            if "local-ipv4" in md:
                doc["privateIp"] = md["local-ipv4"]
            else:
                doc.pop("privateIp", None)
        # Real documents are pretty-printed as `"key" : value` with two-space indent.
        return Verbatim(json.dumps(doc, indent=2, separators=(",", " : ")))

    def _lookup(self, segs, now):
        if not segs:
            return self._listing(list(VERSIONS))
        version, rest = segs[0], segs[1:]
        if version not in VERSIONS:
            return error_reply(404)
        has_dynamic = version_key(version) >= version_key(DYNAMIC_SINCE)
        has_user_data = self.config["user_data"] and self.fixture.user_data is not None
        if not rest:
            # The real version root lists these without trailing slashes.
            return self._listing(["dynamic"] * has_dynamic + ["meta-data"]
                                 + ["user-data"] * has_user_data)
        category, rest = rest[0], rest[1:]
        if category == "meta-data":
            return self._tree_reply(self._metadata_view(version, now), rest)
        if category == "dynamic" and has_dynamic:
            tree = dict(self.fixture.dynamic)
            tree["instance-identity/document"] = self._identity_document(
                self._metadata_view("latest", now))
            return self._tree_reply(tree, rest)
        if category == "user-data" and not rest and has_user_data:
            return Reply(200, self.fixture.user_data, "application/octet-stream")
        return error_reply(404)

    def _listing(self, entries):
        text = "\n".join(entries)
        return Reply(200, text + "\n" if self.config["trailing_newline"] else text)

    def _tree_reply(self, tree, rest):
        key = "/".join(rest)
        value = tree.get(key)
        if value is not None and value is not EMPTY_DIR:
            return self._value_reply(value)
        prefix = key + "/" if key else ""
        entries = set()
        for path, val in tree.items():
            if path.startswith(prefix) and path != key:
                head, sep, _ = path[len(prefix):].partition("/")
                entries.add(head + "/" if sep or val is EMPTY_DIR else head)
        if not entries and value is not EMPTY_DIR:
            return error_reply(404)
        return self._listing(sorted(entries))

    def _value_reply(self, value):
        if isinstance(value, (dict, list)):
            return Reply(200, json.dumps(value, indent="\t"), "application/json")
        if isinstance(value, Verbatim):
            return Reply(200, str(value))
        text = str(value)
        return Reply(200, text + "\n" if self.config["trailing_newline"] else text)

    # -- Control API ----------------------------------------------------------

    def control(self, method, name, body):
        """Handle /_sim/<name>. Returns (status, json-able object)."""
        with self.lock:
            route = (method, name)
            if route == ("GET", "health"):
                return 200, {"ok": True}
            if route == ("GET", "requests"):
                return 200, [dict(r) for r in self.log]
            if route == ("DELETE", "requests"):
                count, self.log = len(self.log), []
                return 200, {"cleared": count}
            if route == ("GET", "config"):
                return 200, dict(self.config)
            if route == ("POST", "config"):
                updates = _object(body)
                for key, value in updates.items():
                    if key not in CONFIG_KINDS:
                        raise ControlError(400, f"unknown config key {key!r}")
                    _check(value, CONFIG_KINDS[key], key)
                self.config.update(updates)   # validated first: all or nothing
                return 200, dict(self.config)
            if route == ("POST", "spot"):
                req = _object(body, {"action", "delay_seconds"})
                action = _check(req.get("action", "terminate"), SPOT_ACTIONS, "action")
                delay = _check(req.get("delay_seconds", 0), "num", "delay_seconds")
                self.spot = {"action": action, "visible_at": time.monotonic() + delay,
                             "time": rfc3339(time.time() + delay + SPOT_WARNING_SECONDS)}
                return 200, {"action": action, "time": self.spot["time"]}
            if route == ("POST", "rebalance"):
                req = _object(body, {"delay_seconds"})
                delay = _check(req.get("delay_seconds", 0), "num", "delay_seconds")
                self.rebalance = {"visible_at": time.monotonic() + delay,
                                  "noticeTime": rfc3339(time.time() + delay)}
                return 200, {"noticeTime": self.rebalance["noticeTime"]}
            if route == ("POST", "asg"):
                state = _object(body, {"state"}).get("state")
                if not (state in ASG_STATES or (isinstance(state, str)
                                                and re.fullmatch(r"Warmed:[A-Za-z]+", state))):
                    raise ControlError(400, "state: expected " + "|".join(ASG_STATES)
                                       + "|Warmed:<State>")
                self.asg_state = state
                return 200, {"state": state}
            if route == ("POST", "events"):
                req = _object(body, {"code", "state", "description"})
                code = _check(req.get("code", "system-reboot"), EVENT_CODES, "code")
                state = _check(req.get("state", "active"), EVENT_STATES, "state")
                desc = req.get("description", "scheduled " + code.replace("-", " "))
                if not isinstance(desc, str):
                    raise ControlError(400, "description: expected string")
                now = time.time()
                # Mirrors AEMM's defaults: NotAfter +7 d, NotBeforeDeadline +9 d.
                event = {"NotBefore": event_date(now), "Code": code, "Description": desc,
                         "EventId": self.fixture.event_id, "NotAfter": event_date(now + 7 * 86400),
                         "NotBeforeDeadline": event_date(now + 9 * 86400), "State": state}
                self.events.append(event)
                return 200, list(self.events)
            if route == ("GET", "tags"):
                return 200, dict(self.tags)
            if route == ("POST", "tags"):
                tags = _object(body)
                for key, value in tags.items():
                    # Tag keys exposed in IMDS may not contain spaces or '/' (Using_Tags.html).
                    if not key or " " in key or "/" in key or key in (".", "..") \
                            or not isinstance(value, str):
                        raise ControlError(400, f"bad tag {key!r}: keys without spaces or '/', "
                                                "string values")
                self.tags = dict(tags)
                return 200, dict(self.tags)
            if route == ("POST", "expire-tokens"):
                count, self.tokens = len(self.tokens), {}
                return 200, {"expired": count}
            if method == "DELETE" and name in ("spot", "rebalance", "asg", "events"):
                self.spot = None if name == "spot" else self.spot
                self.rebalance = None if name == "rebalance" else self.rebalance
                self.asg_state = None if name == "asg" else self.asg_state
                self.events = [] if name == "events" else self.events
                return 200, {"cleared": name}
            known = {"health", "requests", "config", "spot", "rebalance", "asg", "events",
                     "tags", "expire-tokens"}
            raise ControlError(405 if name in known else 404,
                               f"no control route {method} /_sim/{name}")


def _object(body, allowed=None):
    """Parse a control body as a JSON object (empty body = {})."""
    if not body.strip():
        return {}
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ControlError(400, "body must be a JSON object")
    extra = set(obj) - allowed if allowed is not None else set()
    if extra:
        raise ControlError(400, f"unknown keys: {', '.join(sorted(extra))}")
    return obj


# ---------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive; every answer carries Content-Length
    server_version = "EC2ws"        # the real service's Server header
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("imds-sim: %s %s\n" % (self.client_address[0], fmt % args))

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True   # not supported; closing keeps framing sane
            return b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def setup(self):
        super().setup()
        self.conn = self.server.sim.connected()

    def _send(self, status, body, ctype, headers, head_only=False, single_write=False, cut=False):
        self.send_response(status, REASONS.get(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if head_only:
            self.end_headers()
        elif cut:
            # The connection drops in the middle of the body: Content-Length promised more.
            self.close_connection = True
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
        elif self.server.sim.config["trickle_ms"] > 0 and self.path.find("/_sim") != 0:
            # A congested or stalled path: the body arrives one byte at a time.
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(self.server.sim.config["trickle_ms"] / 1000.0)
        elif single_write:
            # end_headers() would write the buffered head on its own; queue the blank
            # line and the body behind it instead, so flush_headers() writes it all at once.
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:
            self.end_headers()
            self.wfile.write(body)

    def _dispatch(self):
        body = self._read_body()
        path = urlsplit(self.path).path
        if path == "/_sim" or path.startswith("/_sim/"):
            self._control(path, body)
        elif body is None:
            reply = error_reply(413)
            self._send(413, reply.body, reply.ctype, {})
        else:
            self._imds()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def _control(self, path, body):
        try:
            if body is None:
                raise ControlError(413, "body too large")
            status, obj = self.server.sim.control(self.command, path[len("/_sim/"):].strip("/"),
                                                  body)
        except ControlError as exc:
            status, obj = exc.status, {"error": str(exc)}
        data = (json.dumps(obj, indent=1) + "\n").encode("utf-8")
        self._send(status, data, "application/json", {}, head_only=self.command == "HEAD")

    def _imds(self):
        sim = self.server.sim
        record, reply, delay = sim.begin(self.command, self.path, self.headers, self.conn)
        if reply.hang:
            sim.abandon()
            self._hold_open()
            return
        if delay > 0:
            time.sleep(delay)
        sim.gather(record)
        single_write = sim.finish(record, reply.status)
        self._send(reply.status, reply.body, reply.ctype, reply.headers,
                   head_only=self.command == "HEAD", single_write=single_write,
                   cut=len(reply.body) > 1 and sim.take_cut())

    def _hold_open(self):
        """Never answer: wait until the client gives up (EOF) or the hold time ends."""
        self.close_connection = True
        deadline = time.monotonic() + HOP_LIMIT_HOLD_SECONDS
        sock = self.connection
        try:
            while time.monotonic() < deadline:
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable and not sock.recv(4096):
                    return   # client closed
        except OSError:
            return


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, family, sim, verbose):
        self.address_family = family
        self.sim, self.verbose = sim, verbose
        super().__init__((host, port), Handler, bind_and_activate=False)

    def handle_error(self, request, client_address):
        # A client hanging up mid-answer (timeouts are the point of several tests)
        # is normal here; anything else still gets a traceback on stderr.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn() (a resolver lookup);
        # this process must stay strictly local, so skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def loopback(text):
    """(address, family) when text is a loopback IP literal, else None."""
    raw = text.strip()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if ip.version == 4 and ip in ipaddress.ip_network("127.0.0.0/8"):
        return str(ip), socket.AF_INET
    if ip.version == 6 and ip == ipaddress.IPv6Address("::1"):
        return "::1", socket.AF_INET6
    return None


def non_negative(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
        return value
    return parse


def parse_args(argv):
    nat, num = non_negative(int), non_negative(float)
    p = argparse.ArgumentParser(
        prog="imds_sim.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Loopback-only EC2 Instance Metadata Service simulator for tests.\n"
                    "Prints 'imds-sim listening on http://HOST:PORT' once bound; exits 0 on "
                    "SIGTERM/SIGINT, 2 on bad arguments.",
        epilog="Control API (same port, never logged, ignores mode/faults/latency):\n"
               "  GET /_sim/health | GET, DELETE /_sim/requests | GET, POST /_sim/config\n"
               "  POST, DELETE /_sim/spot {\"action\":\"terminate|stop|hibernate\","
               "\"delay_seconds\":0}\n"
               "  POST, DELETE /_sim/asg {\"state\":\"InService\"} | POST, DELETE "
               "/_sim/rebalance {}\n"
               "  POST, DELETE /_sim/events {\"code\":\"system-reboot\",\"state\":\"active\"}\n"
               "  GET, POST /_sim/tags {\"Key\":\"Value\"} | POST /_sim/expire-tokens\n"
               "Config keys for POST /_sim/config: " + ", ".join(CONFIG_KINDS) + ".\n"
               "See the module docstring for details.")
    g = p.add_argument_group("listener")
    g.add_argument("--listen", default="127.0.0.1", metavar="HOST",
                   help="loopback IP to bind: 127.0.0.0/8 or ::1 (default %(default)s); "
                        "anything else exits 2")
    g.add_argument("--port", type=nat, default=0, metavar="N",
                   help="TCP port; 0 = ephemeral (default)")
    g.add_argument("--port-file", metavar="PATH",
                   help="once bound, atomically write the port number (digits + newline) here")
    g.add_argument("--ipv6-listen", metavar="HOST",
                   help="optional second listener standing in for [fd00:ec2::254] "
                        "(loopback only, e.g. ::1); off by default; same state")
    g.add_argument("--ipv6-port", type=nat, default=0, metavar="N",
                   help="port of the second listener (default 0 = ephemeral)")
    g.add_argument("--ipv6-port-file", metavar="PATH",
                   help="write the second listener's port here; its address goes to stderr")
    g.add_argument("--verbose", action="store_true", help="log every request to stderr")
    g = p.add_argument_group("data")
    g.add_argument("--fixture", default=DEFAULT_FIXTURE, metavar="PATH",
                   help="AEMM-format metadata JSON (default: "
                        "../fixtures/imds/aemm-metadata-default-values.json beside this script)")
    g.add_argument("--scenario", choices=SCENARIOS, default="default",
                   help="default: fixture data; local-zone: us-west-2 / us-west-2-lax-1a / "
                        "usw2-lax1-az1; wavelength: us-east-1 / us-east-1-wl1-bos-wlz-1 / "
                        "use1-wl1-bos-wlz1; private-subnet: public-ipv4 and public-hostname 404; "
                        "ipv6-only: local-ipv4 404, ipv6 2001:db8::1234; spot: "
                        "instance-life-cycle=spot")
    g.add_argument("--raw-fixture", action="store_true",
                   help="serve the fixture's identity document unchanged (its AZ us-east-1f and "
                        "privateIp disagree with meta-data); default: make it consistent with "
                        "placement/local-ipv4/instance-id/instance-type/ami-id, as on EC2")
    g.add_argument("--tags", action="store_true",
                   help="expose tags/instance (fixture tags Name, Test); 404 otherwise")
    g.add_argument("--no-user-data", action="store_true", help="user-data answers 404")
    g.add_argument("--trailing-newline", action="store_true",
                   help="append \\n to text/plain values and listings (not JSON, not user-data)")
    g = p.add_argument_group("behaviour and faults")
    g.add_argument("--mode", choices=MODES, default="optional",
                   help="optional: IMDSv1 allowed, a present bad/expired token gets 401; "
                        "required: missing/bad/expired token gets 401; disabled: every "
                        "request gets 403; v1-only: the token PUT gets 404 and tokens are "
                        "ignored (default %(default)s)")
    g.add_argument("--hop-limit", action="store_true",
                   help="simulate PUT response hop limit 1 from a container: the token PUT is "
                        "accepted but never answered (held open up to 60 s or until the client "
                        "closes; logged with status 0); GETs behave per --mode")
    g.add_argument("--refuse-seconds", type=num, default=0.0, metavar="S",
                   help="bind at once (port is announced) but listen() only after S seconds, "
                        "so early connections get ECONNREFUSED")
    g.add_argument("--transient-401", type=nat, default=0, metavar="N",
                   help="answer the first N metadata GET/HEAD requests 401 (boot race)")
    g.add_argument("--fail-429", type=nat, default=0, metavar="N",
                   help="answer the first N requests (any path, token PUT included) 429 with an "
                        "HTML body and Retry-After")
    g.add_argument("--fail-503", type=nat, default=0, metavar="N",
                   help="then answer the next N requests 503 with Retry-After")
    g.add_argument("--retry-after", type=nat, default=1, metavar="S",
                   help="Retry-After seconds on 429/503 answers (default %(default)s)")
    g.add_argument("--rate-limit", type=nat, default=0, metavar="N",
                   help="more than N requests within one second get 429 (0 = off, default)")
    g.add_argument("--latency-ms", type=num, default=0.0, metavar="N",
                   help="delay every IMDS answer by N milliseconds")
    g.add_argument("--single-write", action="store_true",
                   help="send each IMDS answer in one write (default: two, head then body, "
                        "so the body waits for the client's ACK of the head: Nagle)")
    return p.parse_args(argv)


class _Shutdown(Exception):
    pass


def _on_signal(signum, frame):
    raise _Shutdown()


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{port}\n")
    os.rename(tmp, path)   # atomic: readers never see a partial number


def run(argv, servers, serving):
    """Parse, load, bind, announce, (maybe) wait, then serve until a signal."""
    args = parse_args(argv)
    listeners = [(args.listen, args.port, args.port_file)]
    if args.ipv6_listen:
        listeners.append((args.ipv6_listen, args.ipv6_port, args.ipv6_port_file))
    resolved = []
    for host, port, port_file in listeners:
        addr = loopback(host)
        if addr is None:
            print(f"imds-sim: refusing to listen on {host!r}: only 127.0.0.0/8 or ::1 allowed",
                  file=sys.stderr)
            return 2
        resolved.append((addr, port, port_file))
    try:
        fixture = Fixture(args.fixture)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"imds-sim: cannot load fixture {args.fixture}: {exc}", file=sys.stderr)
        return 2
    sim = SimState(fixture, {
        "mode": args.mode, "hop_limit": args.hop_limit, "latency_ms": args.latency_ms,
        "fail_429": args.fail_429, "fail_503": args.fail_503, "retry_after": args.retry_after,
        "transient_401": args.transient_401, "rate_limit": args.rate_limit,
        "scenario": args.scenario, "raw_fixture": args.raw_fixture, "tags": args.tags,
        "trailing_newline": args.trailing_newline, "user_data": not args.no_user_data,
        "single_write": args.single_write, "gather": 0,
        "trickle_ms": 0.0, "identity_document": None, "cut_bodies": 0})
    for index, ((host, family), port, port_file) in enumerate(resolved):
        server = SimServer(host, port, family, sim, args.verbose)
        servers.append(server)
        try:
            server.server_bind()
        except OSError as exc:
            print(f"imds-sim: cannot bind {host}:{port}: {exc}", file=sys.stderr)
            return 2
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        line = f"imds-sim listening on http://{shown}:{server.server_port}"
        # stdout carries exactly one line (the main listener); the optional second one
        # is announced on stderr.
        print(line, file=sys.stdout if index == 0 else sys.stderr, flush=True)
        if port_file:
            write_port_file(port_file, server.server_port)
    if args.refuse_seconds > 0:
        # Bound but not listening: the kernel answers SYNs with RST (ECONNREFUSED).
        time.sleep(args.refuse_seconds)
    for server in servers:
        server.server_activate()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
        serving.append(server)
    while True:
        time.sleep(3600)


def main(argv=None):
    # Handlers first, so a SIGTERM at any point after start-up is a clean exit 0.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    servers, serving = [], []
    try:
        return run(argv, servers, serving)
    except _Shutdown:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one clean shutdown only
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for server in serving:
            server.shutdown()       # waits for serve_forever (<= poll_interval)
        return 0
    finally:
        for server in servers:
            server.server_close()   # handler threads are daemons: nothing to join


if __name__ == "__main__":
    sys.exit(main())
