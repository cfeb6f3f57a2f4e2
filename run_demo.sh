#!/usr/bin/env bash
# The main job on the built-in demo data: installs what it needs into .venv, builds the demo
# dataset and runs the whole pipeline in the README's order, training every network first (no
# pretrained model can be downloaded), then the parametric baseline, the evaluation table and
# contact sheets. Interrupted, it continues where it stopped when run again, with the same results.
# The evaluation also trains the project's own segmenter on the demo's training images, for its
# segmentation score, and scores 100 test scenes (enough for a distribution metric to mean something).
#   ./run_demo.sh [--long | --textured] [make_demo_dataset.py options: --train, --test, --base-height, --seed, --texture-scale]
# Presets (docs/demo.md): quick (default, 11 to 32 minutes on two CPU cores, docs/demo.md) trains the synthesis network
# at level 256 and evaluates there; --long (or SIMS_DEMO_PRESET=long) trains longer and adds level
# 512 and the appearance-flow aligner; --textured (or SIMS_DEMO_PRESET=textured) is the preset that
# keeps its canvas (textured demo data, 2500 steps). SIMS_DEMO_ROOT=DIR puts
# the data elsewhere; SIMS_DEMO_TRANSFORM_STEPS (both aligners), SIMS_DEMO_ORDER_STEPS, SIMS_DEMO_SYNTHESIS_STEPS (every level),
# SIMS_DEMO_SYNTHESIS_512_STEPS and SIMS_DEMO_SEGMENTATION_STEPS override the preset's training lengths. SIMS_DEMO_STOP_AFTER=canvases
# stops once the canvases are built, before any synthesis training (for benchmarks that train it).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
preset=${SIMS_DEMO_PRESET:-quick}
case ${1:-} in --long|--textured) preset=${1#--}; shift ;; esac
# the textured preset's own settings (docs/demo.md): stronger texture in the demo data, training
# canvases without the colour transfer, and the synthesis rate lowered twice near the end
data_options=() canvas_options=()
case $preset in
  # synthesis_phases: "RATE PERCENT" each, trained at RATE up to PERCENT % of the synthesis steps
  #         levels      steps: transformation order synthesis-256 synthesis-512 segmenter; synthesis rates
  quick)    levels="256";     preset_steps=(40 40 1100 0 1500);    synthesis_phases=("3e-4 100") ;;
  long)     levels="256 512"; preset_steps=(40 40 1500 800 1500);  synthesis_phases=("1e-4 100") ;;
  textured) levels="256";     preset_steps=(40 40 2500 0 1500);    synthesis_phases=("3e-4 80" "1e-4 92" "3e-5 100")
            data_options=(--texture-scale 3) canvas_options=(--colour-transfer-chance 0) ;;
  *) echo "SIMS_DEMO_PRESET=$preset: expected quick, long or textured" >&2; exit 2 ;;
esac
source "$repo_root/.ci/venv.sh"
cd "$repo_root"
root=${SIMS_DEMO_ROOT:-$repo_root}

workers=$(( $(nproc) > 1 ? 2 : 1 ))
started=$SECONDS
say() { echo "== $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s $*" >&2; }
step() { say "$@"; "$PYTHON" "$@" --root "$root" --workers "$workers"; }
network() { say "$@"; "$PYTHON" "$@" --root "$root"; }
# frequent checkpoints, so that an interrupted run loses little; the synthesis network's are
# 0.7 GB (weights and Adam's moments), so it saves less often
train() { network "$@" --train --save-every 10; }
train_synthesis() { network "$@" --train --save-every 100; }
transform_steps=${SIMS_DEMO_TRANSFORM_STEPS:-${preset_steps[0]}}
order_steps=${SIMS_DEMO_ORDER_STEPS:-${preset_steps[1]}}
segmentation_steps=${SIMS_DEMO_SEGMENTATION_STEPS:-${preset_steps[4]}}
declare -A synthesis_steps=([256]=${SIMS_DEMO_SYNTHESIS_STEPS:-${preset_steps[2]}}
                            [512]=${SIMS_DEMO_SYNTHESIS_512_STEPS:-${SIMS_DEMO_SYNTHESIS_STEPS:-${preset_steps[3]}}})
