#!/bin/sh
# Install what paceline's kernel sandbox needs on a Debian/Ubuntu host. Idempotent; run as root.
#   - bubblewrap (bwrap); util-linux (prlimit, setpriv) and coreutils are Essential on Debian
#   - the pool of unprivileged sandbox users paceline-sb0 .. paceline-sb<N-1>, one per concurrent
#     kernel (RLIMIT_NPROC counts per uid), no home, no login shell, locked password
# Environment: PACELINE_SANDBOX_PREFIX (default paceline-sb), PACELINE_SANDBOX_POOL (default 8).
set -eu

PREFIX=${PACELINE_SANDBOX_PREFIX:-paceline-sb}
POOL=${PACELINE_SANDBOX_POOL:-8}

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo sh $0)" >&2
    exit 1
fi

if ! command -v bwrap >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install.sh: install bubblewrap with your package manager, then run this again" >&2
        exit 1
    fi
    echo "installing bubblewrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
fi
for tool in prlimit setpriv cp; do
    command -v "$tool" >/dev/null 2>&1 || { echo "install.sh: $tool is missing (apt-get install util-linux coreutils)" >&2; exit 1; }
done

NOLOGIN=/usr/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/bin/false
i=0
while [ "$i" -lt "$POOL" ]; do
    name="$PREFIX$i"
    if ! getent group "$name" >/dev/null; then
        groupadd --system "$name"
    fi
    if ! getent passwd "$name" >/dev/null; then
        useradd --system --gid "$name" --no-create-home --home-dir /nonexistent \
            --shell "$NOLOGIN" --comment "paceline kernel sandbox" "$name"
        echo "created sandbox user $name"
    fi
    usermod --lock "$name" >/dev/null 2>&1 || true
    i=$((i + 1))
done
echo "kernel sandbox: bubblewrap $(bwrap --version | cut -d' ' -f2), users ${PREFIX}0..${PREFIX}$((POOL - 1))"
