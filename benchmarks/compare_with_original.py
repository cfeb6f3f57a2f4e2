"""The original's own TensorFlow 1 networks, built from a checkout of xjqicuhk/SIMS at run time.

`--make-checkpoints DIR` writes, for each of the original's networks (transformation, ordering,
synthesis at levels 1, 2 and 4), a checkpoint in the original's format and folder layout
(DIR/transform/0100, DIR/order/0100, DIR/synthesis_256_512/0800, DIR/synthesis/synthesis_512/0100,
DIR/synthesis/synthesis_1024/0100: model.ckpt.* and a `checkpoint` file), made by the original's
graph code with seeded weights and Adam's slots, as its scripts' Saver writes them after
`AdamOptimizer(...).minimize`. `python_code/import_original_models.py --models DIR` then imports
them like the authors' trainedmodels/, and `--compare ROOT` prints, per network, the largest
difference between the original's test-phase outputs and the imported port networks' on the same
seeded inputs. `--list-variables FILE` lists the checkpoints' variables (tests/original_variables.json);
`--write-fixture FILE` records samples of the original's outputs with original_reference's seeded
weights (tests/original_outputs.json). Weights and inputs: python_code/original_reference.py.

The original's code is read from --original PATH (a checkout of xjqicuhk/SIMS; its python_code/
folder) and never copied: the graph-building functions are taken from its files with `ast` and
run under tf.compat.v1 with tf-slim (../shared/ORIGINAL_TF1_UNDER_TF2.md; `pip install tf-slim==1.1.0`
into a folder on PYTHONPATH).
"""

import argparse
import ast
import json
import tempfile
import types
import logging
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
import tensorflow as tf  # noqa: E402

import command_line  # noqa: E402
import errors  # noqa: E402
import import_original_models  # noqa: E402
import original_reference as reference  # noqa: E402
import training  # noqa: E402
import vgg_features  # noqa: E402
from order_network import OrderNetwork  # noqa: E402

LOG = logging.getLogger("sims")
v1 = tf.compat.v1

# network: (script, builder function, the original's module-level settings it reads, folder, step);
# the checkpoints are made in the training phase, the comparison runs the test phase (training_phase
# False: no dropout, the transformer's parameters rounded)
NETWORKS = {
    "transformation": ("transformation.py", "proposal_transform",
                       {"batch_size": 1, "crop_size_h": 512, "crop_size_w": 1024, "sp": 512,
                        "training_phase": True}, "transform", "0100"),
    "order": ("order.py", "proposal_classifier", {"batch_size": 1, "training_phase": True}, "order", "0100"),
    "synthesis_1": ("synthesis_256_512.py", "recursive_generator", {"batch_size": 1}, "synthesis_256_512", "0800"),
    "synthesis_2": ("synthesis_512_1024.py", "recursive_generator", {"batch_size": 1},
                    "synthesis/synthesis_512", "0100"),
    "synthesis_4": ("synthesis_1024_2048.py", "recursive_generator", {"batch_size": 1},
                    "synthesis/synthesis_1024", "0100"),
}
SYNTHESIS_SP = {"synthesis_1": 256, "synthesis_2": 512, "synthesis_4": 1024}   # the original's sizes


def original_functions(script, names, graph_block=False):
    """A module of the top-level functions and assignments `names` of the original's `script`
    (and with graph_block its first `with tf.variable_scope(...)` block, where the script builds its
    training graph and loss), compiled from its source (its Python 2 print statements become `pass`
    so that the file parses)."""
    lines = []
    for line in script.read_text().splitlines():
        stripped = line.lstrip()
        if stripped.startswith("print ") or stripped.startswith("print\t"):
            line = line[:len(line) - len(stripped)] + "pass"
        lines.append(line)
    tree = ast.parse("\n".join(lines))
    def defines(node):
        if isinstance(node, ast.FunctionDef):
            return node.name
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
        return None
    wanted = [node for node in tree.body if defines(node) in names]
    missing = set(names) - {defines(node) for node in wanted}
    if missing:
        raise errors.DataError(f"{script}: no definition of {', '.join(sorted(missing))}")
    if graph_block:
        wanted.append(next(node for node in tree.body if isinstance(node, ast.With)))
    return ast.Module(body=wanted, type_ignores=[])


