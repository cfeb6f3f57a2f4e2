#!/usr/bin/env bash
# Run the test suite (installs what it needs into .venv first). Extra arguments go to pytest.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$repo_root/.ci/venv.sh"
cd "$repo_root"
# two worker processes, a test file each at a time (its module fixtures stay in one process): most
# tests wait on subprocesses and files, so two cores finish the suite about a fifth sooner
exec "$PYTHON" -m pytest tests -n "${SIMS_TEST_WORKERS:-2}" --dist loadfile "$@"
