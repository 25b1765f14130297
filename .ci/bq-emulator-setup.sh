#!/usr/bin/env bash
# Prepare the local BigQuery emulator (local-bigquery) in its own venv. Idempotent: a second run
# with the same versions only checks the stamp and the extension files.
#
# local-bigquery needs Python >= 3.13 (pyenv's 3.13.0 on these machines; override with
# BQ_EMULATOR_PYTHON) and DuckDB extensions it cannot download offline, so the extension wheels
# are installed and their files copied into DuckDB's extension directory under $HOME.
#
# Prints the path of the emulator's executable on its last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

DUCKDB_VERSION=1.5.5
PACKAGES=(
  "local-bigquery==0.3.2"
  "duckdb==${DUCKDB_VERSION}"
  "duckdb-extension-ducklake==${DUCKDB_VERSION}"
  "duckdb-extension-icu==${DUCKDB_VERSION}"
  "duckdb-extension-spatial==${DUCKDB_VERSION}"
)
HOME_DIR="${BQ_EMULATOR_HOME:-$PWD/.bnpl/bq-emulator}"
VENV="$HOME_DIR/venv"
STAMP="$VENV/.installed"

PY="${BQ_EMULATOR_PYTHON:-}"
if [[ -z "$PY" ]]; then
  if command -v pyenv >/dev/null 2>&1; then
    PY="$(pyenv root)/versions/3.13.0/bin/python"
  else
    PY="$HOME/.pyenv/versions/3.13.0/bin/python"
  fi
fi
if [[ ! -x "$PY" ]]; then
  echo "bq-emulator-setup: Python 3.13 interpreter not found at $PY; the BigQuery emulator" \
       "(local-bigquery) needs Python >= 3.13: install it with 'pyenv install 3.13.0' or set" \
       "BQ_EMULATOR_PYTHON to a Python >= 3.13 executable" >&2
  exit 3
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 13))'; then
  echo "bq-emulator-setup: $PY is $("$PY" -V 2>&1); local-bigquery needs Python >= 3.13" >&2
  exit 3
fi

# Test sessions running at once share the venv: one prepares it, the others wait.
mkdir -p "$HOME_DIR"
exec 9>"$HOME_DIR/.lock"
flock 9

WANT="$("$PY" -V 2>&1) ${PACKAGES[*]}"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
  printf '%s' "$WANT" > "$STAMP"
fi

# The wheels ship <package>/extensions/v<version>/<name>.duckdb_extension; DuckDB autoloads from
# $HOME/.duckdb/extensions/v<version>/<platform> (linux_amd64 here).
PLATFORM="$("$VENV/bin/python" -c 'import duckdb; print(duckdb.sql("PRAGMA platform").fetchone()[0])')"
EXT_DIR="$HOME/.duckdb/extensions/v${DUCKDB_VERSION}/${PLATFORM}"
mkdir -p "$EXT_DIR"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
found=0
for ext in "$SITE"/duckdb_extension_*/extensions/v"${DUCKDB_VERSION}"/*.duckdb_extension; do
  [[ -f "$ext" ]] || continue
  dest="$EXT_DIR/$(basename "$ext")"
  # A copy, not a link: another checkout's venv may come and go. Replaced atomically.
  if [[ -L "$dest" ]] || ! cmp -s "$ext" "$dest"; then
    cp "$ext" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
  fi
  found=$((found + 1))
done
if [[ "$found" -lt 3 ]]; then
  echo "bq-emulator-setup: expected 3 DuckDB extension files in $SITE, found $found" >&2
  exit 4
fi

echo "$VENV/bin/local-bigquery"