def original_namespace(original, script, functions, settings, graph_block=False, vgg19_file=None):
    """A namespace in which the original's `functions` of `script` run (and with graph_block its
    training graph is built): tf is tf.compat.v1, slim is tf-slim, np numpy, scipy.io.loadmat reads
    vgg19_file for its VGG19, plus the module-level settings they read."""
    try:
        import tf_slim
    except ImportError:
        raise errors.DataError("tf_slim is not importable: pip install --target DIR tf-slim==1.1.0 --no-deps "
                               "and put DIR on PYTHONPATH (../shared/ORIGINAL_TF1_UNDER_TF2.md)") from None
    loadmat = lambda path: scipy.io.loadmat(str(vgg19_file))   # noqa: E731  (its VGG19 path is fixed)
    namespace = {"tf": v1, "slim": tf_slim, "np": np, "scipy": types.SimpleNamespace(io=types.SimpleNamespace(
        loadmat=loadmat)), **settings}
    for name, wanted, block in (("spatial_transformer.py", ["transformer"], False),
                                (script, ["lrelu", *functions], graph_block)):
        module = original_functions(original / name, wanted, block)
        exec(compile(module, str(original / name), "exec"), namespace)   # the original's code, read at run time
    return namespace


def build_original(original, network, sp, test_phase, proposals=10):
    """(placeholders, {output name: tensor}) of `network` built by the original's code in the
    current graph (synthesis at sp x 2 sp); test_phase as its training_phase = False (no dropout,
    rounded warp parameters)."""
    script, builder, settings, _, _ = NETWORKS[network]
    settings = {**settings, "training_phase": not test_phase, "num_proposal": proposals}
    namespace = original_namespace(original, script, [builder], settings)
    shapes = reference.input_shapes(network, proposals)
    if network.startswith("synthesis"):
        shapes = [(1, sp, 2 * sp, reference.LABEL_CHANNELS + 4)]
    placeholders = [v1.placeholder(tf.float32, shape) for shape in shapes]
    if network == "transformation":
        warped, _ = namespace[builder](*placeholders)
        theta = next(op.outputs[0] for op in v1.get_default_graph().get_operations()
                     if op.type in ("Add", "AddV2") and op.inputs[0].op.type == "MatMul")
        return placeholders, {"warped": warped, "parameters": theta}   # theta before the test phase rounds it
    if network == "order":
        return placeholders, {"logits": namespace[builder](*placeholders)}
    image, logits = namespace[builder](placeholders[0], sp)
    return placeholders, {"image": image, "logits": logits}


def load_seeded_weights(session, variables, network, sp):
    """Give the original graph's variables original_reference's seeded values, by checkpoint name."""
    for variable in variables:
        variable.load(reference.seeded_weight(checkpoint_name(network, variable, sp), variable.shape.as_list()), session)


def checkpoint_name(network, variable, sp):
    """The name a variable of the original's graph has in its scripts' checkpoints: level 1 names
    its output layers after its size, which is 256 there."""
    name = variable.op.name
    if network == "synthesis_1":
        name = name.replace(f"g_{sp}_conv100", "g_256_conv100").replace(f"g_semantic_{sp}_conv100",
                                                                         "g_semantic_256_conv100")
    return name


def make_checkpoint(original, network, folder):
    """The original's `network` with the seeded weights and Adam slots of original_reference, saved
    as the original's scripts save it (Saver after AdamOptimizer(...).minimize over the g_
    variables) into folder/model.ckpt; a folder that has one already is kept."""
    if (folder / "checkpoint").exists():
        LOG.info("%s: %s has a checkpoint already, kept", network, folder)
        return
    with tf.Graph().as_default():
        _, outputs = build_original(original, network, SYNTHESIS_SP.get(network), test_phase=False)
        trainable = [v for v in v1.trainable_variables() if v.name.startswith("g_")]
        loss = tf.add_n([v1.reduce_mean(output) for output in outputs.values()])
        v1.train.AdamOptimizer(learning_rate=1e-4).minimize(loss, var_list=trainable)
        saver = v1.train.Saver(max_to_keep=1000)
        with v1.Session() as session:
            load_seeded_weights(session, v1.global_variables(), network, SYNTHESIS_SP.get(network))
            folder.mkdir(parents=True, exist_ok=True)
            saver.save(session, str(folder / "model.ckpt"))
    LOG.info("%s: the original's graph saved to %s", network, folder)


