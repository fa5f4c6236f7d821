#!/usr/bin/env bash
# Create .venv and install tracenode with everything it needs, system libraries
# included, on a fresh Debian machine as root. Idempotent: a second run only
# checks. Used by `make demo` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
apt_updated=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: need Debian packages $* but apt-get is missing; install them by hand" >&2
        exit 1
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ "$apt_updated" -eq 0 ]; then
        $sudo apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
# libdmtx for pylibdmtx (the second-opinion DataMatrix reader).
if ! ldconfig -p 2>/dev/null | grep -q 'libdmtx\.so'; then
    apt_install libdmtx0b
fi
# Debian's python3 ships without venv/ensurepip unless python3-venv is there.
if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        apt_install "python${ver}-venv" || apt_install python3-venv
    fi
    "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
fi
