"""Run by test_distributed_training in a process of its own (logical CPU devices and the mixed
policy are process-wide): trains each network a few steps in several ways on copies of a data root
and prints, as JSON, the logged losses and how far the checkpoints differ from a plain run's.

usage: training_variants.py DATA_ROOT WORK_FOLDER
"""

import json
import shutil
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / name) for name in ("python_code", "data_prep")]

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NETWORKS = {"transformation": ("transformation", "transform", "loss", []),
            "order": ("order", "order", "loss", []),
            "synthesis": ("synthesis_256_512", "synthesis/synthesis_256", "total", ["--sets", "1"])}
COMMON = ["--train", "--max-steps", "2", "--batch-size", "2", "--cpu-devices", "2", "--learning-rate", "1e-4"]


def logged(folder, tag):
    return [float(tf.make_ndarray(value.tensor)) for path in sorted((folder / "logs").glob("events.*"))
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value
            if value.tag == tag]


def checkpoint_tensors(folder):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(folder)))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def run(source, work, network, variant, options):
    module_name, folder, tag, extra = NETWORKS[network]
    module = __import__(module_name)
    root = work / f"{network}_{variant}"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("trainedmodels"))
    module.main(["--root", str(root), *COMMON, *extra, *options])
    tensors = checkpoint_tensors(root / "trainedmodels" / folder)
    return {"losses": logged(root / "trainedmodels" / folder, tag), "tensors": tensors,
            "dtypes": sorted({str(value.dtype) for value in tensors.values()})}


def mismatch_fraction(first, second, rtol=1e-3, atol=1e-5):
    """The share of checkpoint numbers (weights and Adam's slots) that differ beyond the tolerance.
    Not all can match: Adam moves a weight by about the learning rate whatever the size of its
    gradient, so where a gradient is nearly 0 rounding can flip the direction of the move."""
    floats = [name for name in second if second[name].dtype.kind == "f"]
    differing = sum(int((~np.isclose(first[name], second[name], rtol=rtol, atol=atol)).sum()) for name in floats)
    return differing / sum(second[name].size for name in floats)


def main(source, work):
    report = {}
    for network in NETWORKS:
        plain = run(source, work, network, "off", ["--distribute", "off"])
        mirrored = run(source, work, network, "mirrored", ["--distribute", "mirrored"])
        report[network] = {"off": plain["losses"], "mirrored": mirrored["losses"],
                           "mirrored_mismatch": mismatch_fraction(mirrored["tensors"], plain["tensors"])}
    jit = run(source, work, "transformation", "jit", ["--distribute", "off", "--jit"])
    report["transformation"]["jit"] = jit["losses"]
    mixed = run(source, work, "synthesis", "mixed", ["--distribute", "off", "--mixed-precision"])
    report["synthesis"]["mixed"], report["synthesis"]["mixed_dtypes"] = mixed["losses"], mixed["dtypes"]
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
