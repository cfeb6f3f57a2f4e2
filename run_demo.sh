#!/usr/bin/env bash
# The main job on the built-in demo data: installs what it needs into .venv, builds the demo
# dataset in the repository's data folders and runs every pipeline step in order. Re-running
# continues where an interrupted run stopped. Extra arguments go to make_demo_dataset.py.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$repo_root/.ci/venv.sh"
cd "$repo_root"

workers=$(( $(nproc) > 1 ? 2 : 1 ))
step() { echo "== $*" >&2; "$PYTHON" "$@" --workers "$workers"; }
network() { echo "== $*" >&2; "$PYTHON" "$@"; }
# No pretrained models can be downloaded: each network is trained briefly on the demo data first.
transform_steps=${SIMS_DEMO_TRANSFORM_STEPS:-60}
order_steps=${SIMS_DEMO_ORDER_STEPS:-60}
synthesis_steps=${SIMS_DEMO_SYNTHESIS_STEPS:-60}

step data_prep/make_demo_dataset.py "$@"
step data_prep/train_connect_component_mask.py     # memory bank
step data_prep/test_connect_component_mask.py      # query segments
step data_prep/search_segments.py                  # retrieval
step data_prep/train_generate_order.py             # ordering training pairs and the dataset's class order
step data_prep/test_generate_transform.py          # 1: transformation inputs
step data_prep/train_generate_transform.py         # transformation training pairs
network python_code/transformation.py --train --max-steps "$transform_steps"
network python_code/transformation.py --test       # 2
step data_prep/test_generate_order.py              # 3: ordering inputs
network python_code/order.py --train --max-steps "$order_steps" --learning-rate 1e-4
network python_code/order.py --test
for level in 256 512; do
  step data_prep/train_generate_synthesis.py --level "$level"   # synthesis training canvases
  step data_prep/test_generate_canvas.py --level "$level"       # 5: test canvases
done
network python_code/synthesis_256_512.py --train --max-steps "$synthesis_steps"
network python_code/synthesis_512_1024.py --train --max-steps "$synthesis_steps"   # starts from level 256
network python_code/synthesis_256_512.py --test
network python_code/synthesis_512_1024.py --test   # 6

echo "demo data: $repo_root/traindata and $repo_root/testdata (sizes in $repo_root/dataset.json)"
echo "retrieved segments: $repo_root/testdata/searched_top10_segments"
echo "aligned segments: $repo_root/result/transform/transform_512"
echo "ordering predictions: $repo_root/result/order/data"
echo "canvases: $repo_root/testdata/synthesis/transform_order_512_canvas"
echo "synthesized images: $repo_root/result/synthesis/transform_order_512"
