#!/bin/sh
# Install what benchmarks/peers.py compares with, where this machine allows: Debian's etcd-server,
# etcd-client and zookeeper (as root, with apt-get), and kazoo into the given Python's
# environment. Never fails: peers.py skips, with the reason, a system that is still missing.
# Usage: benchmarks/install_peers.sh PYTHON   (`make bench-peers` runs it)
PYTHON=${1:-python3}
PACKAGES="etcd-server etcd-client zookeeper"

if command -v etcd >/dev/null && command -v etcdctl >/dev/null \
    && test -e /usr/share/java/zookeeper.jar && command -v java >/dev/null; then
    :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench-peers: apt-get install $PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
             && apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null 2>&1; } \
        || echo "bench-peers: could not install $PACKAGES; etcd and ZooKeeper will be skipped"
else
    echo "bench-peers: install $PACKAGES (Debian) for etcd and ZooKeeper; skipped without them"
fi

if ! "$PYTHON" -c "import kazoo" 2>/dev/null; then
    echo "bench-peers: pip install kazoo"
    "$PYTHON" -m pip install --quiet 'kazoo>=2.9' \
        || echo "bench-peers: could not install kazoo; ZooKeeper will be skipped"
fi
exit 0
