# Shared by scripts/demo and scripts/test: a project virtualenv with ccmig installed.
# Sourced, not run. Installs nothing outside the project except, for tests, Debian packages.
# CCMIG_EXTRAS (set by the sourcing script): "" for the demo (ccmig and its runtime
# dependencies only: no test-only keyring such as keyrings.alt in the admin's
# environment), "test" for the tests. The stamp records what was installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ccmig needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 2
fi
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 2; }
fi
EXTRAS="${CCMIG_EXTRAS-}"
stamp="$VENV/.ccmig-installed"
# Reinstall when pyproject.toml changed or these extras were not installed yet
# (the stamp holds the extras: "" or "test"; tests' extras include the demo's).
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
   || { [ -n "$EXTRAS" ] && [ "$(cat "$stamp")" != "$EXTRAS" ]; }; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
  printf '%s' "$EXTRAS" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
