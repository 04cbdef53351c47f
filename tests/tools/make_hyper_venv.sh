#!/bin/sh
# Create a separate virtualenv holding hyper 0.7.0 (2016) and its own pinned old
# dependencies (h2 2.x, hpack, hyperframe 3.x), isolated from the main environment.
#
#   HYPER_VENV=/path/to/venv PYTHON=python3.11 tests/tools/make_hyper_venv.sh
#
# Default path: <repo>/.venv-hyper. Idempotent: does nothing if hyper is already there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${HYPER_VENV:-$(cd "$here/../.." && pwd)/.venv-hyper}
python=${PYTHON:-python3}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("hyper") == "0.7.0"' 2>/dev/null; then
    echo "hyper venv ready: $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hyper==0.7.0"
echo "hyper venv ready: $venv"