def original_outputs(original, network, inputs, checkpoint=None):
    """The original graph's test-phase outputs on `inputs`, with the weights of its checkpoint (TF1
    Saver) or, without one, the seeded weights of original_reference."""
    sp = reference.COMPARE_SIZES.get(network)
    with tf.Graph().as_default():
        placeholders, fetches = build_original(original, network, sp, test_phase=True,
                                               proposals=len(inputs[0]) if network == "transformation" else 10)
        names = {checkpoint_name(network, variable, sp): variable for variable in v1.global_variables()}
        with v1.Session() as session:
            if checkpoint:
                v1.train.Saver(var_list=names).restore(session, checkpoint)
            else:
                load_seeded_weights(session, v1.global_variables(), network, sp)
            return session.run(fetches, dict(zip(placeholders, inputs)))


def port_outputs(root, network, inputs):
    """The port's outputs on `inputs`, from its network imported into root (the test phase)."""
    model = reference.port_model(network)
    folder = root / model.folder
    count = reference.LABEL_CHANNELS - 1
    if network == "order":   # as order.py builds it: the import record's pooling window
        net = OrderNetwork(count, pool_window=training.import_record(folder).get("pool_window"))
    else:
        net = model.build(count)
    tf.train.Checkpoint(network=net).restore(tf.train.latest_checkpoint(str(folder))).expect_partial()
    return reference.port_outputs(network, net, inputs)


def compare(original, models, root, networks, seed):
    """One line per network: the largest difference between the original's outputs and the port's."""
    for network in networks:
        _, _, _, folder, step = NETWORKS[network]
        inputs = reference.seeded_inputs(network, seed)
        theirs = original_outputs(original, network, inputs, str(models / folder / step / "model.ckpt"))
        ours = port_outputs(root, network, inputs)
        parts = []
        for name, value in theirs.items():
            difference = np.abs(np.asarray(ours[name], np.float64) - value)
            scale = max(float(np.abs(value).max()), 1e-12)
            parts.append(f"{name}: max abs difference {difference.max():.3g}, relative {difference.max() / scale:.2g} "
                         f"(largest value {scale:.3g})")
        print(f"{network}: " + "; ".join(parts), flush=True)


def original_training(original, network, inputs, vgg19_file, learning_rate=1e-4):
    """({loss term: value}, {variable: gradient}, {variable: value after one AdamOptimizer step},
    warp) of one training sample, from the graph and loss the original's script builds (its first
    `with` block) with original_reference's seeded weights; the ordering network without dropout.
    warp, for the transformer: {"parameters": [P, 6], "gradient": d loss / d parameters}, where its
    loss, which has a kink at every pixel boundary, is pinned (None for the other networks)."""
    script = NETWORKS[network][0]
    if network == "order":
        functions, terms = ["proposal_classifier"], ["G_loss"]
        settings = {"batch_size": 1, "training_phase": False, "input_dim": 6}
    elif network == "transformation":
        functions, terms = ["proposal_transform", "compute_error"], ["p_transformer"]
        settings = {**NETWORKS[network][2], "training_phase": True, "num_proposal": len(inputs["proposal"])}
    else:
        sp = reference.COMPARE_SIZES[network]
        functions = ["recursive_generator", "build_vgg19", "build_net", "get_weight_bias", "compute_error",
                     "MEAN_VALUES"]
        terms = ["p0", "p1", "p2", "p3", "p4", "p5", "p_semantic"]
        settings = {"batch_size": 1, "sp": sp, "crop_size_h": sp, "crop_size_w": 2 * sp}
    sp = reference.COMPARE_SIZES.get(network)
    with tf.Graph().as_default():
        namespace = original_namespace(original, script, functions, settings, graph_block=True, vgg19_file=vgg19_file)
        trainable = [v for v in v1.trainable_variables() if v.name.startswith("g_")]
        loss = namespace["G_loss"]
        gradients = v1.gradients(loss, trainable)
        warp = {}
        if network == "transformation":
            theta = next(op.outputs[0] for op in v1.get_default_graph().get_operations()
                         if op.type in ("Add", "AddV2") and op.inputs[0].op.type == "MatMul")
            warp = {"parameters": theta, "gradient": v1.gradients(loss, theta)[0]}
        step = v1.train.AdamOptimizer(learning_rate=learning_rate).minimize(loss, var_list=trainable)
        feeds = {namespace[name]: value for name, value in inputs.items()}
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            load_seeded_weights(session, trainable, network, sp)
            values, gradient_values, warp = session.run(({name: namespace[name] for name in terms}, gradients, warp),
                                                        feeds)
            session.run(step, feeds)
            names = [checkpoint_name(network, variable, sp) for variable in trainable]
            after = dict(zip(names, session.run(trainable)))
    return ({name: float(value) for name, value in values.items()}, dict(zip(names, gradient_values)), after,
            warp or None)


