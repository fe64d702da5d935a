#!/usr/bin/env bash
# Sets up everything rtlgen needs on a Debian machine, then runs one job:
#
#   bash bootstrap.sh demo    # the main job on the embedded default (no data files needed)
#   bash bootstrap.sh test    # the whole test suite
#   bash bootstrap.sh setup   # only the setup
#
# Idempotent: each step is skipped when what it makes is already there.
#   apt packages : iverilog yosys opensta (+ python3-venv, g++, make, perl for Verilator builds)
#   .deps/osu018 : osu018_stdcells.lib from Debian's qflow-tech-osu018 (downloaded and unpacked,
#                  not installed: the package's dependencies are heavy)
#   .venv        : the Python environment with rtlgen installed in editable mode
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
job="${1:-setup}"
shift || true

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
for tool in iverilog:iverilog yosys:yosys sta:opensta g++:g++ make:make perl:perl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "bootstrap: installing ${need_apt[*]}" >&2
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${need_apt[@]}"
fi

lib=.deps/osu018/usr/share/qflow/tech/osu018/osu018_stdcells.lib
if [ ! -f "$lib" ]; then
    echo "bootstrap: fetching osu018_stdcells.lib (qflow-tech-osu018)" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download qflow-tech-osu018 >/dev/null 2>&1) || {
        as_root apt-get update -q && (cd "$tmp" && apt-get download qflow-tech-osu018); }
    mkdir -p .deps/osu018.part
    dpkg -x "$tmp"/qflow-tech-osu018_*.deb .deps/osu018.part
    rm -rf .deps/osu018 "$tmp"
    mv .deps/osu018.part .deps/osu018
fi

stamp=.venv/.rtlgen-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: creating .venv and installing rtlgen" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi

export PATH="$here/.venv/bin:$PATH"
case "$job" in
    setup) ;;
    demo) exec rtlgen demo "$@" ;;
    test) exec python -m pytest -q "$@" ;;
    *) echo "bootstrap: unknown job '$job' (expected demo, test or setup)" >&2; exit 2 ;;
esac
