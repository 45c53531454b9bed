"""The project's simulators on loopback: the IMDS simulator and the Kontena master simulator."""

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.request

from . import procs

IMDS_SIM = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "support", "imds_sim.py")


def http_json(url, method="GET", body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def base_env():
    """The environment every child starts from: nothing inherited but PATH and the locale."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


# -- IMDS simulator -----------------------------------------------------------------------------

def imds_write_styles():
    """How the simulator can be asked to answer: {'two': [args], 'one': [args]}.

    Its default writes the headers and the body in two writes (Python's http.server); a newer
    simulator has a switch for one write per response. The switch is found in `--help`, so the
    bench runs against the simulator of whichever commit it is run from."""
    out = subprocess.run([sys.executable, IMDS_SIM, "--help"], capture_output=True, text=True, timeout=30).stdout
    styles = {"two": []}
    # An option naming writes, e.g. `--writes {one,two}` or `--response-writes {1,2}`.
    m = re.search(r"(--[a-z0-9-]*write[a-z0-9-]*)\s+\{([^}]*)\}", out)
    if m:
        choices = [c.strip() for c in m.group(2).split(",")]
        one = next((c for c in choices if c in ("one", "1", "single", "once")), None)
        two = next((c for c in choices if c in ("two", "2", "split", "double")), None)
        if one:
            styles["one"] = [m.group(1), one]
        if two:
            styles["two"] = [m.group(1), two]
        return styles
    # A plain flag for the single write, e.g. `--one-write` or `--single-write`.
    m = re.search(r"(--(?:one|single)[a-z0-9-]*write[a-z0-9-]*)\b", out)
    if m:
        styles["one"] = [m.group(1)]
    return styles


def imds_supports(flag):
    out = subprocess.run([sys.executable, IMDS_SIM, "--help"], capture_output=True, text=True, timeout=30).stdout
    return flag in out


class Imds:
    def __init__(self, work, name, args=()):
        self.port_file = os.path.join(work, f"{name}.port")
        self.proc = procs.spawn([sys.executable, IMDS_SIM, "--listen", "127.0.0.1", "--port", "0",
                                 "--port-file", self.port_file, *args], base_env(),
                                stderr=os.path.join(work, f"{name}.log"))
        if not procs.wait_file(self.port_file, 15):
            raise RuntimeError(f"failed to start the IMDS simulator: no port in {self.port_file} after 15 s")
        self.url = f"http://127.0.0.1:{open(self.port_file).read().strip()}"

    def clear_log(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/_sim/requests", method="DELETE"), timeout=10).read()

    def requests(self):
        return http_json(self.url + "/_sim/requests")

    def stop(self):
        procs.stop(self.proc)


# -- master simulator ---------------------------------------------------------------------------

class Master:
    """kontena-master-sim on 127.0.0.1; `restart()` keeps the port (a master restart as agents see it)."""

    def __init__(self, bin_dir, work, grid="bench", port=0, extra=(), grids=1):
        self.bin = os.path.join(bin_dir, "kontena-master-sim")
        self.work, self.grid, self.extra, self.grids = work, grid, list(extra), grids
        self.token_file = os.path.join(work, "grid-token")
        token = secrets.token_urlsafe(32)
        # --grids N serves grid NAME with TOKEN and NAME-k with TOKEN-k (a grid holds 254 nodes).
        for k in range(1, grids + 1):
            fd = os.open(self.grid_token_file(k), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (token if k == 1 else f"{token}-{k}").encode())
            os.close(fd)
        if grids > 1:
            self.extra += ["--grids", str(grids)]
        self.starts = 0
        self._start(port)

    def _start(self, port):
        self.starts += 1
        port_file = os.path.join(self.work, f"master-{self.starts}.port")
        self.proc = procs.spawn([self.bin, "--listen", "127.0.0.1", "--port", str(port), "--port-file", port_file,
                                 "--grid", self.grid, "--grid-token-file", self.token_file, "--log-level", "warn",
                                 *self.extra], base_env(),
                                stderr=os.path.join(self.work, f"master-{self.starts}.log"))
        if not procs.wait_file(port_file, 15):
            raise RuntimeError(f"failed to start kontena-master-sim: no port in {port_file} after 15 s")
        self.port = int(open(port_file).read().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def grid_token_file(self, k):
        return self.token_file if k == 1 else f"{self.token_file}-{k}"

    def grid_name(self, k):
        return self.grid if k == 1 else f"{self.grid}-{k}"

    def restart(self):
        procs.stop(self.proc)
        self._start(self.port)

    def env(self, k=1):
        return {"KONTENA_URL": self.url, "KONTENA_TOKEN_FILE": self.grid_token_file(k)}

    def rest(self, path, method="GET", body=None, timeout=30):
        return http_json(self.url + path, method, body, timeout)

    def stats(self):
        return self.rest("/v1/_sim/stats")

    def nodes(self):
        return [n for k in range(1, self.grids + 1) for n in self.rest(f"/v1/grids/{self.grid_name(k)}/nodes")["nodes"]]

    def node_online(self, name):
        try:
            return self.rest(f"/v1/nodes/{self.grid}/{name}").get("status") == "online"
        except Exception:
            return False

    def stop(self):
        procs.stop(self.proc)


def agent_env(imds_url, work, **extra):
    """A kontena-agent environment on loopback peers only: IMDS is the simulator, Docker a socket
    that does not exist (the Docker step off) unless DOCKER_HOST is given, state in `work`."""
    env = base_env()
    env.update({
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_url,
        "KONTENA_CONFIG": "/dev/null",
        "KONTENA_STATE_DIR": os.path.join(work, "state"),
        "DOCKER_HOST": "unix://" + os.path.join(work, "no-docker.sock"),
        "KONTENA_DOCKER_CONFIG": os.path.join(work, "daemon.json"),
        "KONTENA_DOCKER_PIDFILE": os.path.join(work, "docker.pid"),
        "KONTENA_LOG_LEVEL": "warn",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env
