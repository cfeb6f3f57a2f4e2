#!/usr/bin/env bash
# The main job on the built-in demo data: installs what it needs into .venv, builds the demo
# dataset and runs the whole pipeline in the README's order, training every network briefly first
# (no pretrained model can be downloaded), then the parametric baseline, the evaluation table and
# contact sheets. Interrupted, it continues where it stopped when run again, with the same results.
# Extra arguments go to make_demo_dataset.py (--train, --test, --base-height, --seed).
# SIMS_DEMO_ROOT=DIR puts the data elsewhere; SIMS_DEMO_*_STEPS shorten or lengthen training.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$repo_root/.ci/venv.sh"
cd "$repo_root"
root=${SIMS_DEMO_ROOT:-$repo_root}

workers=$(( $(nproc) > 1 ? 2 : 1 ))
step() { echo "== $*" >&2; "$PYTHON" "$@" --root "$root" --workers "$workers"; }
network() { echo "== $*" >&2; "$PYTHON" "$@" --root "$root"; }
train() { network "$@" --train --save-every 10; }   # frequent checkpoints: an interrupted run loses little
transform_steps=${SIMS_DEMO_TRANSFORM_STEPS:-40}
order_steps=${SIMS_DEMO_ORDER_STEPS:-40}
synthesis_steps=${SIMS_DEMO_SYNTHESIS_STEPS:-40}

step data_prep/make_demo_dataset.py "$@"
# Memory bank, query segments, retrieval
step data_prep/train_connect_component_mask.py
step data_prep/test_connect_component_mask.py
step data_prep/search_segments.py
# Training data of the ordering network, and the dataset's class order every later step uses
step data_prep/train_generate_order.py
# 1-2: transformation
step data_prep/test_generate_transform.py
step data_prep/train_generate_transform.py
train python_code/transformation.py --max-steps "$transform_steps"
network python_code/transformation.py --test
# 3: ordering
step data_prep/test_generate_order.py
train python_code/order.py --max-steps "$order_steps" --learning-rate 1e-4
network python_code/order.py --test
# 5: canvases (and the synthesis training canvases) at the two demo levels; level 256 pastes
# segments cut from its own images (step 1 at that level)
step data_prep/test_generate_transform.py --level 256
for level in 256 512; do
  step data_prep/train_generate_synthesis.py --level "$level"
  step data_prep/test_generate_canvas.py --level "$level"
done
# 6: synthesis, coarse to fine, then the parametric baseline (empty canvases) the same way; the
# level-256 warm-up (1e-6 growing 10 % an epoch) would not move in a short run, so both levels use 1e-4
for variant in "" --parametric; do
  train python_code/synthesis_256_512.py --max-steps "$synthesis_steps" --learning-rate 1e-4 $variant
  train python_code/synthesis_512_1024.py --max-steps "$synthesis_steps" $variant
  network python_code/synthesis_512_1024.py --test $variant
done
network python_code/evaluate.py   # the table, then the contact sheets

echo "demo data:            $root/traindata, $root/testdata (sizes in $root/dataset.json)"
echo "aligned segments:     $root/result/transform/transform_512"
echo "ordering predictions: $root/result/order/data"
echo "canvases:             $root/testdata/synthesis/transform_order_512_canvas"
echo "synthesized images:   $root/result/synthesis/transform_order_512"
echo "parametric baseline:  $root/result/synthesis_parametric/transform_order_512"
echo "contact sheets:       $root/result/contact_sheets (label | canvas | synthesized | ground truth), $root/result/overview.jpg"
