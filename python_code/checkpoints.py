"""The checkpoints of a model folder as a week-long run meets them: the newest intact one (a torn
or corrupt newer one is set aside with a warning), a full disk while saving, and models exported
without the optimizer's state (export_model.py), which the test phases load and training refuses."""

import contextlib
import json
import logging
import re
import shutil
from pathlib import Path

import tensorflow as tf

import errors
import file_io

LOG = logging.getLogger("sims")

EXPORT_RECORD = "exported_from.json"   # in a model folder holding weights only (export_model.py)
BROKEN_SUFFIX = ".broken"              # appended to the files of a damaged checkpoint set aside
# what reading a damaged checkpoint raises: TensorFlow's errors, and an IndexError from its Python
# reader when the data file is cut short
DAMAGE = (tf.errors.OpError, IndexError)


def checkpoint_number(prefix):
    match = re.search(r"-(\d+)$", str(prefix))
    return int(match.group(1)) if match else -1


def candidates(folder):
    """The checkpoint prefixes of a model folder, newest first: those its state file lists (even
    when their files are gone) and every ckpt-N.index there."""
    folder = Path(folder)
    names = {path.name[:-len(".index")] for path in folder.glob("ckpt-*.index")}
    with contextlib.suppress(tf.errors.OpError, ValueError):   # a damaged state file lists nothing
        state = tf.train.get_checkpoint_state(str(folder))
        if state:
            names |= {Path(path).name for path in state.all_model_checkpoint_paths}
    return [str(folder / name) for name in sorted(names, key=checkpoint_number, reverse=True)]


def damage(prefix):
    """What is missing from a checkpoint's files, or None when they are all there."""
    index = Path(f"{prefix}.index")
    if not index.is_file():
        return f"{index.name} is missing"
    if not list(index.parent.glob(f"{index.name[:-len('.index')]}.data-*")):
        return f"{Path(prefix).name}.data-* is missing"
    return None


def _restore(checkpoint, prefix, assert_complete):
    """Restore `prefix`; returns None, or what is damaged in it. With assert_complete every variable
    that exists must have been in it, so that a checkpoint of another network is not silently
    half-loaded (a DataError at once); values the checkpoint has and the objects lack (a test phase
    has no optimizer) are expected."""
    problem = damage(prefix)
    if problem:
        return problem
    try:
        status = checkpoint.restore(prefix)
        if assert_complete:
            status.assert_existing_objects_matched()
        status.expect_partial()
    except DAMAGE as error:
        return first_line(error)
    except (ValueError, AssertionError) as error:
        raise errors.DataError(f"{prefix}: does not fit this network, a checkpoint of another level, class count "
                               f"or network? ({first_line(error)})") from None
    return None


def restore_newest_intact(checkpoint, folder, set_aside=False, assert_complete=True):
    """Restore the newest checkpoint of `folder` that reads whole; returns its prefix, or None when
    the folder has none. A newer damaged one gets one warning naming it (and, with set_aside, its
    files are renamed *.broken and the state file points at the intact one); when every one is
    damaged, one DataError line says so. A checkpoint that reads but does not fit the network (another
    level or class count) is a DataError at once."""
    broken = []
    for prefix in candidates(folder):
        problem = _restore(checkpoint, prefix, assert_complete)
        if problem is None:
            for bad, why in broken:
                LOG.warning("%s: damaged checkpoint (%s)%s; using %s", bad, why,
                            ", set aside as *" + BROKEN_SUFFIX if set_aside else "", Path(prefix).name)
            if broken and set_aside:
                _set_aside(folder, [bad for bad, _ in broken], prefix)
            return prefix
        broken.append((prefix, problem))
    if broken:
        damaged = "; ".join(f"{Path(prefix).name}: {why}" for prefix, why in broken)
        raise errors.DataError(f"{folder}: no intact checkpoint ({damaged}); "
                               "move them away to train from the start")
    return None


def _set_aside(folder, prefixes, intact):
    for prefix in prefixes:
        for path in Path(folder).glob(f"{Path(prefix).name}.*"):
            if not path.name.endswith(BROKEN_SUFFIX):
                path.rename(path.with_name(path.name + BROKEN_SUFFIX))
    kept = [prefix for prefix in candidates(folder) if damage(prefix) is None]
    write_state(folder, intact, sorted(kept, key=checkpoint_number))


def write_state(folder, newest, every):
    """The folder's `checkpoint` state file (a text CheckpointState, as CheckpointManager writes it)
    naming `newest` and `every` kept prefix, oldest first; CheckpointManager deletes from that list."""
    lines = [f'model_checkpoint_path: "{Path(newest).name}"'] + \
        [f'all_model_checkpoint_paths: "{Path(prefix).name}"' for prefix in every]
    file_io.write_bytes_atomic(Path(folder) / "checkpoint", ("\n".join(lines) + "\n").encode())