def vgg19_stand_in(folder):
    """A data root in `folder` with original_reference's VGG19 stand-in, and the file's path."""
    path = folder / "trainedmodels" / "imagenet-vgg-verydeep-19.mat"
    path.parent.mkdir(parents=True, exist_ok=True)
    vgg_features.write_matconvnet_vgg19(path, reference.seeded_vgg19())
    return path


def port_training(network, inputs, root):
    """original_reference.port_training of the port's network with the seeded weights, mapped as the
    import maps them, its figures back in the original's layout."""
    vgg = vgg_features.load_vgg(root) if network.startswith("synthesis") else None
    terms, gradients, after = reference.port_training(network, reference.seeded_port_network(network), inputs, vgg)
    # the permutation is its own inverse: back to the original's BGR layout
    model = reference.port_model(network)
    return terms, import_original_models.bgr_to_rgb(model, gradients), import_original_models.bgr_to_rgb(model, after)


def compare_training(original, networks, seed):
    """One line per network: loss terms, gradients and one Adam step of the original's training
    graph against the port's (a VGG19 stand-in for the synthesis loss)."""
    with tempfile.TemporaryDirectory() as folder:
        vgg19_file = vgg19_stand_in(Path(folder))
        for network in networks:
            inputs = reference.seeded_training_inputs(network, seed)
            theirs = original_training(original, network, inputs, vgg19_file)
            ours = port_training(network, inputs, Path(folder))
            term = max(abs(ours[0][name] - value) / max(abs(value), 1e-12) for name, value in theirs[0].items())
            gradient = max(float(np.abs(ours[1][name] - value).max() / max(np.abs(value).max(), 1e-30))
                           for name, value in theirs[1].items())
            # Adam's first step is the rate times the gradient's sign: where a gradient is float noise
            # (below a thousandth of its variable's largest) the sign, and so the step, is a coin toss
            step, kept, total = 0.0, 0, 0
            for name, value in theirs[2].items():
                clear = np.abs(theirs[1][name]) > 1e-3 * np.abs(theirs[1][name]).max()
                if clear.any():
                    step = max(step, float(np.abs(ours[2][name] - value)[clear].max()))
                kept, total = kept + int(clear.sum()), total + clear.size
            print(f"{network} training: loss terms {', '.join(f'{n} {v:.6g}' for n, v in theirs[0].items())}; "
                  f"largest relative difference of a term {term:.2g}, of a gradient {gradient:.2g} (to that "
                  f"variable's largest gradient); weights after one Adam step (rate 1e-4) within {step:.2g} "
                  f"where the gradient is not noise ({100 * kept / total:.1f} % of them)", flush=True)


