"""Print the TF_CONFIG of this SLURM task, for --distribute multi-worker on a SLURM cluster.

Run it inside a job step, one task per node (srun --ntasks-per-node=1), before the training script:
    export TF_CONFIG=$(python python_code/slurm_tf_config.py)
TensorFlow's SlurmClusterResolver reads SLURM_PROCID, SLURM_STEP_NODELIST and
SLURM_STEP_TASKS_PER_NODE: the task of each node becomes a worker at NODE:PORT, in the order of the
sorted node names; the task with rank 0 is worker 0, the chief. Each task uses every GPU of its node.
"""

import argparse
import json
import sys

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)
import tensorflow as tf

import command_line
import errors


def tf_config(port):
    """TF_CONFIG as a dict, from the SLURM variables of this process."""
    try:
        # one task per node that keeps all of its node's GPUs: the resolver's GPU split is told of one
        # "GPU" per node, so it lists one task per node and leaves CUDA_VISIBLE_DEVICES alone
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=port, gpus_per_node=1,
                                                                       gpus_per_task=1, auto_set_gpu=False)
        cluster = resolver.cluster_spec().as_dict()
    except (RuntimeError, KeyError, ValueError) as error:
        raise errors.DataError(f"cannot read the SLURM job step ({error}); run this inside srun with one task "
                               "per node (--ntasks-per-node=1)") from None
    task_type, task_id = resolver.get_task_info()
    return {"cluster": cluster, "task": {"type": task_type, "index": task_id}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888, help="port of a node's first task (default 8888)")
    args = parser.parse_args(argv)
    print(json.dumps(tf_config(args.port)), file=sys.stdout)


if __name__ == "__main__":
    command_line.run_cli(main)
