#!/usr/bin/env bash
# The main job on the built-in demo data: installs what it needs into .venv, builds the demo
# dataset in the repository's data folders and runs every pipeline step in order. Re-running
# continues where an interrupted run stopped. Extra arguments go to make_demo_dataset.py.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$repo_root/.ci/venv.sh"
cd "$repo_root"

workers=$(( $(nproc) > 1 ? 2 : 1 ))
"$PYTHON" data_prep/make_demo_dataset.py --workers "$workers" "$@"

echo "demo data: $repo_root/traindata and $repo_root/testdata (sizes in $repo_root/dataset.json)"
