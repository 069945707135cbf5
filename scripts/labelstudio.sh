#!/usr/bin/env bash
# Label Studio for the integration tests, in its own environment (.ls-venv), pinned.
#
#   bash scripts/labelstudio.sh install   create .ls-venv with label-studio and label-studio-sdk
#                                         (idempotent: a no-op when the pinned versions are there)
#   bash scripts/labelstudio.sh version   print the installed label-studio version (exit 1 if none)
#   bash scripts/labelstudio.sh clean     remove .ls-venv and the migrated-database template
#
# The server itself is started and stopped by the pytest fixture in tests/lsserver.py.
# Label Studio pins numpy<2.3, pytz<2023 and many exact versions, so it never shares aqt's venv.
set -euo pipefail
cd "$(dirname "$0")/.."

LS_VERSION=1.23.2
SDK_VERSION=2.1.2
VENV=${AQT_LS_VENV:-.ls-venv}
PY=${PYTHON:-python3}

installed_version() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - <<'EOF' 2>/dev/null
from importlib.metadata import version
print(version("label-studio"), version("label-studio-sdk"))
EOF
}

case "${1:-install}" in
install)
    if [ "$(installed_version || true)" = "$LS_VERSION $SDK_VERSION" ] && [ -x "$VENV/bin/label-studio" ]; then
        exit 0
    fi
    start=$(date +%s)
    $PY -m uv --version >/dev/null 2>&1 || $PY -m pip install -q uv >/dev/null 2>&1 || $PY -m pip install -q --user uv
    # `python -m uv` ignores VIRTUAL_ENV here, so the target interpreter is always passed explicitly.
    [ -x "$VENV/bin/python" ] || $PY -m uv venv -q --python python3.11 "$VENV"
    $PY -m uv pip install -q --python "$VENV/bin/python" \
        "label-studio==$LS_VERSION" "label-studio-sdk==$SDK_VERSION"
    got=$(installed_version || true)
    if [ "$got" != "$LS_VERSION $SDK_VERSION" ]; then
        echo "labelstudio.sh: expected label-studio $LS_VERSION / sdk $SDK_VERSION in $VENV, found '${got}'" >&2
        exit 1
    fi
    echo "labelstudio.sh: installed label-studio $LS_VERSION in $VENV in $(( $(date +%s) - start )) s" >&2
    ;;
version)
    installed_version
    ;;
clean)
    rm -rf "$VENV" .cache/ls-template-"$LS_VERSION"
    ;;
*)
    echo "usage: bash scripts/labelstudio.sh [install|version|clean]" >&2
    exit 2
    ;;
esac
