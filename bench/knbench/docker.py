"""A private dockerd as the tests run it (tests/support/dockerd.cpp): its own socket, config
file, data root, exec root and pidfile in a temp dir; no iptables; optionally a bridge of its
own (knbenchN, 10.213.23N.1/24), deleted at exit."""

import http.client
import json
import os
import shutil
import socket
import subprocess

from . import procs, sims


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def available():
    if os.geteuid() != 0:
        return "not root (dockerd needs root)"
    if not shutil.which("dockerd"):
        return "dockerd not installed (Debian package docker.io)"
    return None


class Dockerd:
    def __init__(self, work, bridge=False):
        self.dir = os.path.join(work, "docker")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.config = os.path.join(self.dir, "daemon.json")
        self.pidfile = os.path.join(self.dir, "docker.pid")
        with open(self.config, "w") as f:
            json.dump({"deprecated-key-path": os.path.join(self.dir, "key.json")}, f)
        self.bridge = None
        net = ["--bridge=none"]
        if bridge:
            for n in range(8):
                name = f"knbench{n}"
                if subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True).returncode == 0:
                    self.bridge = name
                    procs.on_exit(lambda: subprocess.run(["ip", "link", "del", name], capture_output=True))
                    subprocess.run(["ip", "addr", "add", f"10.213.23{n}.1/24", "dev", name], check=True)
                    subprocess.run(["ip", "link", "set", name, "up"], check=True)
                    net = [f"--bridge={name}", "--ip-forward=false", "--ip-masq=false"]
                    break
            else:
                raise RuntimeError("failed to create a bench bridge: knbench0..knbench7 all exist")
        procs.on_exit(self._unmount)
        self.proc = procs.spawn(["dockerd", f"--host=unix://{self.sock}", f"--config-file={self.config}",
                                 f"--data-root={self.dir}/data", f"--exec-root={self.dir}/exec",
                                 f"--pidfile={self.pidfile}", *net, "--iptables=false", "--ip6tables=false",
                                 "--storage-driver=vfs"], sims.base_env(), stdout=os.path.join(self.dir, "log"),
                                stderr=os.path.join(self.dir, "log"))
        if not procs.wait_until(self._ping, 60, 0.1):
            raise RuntimeError(f"failed to start a private dockerd: see {self.dir}/log")

    def _ping(self):
        try:
            return self.get("/_ping", raw=True) == b"OK"
        except OSError:
            return False

    def request(self, method, path, body=None, timeout=120):
        c = UnixHTTPConnection(self.sock, timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            c.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def get(self, path, raw=False):
        status, data = self.request("GET", path)
        return data if raw else json.loads(data)

    def labels(self):
        return self.get("/info").get("Labels") or []

    def env(self):
        return {"DOCKER_HOST": f"unix://{self.sock}", "KONTENA_DOCKER_CONFIG": self.config,
                "KONTENA_DOCKER_PIDFILE": self.pidfile}

    def cli(self, *args, **kw):
        return subprocess.run(["docker", "-H", f"unix://{self.sock}", *args], env=sims.base_env(),
                              capture_output=True, check=True, **kw)

    def _unmount(self):
        # vfs/containerd may leave mounts under the private data root (deepest first).
        mounts = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp.startswith(self.dir + "/"):
                    mounts.append(mp)
        for mp in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)

    def stop(self):
        children = [int(c) for c in _children_of(self.proc.pid)]
        procs.stop(self.proc, grace=20)
        for pid in children:  # containerd outlives dockerd for a moment
            procs.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 5, 0.05)
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self.bridge = None
        self._unmount()


def _children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(name)
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return out