def first_line(error):
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return re.sub(r"^\{\{[^}]*\}\}\s*", "", lines[0])[:300] if lines else type(error).__name__


def newest(folder):
    """The newest checkpoint of a model folder, damaged or not, or None."""
    found = candidates(folder)
    return found[0] if found else None


def restore_for_test(checkpoint, prefix):
    """Restore the network of a test phase from `prefix`; a damaged or ill-fitting checkpoint is
    one DataError line naming it (a test phase uses the newest, as the original did)."""
    problem = _restore(checkpoint, prefix, assert_complete=True)
    if problem:
        raise errors.DataError(f"{prefix}: damaged checkpoint ({problem}); train again, or move it away to test the "
                               "one before it")


def save(manager, step):
    """manager.save at `step`; a full disk is one DataError line naming the folder and the newest
    whole checkpoint, with TensorFlow's empty temporary folder removed."""
    try:
        manager.save(checkpoint_number=step)
    except tf.errors.ResourceExhaustedError as error:
        for temporary in Path(manager.directory).glob(f"ckpt-{step}_temp*"):
            shutil.rmtree(temporary, ignore_errors=True)
        newest = manager.latest_checkpoint
        raise errors.DataError(f"{manager.directory}: the disk is full while saving the checkpoint of step {step} "
                               f"({first_line(error).rpartition(';')[2].strip()}); the newest whole checkpoint is "
                               f"{Path(newest).name if newest else 'none'}; free some space and run the same command "
                               "again") from None


def refuse_exported(folder):
    """Training cannot continue from an export: it has no optimizer state."""
    if (Path(folder) / EXPORT_RECORD).exists():
        raise errors.DataError(f"{Path(folder) / EXPORT_RECORD}: this model folder holds an export without the "
                               "optimizer's state (export_model.py); it can be tested, not trained further: train "
                               "in the folder it was exported from")


def export(source, target, network_key="network"):
    """Write the newest intact checkpoint of `source` into `target` without the optimizer's state:
    the network's weights and the step only, with the folder's records and logs. Returns the
    exported prefix. Works from the checkpoint's own object graph, so no network has to be built."""
    source, target = Path(source), Path(target)
    prefix = next((p for p in candidates(source) if damage(p) is None), None)
    if prefix is None:
        raise errors.DataError(f"{source}: no checkpoint to export")
    try:
        reader = tf.train.load_checkpoint(prefix)
        graph = _object_graph(reader)
    except DAMAGE as error:
        raise errors.DataError(f"{prefix}: damaged checkpoint ({first_line(error)})") from None
    keep = _reachable_without(graph, dropped={"optimizer"})
    keys = [attribute.checkpoint_key for index in keep for attribute in graph.nodes[index].attributes]
    if not any(key.startswith(f"{network_key}/") for key in keys):
        raise errors.DataError(f"{prefix}: holds no '{network_key}', not a checkpoint of this project")
    for index, node in enumerate(graph.nodes):
        if index not in keep:
            del node.attributes[:]
            del node.slot_variables[:]
    root = graph.nodes[0]
    kept_children = [child for child in root.children if child.local_name != "optimizer"]
    del root.children[:]
    root.children.extend(kept_children)
    for index in keep:
        del graph.nodes[index].slot_variables[:]

    staging = target.with_name(f".{target.name}.export-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        for path in source.iterdir():   # the records and logs, not the checkpoints
            if not path.name.startswith(("ckpt-", "checkpoint", ".lock-")):
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, staging / path.name)
        exported = staging / Path(prefix).name
        names = keys + ["_CHECKPOINTABLE_OBJECT_GRAPH"]
        tensors = [reader.get_tensor(key) for key in keys] + [graph.SerializeToString()]
        tf.raw_ops.SaveV2(prefix=str(exported), tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=tensors)
        write_state(staging, prefix, [prefix])
        record = {"from": str(prefix), "step": checkpoint_number(prefix), "kept": "network weights and step"}
        file_io.write_bytes_atomic(staging / EXPORT_RECORD, json.dumps(record, indent=1).encode())
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise (file_io.storage_error(target.parent, error, "exporting") or error) from None
    return str(target / Path(prefix).name)


def _object_graph(reader):
    from tensorflow.core.protobuf import trackable_object_graph_pb2
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return graph


def _reachable_without(graph, dropped):
    """Indices of the object graph's nodes reachable from the root without passing through the
    root's children named in `dropped`."""
    seen, pending = {0}, [child.node_id for child in graph.nodes[0].children if child.local_name not in dropped]
    while pending:
        index = pending.pop()
        if index in seen:
            continue
        seen.add(index)
        pending.extend(child.node_id for child in graph.nodes[index].children)
    return seen
