#!/bin/sh
# Boot test, inside the guest (kn-test-check.service): checks what a real systemd boot of the
# rendered Ignition config did and prints one marker line per check on the serial console,
#   KN-BOOT ok|FAIL <check>: <what the guest saw>
# then KN-BOOT DONE and powers off. scripts/boot-test.sh parses these lines.
exec >/dev/ttyS0 2>&1
failed=0
ok() { echo "KN-BOOT ok $1: $2"; }
bad() { echo "KN-BOOT FAIL $1: $2"; failed=$((failed + 1)); }
show() { systemctl show -P "$2" "$1"; }
# wait_for SECONDS COMMAND...: polls every 0.5 s, bounded.
wait_for() {
  limit=$(($1 * 2)); shift; n=0
  until "$@"; do n=$((n + 1)); [ "$n" -ge "$limit" ] && return 1; sleep 0.5; done
}
master_nodes() { curl -sf http://127.0.0.1:9292/v1/grids/test/nodes; }
# node_field EXPR: a Python expression over n (the first node of the grid), printed.
node_field() {
  master_nodes | python3 -c "import json,sys; ns=json.load(sys.stdin); ns=ns.get('nodes', ns) if isinstance(ns, dict) else ns; n=ns[0] if ns else None; print($1 if n else '')"
}
active() { [ "$(show "$1" ActiveState)" = active ]; }

echo "KN-BOOT START $(uname -r), $(systemctl --version | head -n 1)"

# 1. The sysext image Ignition placed in /etc/extensions was merged into /usr before the units ran.
if systemd-sysext status 2>&1 | grep -q kontena-node && [ -x /usr/bin/kontena-agent ]; then
  ok sysext-at-boot "systemd-sysext.service $(show systemd-sysext.service ActiveState), /usr/bin/kontena-agent: $(/usr/bin/kontena-agent --version 2>&1 | head -n 1)"
else
  bad sysext-at-boot "$(systemd-sysext status 2>&1 | tr '\n' ' ')"
fi

# 2. kontena-bootstrap.service finished before docker.service started.
wait_for 300 active docker.service
b_result=$(show kontena-bootstrap.service Result)
b_exit=$(show kontena-bootstrap.service ExecMainExitTimestampMonotonic)
d_start=$(show docker.service ExecMainStartTimestampMonotonic)
if [ "$b_result" = success ] && [ "${b_exit:-0}" -gt 0 ] && [ "${d_start:-0}" -gt "$b_exit" ]; then
  ok bootstrap-before-docker "kontena-bootstrap exited at ${b_exit} us, dockerd started at ${d_start} us (monotonic), result ${b_result}"
else
  bad bootstrap-before-docker "bootstrap result ${b_result} exit ${b_exit} us, docker start ${d_start} us"
fi

# 3. docker info shows the labels, and dockerd started once (no restart to pick them up).
labels=$(docker info --format '{{join .Labels " "}}' 2>&1)
starts=$(journalctl -b -u docker.service -o cat | grep -c '^Started docker.service')
restarts=$(show docker.service NRestarts)
has_labels=1
for label in region=us-east-1 az=a availability-zone=us-east-1a ephemeral=true boot=test; do
  case " $labels " in *" $label "*) ;; *) has_labels=0 ;; esac
done
if [ "$has_labels" = 1 ] && [ "$starts" = 1 ] && [ "$restarts" = 0 ]; then
  ok docker-labels "docker info labels: ${labels}; docker.service started ${starts} time(s), NRestarts=${restarts}"
else
  bad docker-labels "labels '${labels}', started ${starts} time(s), NRestarts=${restarts}"
fi

# 4. A templated unit (the docker.service drop-in from /etc/kontena/templates) carries the zone.
env=$(show docker.service Environment)
case " $env " in
  *" KONTENA_AWS_AZ=a "*) ok templated-zone "docker.service Environment=${env} (from /run/systemd/system/docker.service.d/10-kontena-zone.conf)" ;;
  *) bad templated-zone "docker.service Environment='${env}'" ;;
esac

# 5. kontena-agent.service reached active through READY=1 (Type=notify) with the watchdog armed.
wait_for 300 active kontena-agent.service
a_state=$(show kontena-agent.service ActiveState); a_type=$(show kontena-agent.service Type)
a_wd=$(show kontena-agent.service WatchdogUSec); a_status=$(show kontena-agent.service StatusText)
if [ "$a_state" = active ] && [ "$a_type" = notify ] && [ -n "$a_wd" ] && [ "$a_wd" != 0 ] && [ "$a_wd" != infinity ]; then
  ok agent-ready "kontena-agent.service ${a_state} (Type=${a_type}: READY=1 received), WatchdogUSec=${a_wd}, status '${a_status}'"
else
  bad agent-ready "state ${a_state} type ${a_type} WatchdogUSec=${a_wd} status '${a_status}'"
fi

# 6. The master simulator shows the node online with its labels.
online() { [ "$(node_field "n['status']")" = online ]; }
if wait_for 300 online; then
  ok master-online "node $(node_field "n['name']") $(node_field "n['status']"), labels $(node_field "' '.join(n.get('labels') or [])")"
else
  bad master-online "nodes: $(master_nodes)"
fi

# 7. systemctl stop kontena-agent closes the connection with 1000.
systemctl stop kontena-agent.service
closed() { [ "$(node_field "n.get('close_code')")" = 1000 ]; }
if wait_for 60 closed; then
  ok stop-close-1000 "after systemctl stop: node $(node_field "n['status']"), close code $(node_field "n.get('close_code')")"
else
  bad stop-close-1000 "node: $(node_field "n")"
fi

# 8. systemd-sysext merge of the image works by hand too (unmerge, merge, run from /usr/bin).
if systemd-sysext unmerge >/dev/null 2>&1 && [ ! -e /usr/bin/kontena-bootstrap ] &&
  systemd-sysext merge >/dev/null 2>&1 && v=$(/usr/bin/kontena-bootstrap --version 2>&1); then
  ok sysext-merge "systemd-sysext unmerge + merge of /etc/extensions/kontena-node.raw: /usr/bin/kontena-bootstrap --version: ${v}"
else
  bad sysext-merge "$(systemd-sysext status 2>&1 | tr '\n' ' ')"
fi

if [ "$failed" -gt 0 ]; then
  journalctl -b -u kontena-bootstrap.service -u kontena-agent.service -u docker.service -u systemd-sysext.service \
    -u kn-test-imds.service -u kn-test-master.service --no-pager -o short-monotonic | tail -n 80 | sed 's/^/KN-BOOT journal /'
fi
echo "KN-BOOT DONE failed=${failed}"
systemctl poweroff --no-block
