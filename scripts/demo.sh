#!/usr/bin/env bash
# Set up, import the bundled sample chat into ./chat2task.db (SQLite) and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
SAMPLE="data/samples/WhatsApp Chat with Northwind Sales.txt"
.venv/bin/chat2task import "$SAMPLE" --config data/config.example.yaml
.venv/bin/chat2task tasks --config data/config.example.yaml --limit 15
.venv/bin/chat2task events --config data/config.example.yaml --limit 10