declare -A synthesis_script=([256]=python_code/synthesis_256_512.py [512]=python_code/synthesis_512_1024.py)
final_level=${levels##* }
say "preset $preset: synthesis at level(s) $levels, evaluated at $final_level"

step data_prep/make_demo_dataset.py --base-height 32 --test 100 "${data_options[@]}" "$@"   # later options win
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
# the appearance-flow aligner (the original's Todo item 1), long preset only: the quick one keeps
# its 15 minutes, and the canvases paste the transformer's segments either way
# (benchmarks/eval_alignment.py compares the aligners)
if [[ $preset == long ]]; then
  train python_code/appearance_flow.py --max-steps "$transform_steps"
  network python_code/appearance_flow.py --test
fi
# 3: ordering
step data_prep/test_generate_order.py
train python_code/order.py --max-steps "$order_steps" --learning-rate 1e-4
network python_code/order.py --test
# 5: canvases (and the synthesis training canvases) at the demo's levels; level 256 pastes
# segments cut from its own images (step 1 at that level)
step data_prep/test_generate_transform.py --level 256
for level in $levels; do
  step data_prep/train_generate_synthesis.py --level "$level" "${canvas_options[@]}"
  step data_prep/test_generate_canvas.py --level "$level"
done
if [[ ${SIMS_DEMO_STOP_AFTER:-} == canvases ]]; then say "stopping after the canvases (SIMS_DEMO_STOP_AFTER)"; exit 0; fi
# 6: synthesis, coarse to fine, then the test phase at the final level; SIMS first, then the
# parametric baseline (empty canvases) trained the same way. One after the other: side by side,
# two TensorFlow processes on two cores were no faster than one after the other (docs/demo.md).
synthesize() {
  for level in $levels; do
    local steps=${synthesis_steps[$level]} reached=0 phase rate percent phase_end
    for phase in "${synthesis_phases[@]}"; do   # each phase continues from the last one's checkpoint
      read -r rate percent <<< "$phase"
      phase_end=$(( steps * percent / 100 ))
      if (( phase_end > reached || percent == 100 )); then   # a phase too short to take a step is left out
        train_synthesis "${synthesis_script[$level]}" --max-steps "$phase_end" --learning-rate "$rate" "$@"
        reached=$phase_end
      fi
    done
  done
  network "${synthesis_script[$final_level]}" --test "$@"
}
synthesize
synthesize --parametric
# the project's own segmenter (not part of SIMS), for the evaluation's segmentation score
network python_code/segmentation.py --train --level "$final_level" --max-steps "$segmentation_steps" --save-every 500
network python_code/segmentation.py --test --level "$final_level"
network python_code/evaluate.py --level "$final_level"   # the protocol and the table, then the contact sheets
say "done"

echo "demo data:            $root/traindata, $root/testdata (sizes in $root/dataset.json)"
echo "aligned segments:     $root/result/transform/transform_512"
if [[ $preset == long ]]; then echo "appearance flow:      $root/result/transform/appearance_flow_512"; fi
echo "ordering predictions: $root/result/order/data"
echo "canvases:             $root/testdata/synthesis/transform_order_${final_level}_canvas"
echo "synthesized images:   $root/result/synthesis/transform_order_$final_level"
echo "parametric baseline:  $root/result/synthesis_parametric/transform_order_$final_level"
echo "evaluation record:    $root/result/evaluation_$final_level.json (the protocol and every figure)"
echo "contact sheets:       $root/result/contact_sheets (label | canvas | SIMS | parametric | ground truth), $root/result/overview.jpg"
