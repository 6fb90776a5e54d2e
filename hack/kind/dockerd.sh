#!/bin/sh
# Spike (issue 29): a Docker engine of the project's own, from Debian's docker.io, in a
# network namespace and mount namespace of its own, so the host's network, firewall and
# mount table are untouched. Its data under the project's cache, its addresses in
# 198.19.0.0/16 (the plane uses 198.18.0.0/24, 198.18.1.0/24 and 198.18.2.0/30).
#   hack/kind/dockerd.sh start   # prints DOCKER_HOST
#   hack/kind/dockerd.sh run CMD # CMD inside the namespace, with DOCKER_HOST set
#   hack/kind/dockerd.sh stop    # daemon, containers, namespace: all gone
set -eu
NS=obreg-kind
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${OBREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obreg}
DATA=$CACHE/docker
RUN=/tmp/obreg-kind-docker        # exec-root, socket, pid file (short paths: socket limit)
SOCK=$RUN/docker.sock
export DOCKER_HOST=unix://$SOCK

case ${1:-} in
start)
    mkdir -p "$DATA" "$RUN"
    # kind mounts the host's /lib/modules into its nodes, and Docker would create it where
    # it is missing (this VM has none): made here and noted, so stop removes it again.
    if [ ! -e /lib/modules ]; then mkdir /lib/modules && touch "$RUN/made-lib-modules"; fi
    # ip netns add makes /run/netns a mount point of its own where it is not one yet: noted,
    # so stop unmounts it again when no namespace is left in it.
    if ! mountpoint -q /run/netns; then touch "$RUN/made-netns-mount"; fi
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    # Egress for docker build (apt, pip) without a rule or a route on the host: slirp4netns
    # (Debian's package) carries the namespace's traffic through a process of the host.
    if command -v slirp4netns >/dev/null; then
        slirp4netns --configure --mtu=65520 --disable-host-loopback \
            --netns-type=path "/run/netns/$NS" tap0 >"$RUN/slirp4netns.log" 2>&1 &
        echo $! >"$RUN/slirp4netns.pid"
    fi
    # ip netns exec gives the daemon a mount namespace of its own (slave of the host's),
    # so its overlay and netns mounts never show in the host's mount table.
    ip netns exec "$NS" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    # ip netns exec mounts a fresh /sys for the namespace, which hides the host's cgroup
    # (v1) hierarchies: mount them again in the daemon's own mount namespace.
    ip netns exec "$NS" sh -c '
        mount -t tmpfs cgroup /sys/fs/cgroup
        for c in $(awk "NR>1 && \$2!=0 {print \$1}" /proc/cgroups); do
            mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
        done
        mkdir -p /sys/fs/cgroup/systemd
        mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
        exec dockerd "$@"' dockerd \
        --data-root "$DATA" --exec-root "$RUN/exec" --pidfile "$RUN/dockerd.pid" \
        --host "$DOCKER_HOST" --bip 198.19.0.1/24 \
        --default-address-pool base=198.19.16.0/20,size=24 \
        --add-runtime "obreg-runc=$HERE/runc-capped" --default-runtime obreg-runc \
        --cgroup-parent /obreg-kind --oom-score-adjust 0 --log-level warn \
        >"$RUN/dockerd.log" 2>&1 &
    i=0
    until docker version >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 60 ] || { tail -20 "$RUN/dockerd.log"; exit 1; }
        sleep 1
    done
    echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
run)
    shift
    exec ip netns exec "$NS" env DOCKER_HOST="$DOCKER_HOST" "$@"
    ;;
stop)
    if docker version >/dev/null 2>&1; then
        ids=$(docker ps -aq); [ -z "$ids" ] || docker rm -f $ids >/dev/null
    fi
    if [ -f "$RUN/dockerd.pid" ]; then
        pid=$(cat "$RUN/dockerd.pid")
        kill "$pid" 2>/dev/null || true
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
    fi
    if [ -f "$RUN/slirp4netns.pid" ]; then kill "$(cat "$RUN/slirp4netns.pid")" 2>/dev/null || true; fi
    ip netns del "$NS" 2>/dev/null || true
    # The containers' cgroups (cgroup v1 hierarchies are the host's), once emptied.
    for dir in /sys/fs/cgroup/*/obreg-kind; do
        [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    if [ -f "$RUN/made-lib-modules" ]; then rmdir /lib/modules 2>/dev/null || true; fi
    if [ -f "$RUN/made-netns-mount" ] && [ -z "$(ls -A /run/netns)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
    rm -rf "$RUN"
    ;;
*) echo "usage: $0 start|run CMD...|stop" >&2; exit 2 ;;
esac
