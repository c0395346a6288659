#!/usr/bin/env bash
# Installs the pinned ministack (a LocalStack-compatible AWS emulator that needs
# no Docker) into the project-local virtualenv .venv, then applies the lab's
# patches to it (scripts/patch-emulator.py; see docs/emulator-notes.md). Idempotent.
# "Installed" means the pinned version AND the patch marker, as in lab/world/emulator.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="$(cat lab/world/emulator-version)"
if [ -x .venv/bin/ministack ] && .venv/bin/pip show ministack 2>/dev/null | grep -qx "Version: $VERSION"; then
  :
else
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "ministack==$VERSION"
fi
python3 scripts/patch-emulator.py .venv "$VERSION"
