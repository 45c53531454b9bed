#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<fuzzer>/ from the repository's fixtures and a
list of hostile inputs (newlines, %, $, quotes, backslashes, NUL, very long values, YAML
anchors). Deterministic; rerun after changing it and commit the result:
    fuzz/make_corpus.py
The files are small on purpose: libFuzzer grows its own corpus from them (scripts/fuzz.sh
keeps that work corpus under build-fuzz/, not here)."""
import hashlib
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
SEP = b"\x01"

HOSTILE = [
    "a\nExecStartPre=/bin/sh -c evil", "a\rb", "x\x00y", "100%", "%n%i%%", "$HOME", "${HOME}", "$$",
    "it's", 'say "hi"', "back\\", "\\\\", "a b\tc", "; rm -rf /", "`id`", "$(id)", "*&anchor", "<<: *a",
    "{key: v}", "- item", "#comment", "x" * 1200, "\u00e9\u4e2d", "\x7f", "--flag=1", "a=b=c",
]


def put(fuzzer, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    d = CORPUS / fuzzer
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# --- msgpack_rpc: the frames of docs/protocol.md, hand-encoded (MessagePack spec:
# https://github.com/msgpack/msgpack/blob/master/spec.md).
def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


frames = {
    "master_info": [2, "/agent/master_info", [{"version": "1.5.4"}]],
    "node_info": [2, "/agent/node_info", [{"id": "n1", "name": "vm", "grid": {"name": "g"}, "labels": ["az=a"]}]],
    "request_unserved": [0, 7, "/containers/inspect", ["abc"]],
    "request_served": [0, 8, "/service_pods/notify_update", ["deploy"]],
    "response_ok": [1, 1, None, {"ok": True}],
    "response_err": [1, 2, {"code": 500, "message": "boom"}, None],
    "wrong_types": [1, "1", 5, []],
    "bad_kind": [9, 1, "/x", []],
    "short": [0, 1],
    "big_id": [0, 2**32 - 1, "/x", []],
    "neg_id": [0, -1, "/x", []],
    "float_params": [2, "/agent/node_info", [1.5]],
}
for name, f in frames.items():
    put("msgpack_rpc", name, mp(f))
put("msgpack_rpc", "truncated", mp(frames["node_info"])[:9])
put("msgpack_rpc", "not_array", mp({"a": 1}))

# --- labels
for i, t in enumerate(["az=a", "region=us-east-1 az=a,disk=ssd", "io.docker.x=1", "a=1 a=2", "k=", "=v",
                       "com.docker.k=v", "team/web=x", "k=v\"", "k=v\\", "a=b=c"] + HOSTILE[:20]):
    put("labels", f"seed{i:02d}", t)

# --- daemon_json: "<labels>\x01<daemon.json>"
daemon = [
    ("az=a region=us-east-1", '{"labels":["az=b","team=web"],"log-driver":"journald","storage-driver":"overlay2"}'),
    ("az=a", '{"debug":true,"labels":"az=a"}'),
    ("az=a", "{}"),
    ("az=a", "[]"),
    ("az=a", '{"labels":["az=a","az=b"]}'),
    ("az=a", '{"labels":[1,2]}'),
    ("az=a ephemeral=true", '{"labels":["ephemeral=true","x=1"],"insecure-registries":["127.0.0.1:5000"]}'),
    ("az=a", '{"a":1,"a":2}'),
    ("az=a", '{"labels":["az=a"]} trailing'),
    ("az=a", '\ufeff{"labels":[]}'),
]
for i, (labels, text) in enumerate(daemon):
    put("daemon_json", f"seed{i:02d}", labels.encode() + SEP + text.encode())
put("daemon_json", "no_file", b"az=a region=us-east-1")

# --- unit_template: "<template>\x01<region>\x01<az>\x01<az id>\x01<id>\x01<type>\x01<lifecycle>\x01<ip>\x01<ip>\x01<labels>"
efs = (ROOT / "cloud-config/templates/efs-data.mount").read_bytes()
zone_conf = next((ROOT / "cloud-config/templates/docker.service.d").glob("*.conf")).read_bytes()
normal = [b"us-east-1", b"us-east-1a", b"use1-az4", b"i-1234567890abcdef0", b"m4.xlarge", b"on-demand",
          b"10.0.0.5", b"54.1.2.3", b"disk=ssd"]
exec_tpl = (b"[Service]\nExecStart=/bin/echo $region ${az} \\$HOME $$x\nEnvironment=ZONE=$availability_zone\n"
            b"Description=zone $availability_zone\nExecStartPre=/bin/sh -c 'echo $instance_id' \\\n  $public_ipv4\n")
put("unit_template", "efs", efs + SEP + SEP.join(normal))
put("unit_template", "zone_conf", zone_conf + SEP + SEP.join(normal))
put("unit_template", "exec", exec_tpl + SEP + SEP.join(normal))
put("unit_template", "local_zone", exec_tpl + SEP + SEP.join([b"us-west-2", b"us-west-2-lax-1a"] + normal[2:]))
for i, h in enumerate(HOSTILE):
    hb = h.encode("utf-8", "surrogateescape")
    for field in (0, 1, 3, 4, 5):  # region, az, id, type, lifecycle
        values = list(normal)
        values[field] = (values[1] + hb) if field == 1 else (values[0] + hb if field == 0 else hb)
        if field == 0:
            values[1] = values[0] + b"a"
        put("unit_template", f"hostile{i:02d}_{field}", exec_tpl + SEP + SEP.join(values))

# --- imds_placement: document, zone id, lifecycle, zone, local ip, public ip, region, id, type
identity = {"region": "us-east-1", "availabilityZone": "us-east-1a", "instanceId": "i-1234567890abcdef0",
            "instanceType": "m4.xlarge", "privateIp": "10.0.0.5", "accountId": "123456789012"}
base = [json.dumps(identity), "use1-az4", "on-demand", "us-east-1a", "10.0.0.5", "54.1.2.3", "us-east-1",
        "i-1234567890abcdef0", "m4.xlarge"]
put("imds_placement", "default", SEP.join(x.encode() for x in base))
lz = dict(identity, region="us-west-2", availabilityZone="us-west-2-lax-1a")
put("imds_placement", "local_zone", SEP.join(x.encode() for x in [json.dumps(lz)] + base[1:3] + ["us-west-2-lax-1a"] + base[4:]))
put("imds_placement", "no_document", SEP.join(x.encode() for x in [""] + base[1:]))
put("imds_placement", "truncated", SEP.join(x.encode() for x in [json.dumps(identity)[:40]] + base[1:]))
put("imds_placement", "wrong_types", SEP.join(x.encode() for x in [json.dumps(dict(identity, region=5))] + base[1:]))
put("imds_placement", "disagree", SEP.join(x.encode() for x in [json.dumps(identity), "use1-az4", "spot", "us-east-1b"] + base[4:]))
put("imds_placement", "hostile", SEP.join(x.encode() for x in [json.dumps(dict(identity, instanceType="m4 x,\"y\\"))] + base[1:]))

# --- service_pod: the test fixture's full pod, a list, wrong types
pod = {"id": "5b6c0e/2", "desired_state": "running", "service_id": "5b6c0e", "service_name": "web.api",
       "service_revision": 3, "instance_number": 2, "deploy_rev": "2018-08-10 12:34:56 UTC",
       "image_name": "registry.example.com:5000/api",
       "image_credentials": {"username": "u", "password": "s3cret-registry-pw", "email": "e@x"},
       "cmd": ["-q"], "entrypoint": "/bin/stress", "memory": 134217728, "cpus": 1.5, "cpu_shares": 100,
       "ports": [{"ip": "127.0.0.1", "protocol": "udp", "node_port": 5353, "container_port": 53}],
       "volumes": [{"bind_mount": "/data", "path": "/var/data", "flags": "ro"}],
       "env": ["A=1"], "secrets": [{"name": "DB", "type": "env", "value": "x"}],
       "labels": {"io.kontena.service.id": "5b6c0e"}, "log_opts": {"max-size": "10m"},
       "hooks": [{"id": "h1", "type": "post_start", "cmd": "echo hi", "oneshot": True}],
       "networks": [{"name": "kontena", "subnet": "10.81.0.0/16"}], "stop_grace_period": 20}
put("service_pod", "full", json.dumps(pod))
put("service_pod", "list", json.dumps({"service_pods": [pod, dict(pod, instance_number="x"), 5]}))
for key in ["service_id", "instance_number", "image_credentials", "ports", "volumes", "env", "labels", "memory", "cpus"]:
    put("service_pod", f"wrong_{key}", json.dumps(dict(pod, **{key: [True, {"a": None}]})))
put("service_pod", "msgpack_list", mp({"service_pods": [{"id": "a/1", "service_id": "a", "instance_number": 1,
                                                          "image_name": "busybox", "desired_state": "running"}]}))

# --- config_yaml: agent.yml and values files
for p in sorted((ROOT / "cloud-config").glob("*.yml")):
    put("config_yaml", p.name, p.read_bytes())
put("config_yaml", "agent_yml", "url: wss://master.example.com\ntoken: verysecretgridtoken1234\nnode-labels: az=a\n"
                                "log-level: debug\n")
put("config_yaml", "anchors", "url: &u wss://m\ntoken: *u\nnode-labels: [a, b]\n<<: {x: 1}\n")
put("config_yaml", "templates_traversal", "url: https://m\ntoken: t\ntemplates:\n  - file: ../../etc/passwd\n"
                                          "    name: ../x.service\n")

# --- render_payload: "<values.yml>\x01<template text>"
tpl = exec_tpl
good = b"url: https://master.example.com\ntoken: s3cret-grid-token\nnode_labels: [disk=ssd, team=web]\n" \
       b"ephemeral: true\ntemplates:\n  - file: app.service\n    command: start\n  - file: app.service.d/x.conf\n" \
       b"    name: app.service.d/x.conf\n"
put("render_payload", "good", good + SEP + tpl)
for i, h in enumerate(HOSTILE):
    q = json.dumps(h)  # a JSON string is a YAML double-quoted scalar
    put("render_payload", f"token{i:02d}", f"url: https://master.example.com\ntoken: {q}\n".encode() + SEP + tpl)
    put("render_payload", f"url{i:02d}", f"url: {json.dumps('https://m.example.com/' + h)}\ntoken: t\n".encode() + SEP + tpl)
    put("render_payload", f"label{i:02d}", f"url: https://m\ntoken: t\nnode_labels: [{json.dumps('k=' + h)}]\n".encode() + SEP + tpl)
    put("render_payload", f"template{i:02d}", good + SEP + tpl + h.encode("utf-8", "surrogateescape"))
put("render_payload", "anchors", b"url: &u https://m\ntoken: *u\nnode_labels: &l [a=1]\nx: *l\n" + SEP + tpl)
put("render_payload", "merge_key", b"<<: {url: https://m, token: t}\n" + SEP + tpl)
print("corpus written:", sum(1 for _ in CORPUS.rglob("*") if _.is_file()), "files")
