#!/usr/bin/env bash
# Installs what the browser, MCP client and manual-page tests need, once, and prints the Python to
# run them with (its last line of output):
#   - Chromium and ChromeDriver (Debian's chromium and chromium-driver), for the dashboard tests;
#   - man (man-db), which renders `execq man` in its test;
#   - strace (Linux), with which the durability tests check the order of syncs, links and starts;
#   - a virtual environment in target/pyenv with tests/py/requirements.txt (the MCP Python SDK,
#     Selenium, Pillow);
#   - Node.js (Debian's, if there is none) and tests/js's packages, exactly as its lockfile pins
#     them (the MCP TypeScript SDK), in tests/js/node_modules;
#   - on Linux, a one-node Slurm cluster (scripts/slurm-test-cluster.sh), for the Slurm tests.
# The tests call it themselves, so `cargo test` needs nothing else; it is quick once done.
# Installing Debian packages needs root or sudo without a password; on macOS, install Chrome (or
# Chromium) and chromedriver yourself (`brew install --cask chromium chromedriver`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" = Linux ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  command -v man >/dev/null || missing+=(man-db)
  command -v strace >/dev/null || missing+=(strace)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      sudo -n true 2>/dev/null || {
        echo "test-deps: the tests need ${missing[*]}: run \`sudo apt-get install ${missing[*]}\`" >&2
        exit 1
      }
      sudo=(sudo -n)
    fi
    echo "test-deps: installing ${missing[*]} from Debian" >&2
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
  fi
else
  command -v chromedriver >/dev/null || {
    echo "test-deps: the browser tests need chromedriver (brew install --cask chromium chromedriver)" >&2
    exit 1
  }
fi

modules=tests/js/node_modules
if ! cmp -s tests/js/package-lock.json "$modules/.package-lock.json.installed" 2>/dev/null; then
  echo "test-deps: installing tests/js/package-lock.json into $modules" >&2
  (cd tests/js && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
  cp tests/js/package-lock.json "$modules/.package-lock.json.installed"
fi

venv=target/pyenv
stamp=$venv/.requirements
if ! cmp -s tests/py/requirements.txt "$stamp" 2>/dev/null; then
  echo "test-deps: installing tests/py/requirements.txt into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/py/requirements.txt >&2
  cp tests/py/requirements.txt "$stamp"
fi
# A one-node Slurm cluster (Debian's slurm-wlm and munge, on localhost) for the Slurm executor's
# tests: installed and started here, quick when already up. The tests ask the same script for its
# SLURM_CONF (with the same MessageTimeout, which a different value would restart it for).
if [ "$(uname -s)" = Linux ]; then
  SLURM_TEST_MSG_TIMEOUT=3 bash scripts/slurm-test-cluster.sh start >&2
fi

echo "$PWD/$venv/bin/python"
