#!/usr/bin/env bash
# Installs everything scrubctl, its lab and its tests need on a fresh Debian
# machine: system packages through apt-get (when root) and the Python package
# into ./.venv. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for spec in frr:/usr/lib/frr/bgpd nftables:/usr/sbin/nft iproute2:/usr/sbin/ip \
            iputils-ping:/usr/bin/ping user-mode-linux:/usr/bin/linux.uml kmod:/usr/sbin/modprobe \
            procps:/usr/bin/pkill psmisc:/usr/bin/killall iptables:/usr/sbin/iptables-legacy \
            postgresql:/usr/lib/postgresql chromium:/usr/bin/chromium \
            chromium-driver:/usr/bin/chromedriver; do
    pkg=${spec%%:*}; file=${spec#*:}
    [ -e "$file" ] || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "bootstrap: installing Debian packages: ${need_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
        # The frr package starts its own daemons; the lab runs private ones.
        systemctl disable --now frr >/dev/null 2>&1 || service frr stop >/dev/null 2>&1 || true
    else
        echo "bootstrap: missing Debian packages (${need_pkgs[*]}); run as root to install them" >&2
    fi
fi

stamp=.venv/.scrubctl-installed
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing Python packages into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi
