# Shared by scripts/demo and scripts/test: a project virtualenv with ccmig installed.
# Sourced, not run. Installs nothing outside the project except, for tests, Debian packages.
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
# EXTRAS: the optional dependency groups to install (scripts/test adds kerberos).
EXTRAS="${CCMIG_EXTRAS:-test}"
stamp="$VENV/.ccmig-installed-${EXTRAS//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