def write_fixture(original, path, networks, seed):
    """The original's test-phase outputs with the seeded weights of original_reference on its seeded
    inputs, as spread samples (original_reference.samples), and its training loss terms and
    gradient norms on one seeded sample (the VGG19 stand-in), into the JSON file `path`."""
    fixture = {}
    folder = tempfile.TemporaryDirectory()
    vgg19_file = vgg19_stand_in(Path(folder.name))
    for network in networks:
        proposals = reference.FIXTURE_PROPOSALS
        outputs = original_outputs(original, network, reference.seeded_inputs(network, seed, proposals))
        fixture[network] = {"input_seed": seed, "proposals": proposals,
                            "outputs": {name: {"shape": list(np.shape(value)),
                                               "largest": float(np.abs(value).max()),
                                               "samples": [float(f"{x:.7g}") for x in reference.samples(value)]}
                                        for name, value in outputs.items()}}
        terms, gradients, _, warp = original_training(original, network,
                                                      reference.seeded_training_inputs(network, seed), vgg19_file)
        fixture[network]["training"] = {"terms": terms, "gradient_norms": {
            name: float(np.linalg.norm(value)) for name, value in sorted(gradients.items())}}
        if warp:
            fixture[network]["training"]["warp"] = {name: value.tolist() for name, value in warp.items()}
        LOG.info("%s: the original's outputs recorded", network)
    folder.cleanup()
    path.write_text(json.dumps(fixture, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, required=True,
                        help="a checkout of xjqicuhk/SIMS (or its python_code/ folder)")
    parser.add_argument("--make-checkpoints", type=Path, metavar="DIR",
                        help="write original-format checkpoints of every network into DIR (the original's layout)")
    parser.add_argument("--compare", type=Path, metavar="ROOT",
                        help="compare the original's networks (weights from --make-checkpoints DIR) with the port's "
                             "imported into ROOT by import_original_models.py --models DIR --root ROOT")
    parser.add_argument("--list-variables", type=Path, metavar="FILE",
                        help="write the variables (name and shape) of the checkpoints in --make-checkpoints DIR, "
                             "by network, as JSON (tests/original_variables.json is this file)")
    parser.add_argument("--compare-training", action="store_true",
                        help="compare each network's loss terms, gradients and one Adam step with the original's "
                             "training graph (seeded weights, a seeded VGG19 stand-in)")
    parser.add_argument("--write-fixture", type=Path, metavar="FILE",
                        help="record the original's outputs with original_reference's seeded weights and inputs "
                             "(tests/original_outputs.json is this file)")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=sorted(NETWORKS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command_line.setup_logging()
    original = args.original / "python_code" if (args.original / "python_code").is_dir() else args.original
    if not (original / "synthesis_256_512.py").is_file():
        raise errors.DataError(f"{args.original}: not a checkout of xjqicuhk/SIMS (no python_code/synthesis_256_512.py)")
    if args.make_checkpoints:
        for network in args.networks:
            _, _, _, folder, step = NETWORKS[network]
            make_checkpoint(original, network, args.make_checkpoints / folder / step)
    if args.compare_training:
        compare_training(original, args.networks, args.seed)
    if args.write_fixture:
        write_fixture(original, args.write_fixture, args.networks, args.seed)
    if args.list_variables:
        listing = {}
        for network in sorted(NETWORKS):
            _, _, _, folder, step = NETWORKS[network]
            shapes = tf.train.load_checkpoint(str(args.make_checkpoints / folder / step / "model.ckpt")).get_variable_to_shape_map()
            listing[network] = {"folder": f"{folder}/{step}", "variables": {name: shapes[name] for name in sorted(shapes)}}
        blocks = []
        for network, entry in listing.items():   # a variable a line, so that a change reads as one line
            variables = ",\n".join(f"   {json.dumps(name)}: {json.dumps(shape)}"
                                   for name, shape in entry["variables"].items())
            blocks.append(f' {json.dumps(network)}: {{"folder": {json.dumps(entry["folder"])}, "variables": {{\n'
                          f"{variables}\n }}}}")
        args.list_variables.write_text("{\n" + ",\n".join(blocks) + "\n}\n")
    if args.compare:
        if not args.make_checkpoints:
            raise errors.DataError("--compare ROOT needs --make-checkpoints DIR (the checkpoints ROOT imported)")
        compare(original, args.make_checkpoints, args.compare.resolve(), args.networks, args.seed)


if __name__ == "__main__":
    command_line.run_cli(main)
