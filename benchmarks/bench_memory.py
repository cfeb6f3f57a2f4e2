"""Memory of the networks at the original's sizes: the peak of one training step and of one test
image, batch 1, each case in a fresh process.

Cases: the transformation network at 512x1024 on 10 proposals, the ordering network at 256x512 on
10 pairs, the synthesis network at levels 1, 2 and 4 (256x512, 512x1024, 1024x2048; its training
step includes the VGG loss), and the synthesis training steps again with --recompute (gradient
checkpointing of its conv stacks and of the loss network). On a CPU the figure is the process's
peak resident memory (ru_maxrss) minus what the process held before the step (TensorFlow, the
weights and the inputs), and that total; on a GPU, TensorFlow's own peak
(tf.config.experimental.get_memory_info). Time is the second call's (the first one traces).
The last line reads `level4_train_peak_gb=<x> level4_recompute_peak_gb=<y> recompute_time_ratio=<z>`.

    python benchmarks/bench_memory.py [--cases synthesis_1024_train,...]
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_code"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPOSITORY = Path(__file__).resolve().parent.parent
SIZES = {"transformation": (512, 1024), "order": (256, 512), "synthesis_256": (256, 512),
         "synthesis_512": (512, 1024), "synthesis_1024": (1024, 2048)}
CASES = [f"{network}_{phase}" for network in SIZES for phase in ("train", "test")] + \
    [f"synthesis_{level}_train_recompute" for level in ("256", "512", "1024")]
GB = 1024 ** 3


def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KB on Linux


def measure(case):
    """Run one case in this process; returns its figures."""
    import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)
    import numpy as np
    import tensorflow as tf

    import bench_networks
    from vgg_features import load_vgg

    network_name, phase = case.split("_train")[0].split("_test")[0], "train" if "_train" in case else "test"
    recompute = case.endswith("_recompute")
    shape = SIZES[network_name]
    vgg = load_vgg(REPOSITORY, recompute=recompute) if network_name.startswith("synthesis") else None
    forward, train_step, inputs, batch = bench_networks.network_case(network_name, shape, vgg, recompute=recompute)
    run = (lambda: train_step(batch)[0]) if phase == "train" else (lambda: forward(*inputs))
    gpu = bool(tf.config.list_physical_devices("GPU"))
    before = peak_bytes()
    tf.nest.map_structure(np.asarray, run())   # traces, and the first step makes the optimizer's slots
    started = time.perf_counter()
    tf.nest.map_structure(np.asarray, run())
    seconds = time.perf_counter() - started
    figures = {"case": case, "seconds": seconds, "process_peak_gb": peak_bytes() / GB,
               "step_peak_gb": (peak_bytes() - before) / GB}
    if gpu:
        figures["gpu_peak_gb"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / GB
    return figures


def run_case(case):
    """One case in a fresh process (peaks do not go down within a process)."""
    result = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{case} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--cases", type=lambda text: text.split(","), default=CASES,
                        help=f"comma-separated, of {','.join(CASES)}")
    parser.add_argument("--one", help=argparse.SUPPRESS)   # the case a child process measures
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    figures = {}
    print(f"{'case':36} {'seconds':>8} {'step peak GB':>13} {'process peak GB':>16}")
    for case in args.cases:
        figures[case] = run_case(case)
        row = figures[case]
        print(f"{case:36} {row['seconds']:8.2f} {row['step_peak_gb']:13.2f} {row['process_peak_gb']:16.2f}"
              + (f"  GPU peak {row['gpu_peak_gb']:.2f} GB" if "gpu_peak_gb" in row else ""), flush=True)
    plain, saving = figures.get("synthesis_1024_train"), figures.get("synthesis_1024_train_recompute")
    if plain and saving:
        print(f"level4_train_peak_gb={plain['process_peak_gb']:.2f} "
              f"level4_recompute_peak_gb={saving['process_peak_gb']:.2f} "
              f"recompute_time_ratio={saving['seconds'] / plain['seconds']:.2f}")


if __name__ == "__main__":
    main()
