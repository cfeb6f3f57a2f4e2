"""Faults a long run meets, each provoked for real: a full disk (a small tmpfs mounted over an output
folder), torn and corrupt checkpoints, kill -9 of every data-preparation step, a worker killed
during multi-worker training, two runs on one root, and the disk a model folder takes
(--keep-checkpoints, export_model.py). docs/faults.md lists them with what the program does."""

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import data_root
import export_model
import file_io
import order
import test_generate_order
import test_generate_transform
import train_generate_order
import train_generate_transform
import transformation
from conftest import REPO_ROOT, error_lines, folder_size, root_after_steps, run_script, small_disk
from training_variants import checkpoint_tensors

TRANSFORM_MODEL = Path("trainedmodels") / "transform"


@pytest.fixture(scope="module")
def network_root(searched_small_root, tmp_path_factory):
    """A base-32 root with the transformation and ordering networks' training and test inputs."""
    return root_after_steps(searched_small_root, tmp_path_factory.mktemp("faults"), train_generate_transform,
                            test_generate_transform, train_generate_order, test_generate_order)


def copy_root(source, folder, name):
    root = Path(folder) / name
    shutil.copytree(source, root)
    return root


def files_of(folder):
    """{relative path: bytes} of every file under folder."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_same_files(folder, reference, ignore=()):
    actual, expected = files_of(folder), files_of(reference)
    actual = {name: data for name, data in actual.items() if not name.startswith(ignore)}
    expected = {name: data for name, data in expected.items() if not name.startswith(ignore)}
    assert sorted(actual) == sorted(expected)
    different = [name for name in expected if actual[name] != expected[name]]
    assert not different, f"files that differ from the uninterrupted run's: {different[:5]}"


def one_error_line(result):
    assert result.returncode == 1, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


def train_transformation(root, steps, *options):
    transformation.main(["--train", "--root", str(root), "--max-steps", str(steps), "--save-every", "2", *options])


# --- torn and corrupt checkpoints ---------------------------------------------------------------

def _damage(folder, step, how):
    prefix = Path(folder) / f"ckpt-{step}"
    data = next(Path(folder).glob(f"ckpt-{step}.data-*"))
    if how == "truncated data":
        with open(data, "r+b") as handle:
            handle.truncate(data.stat().st_size // 2)
    elif how == "emptied data":
        data.write_bytes(b"")
    elif how == "flipped bytes":
        with open(data, "r+b") as handle:
            handle.seek(data.stat().st_size // 3)
            handle.write(b"\xa5" * 16)
    elif how == "missing index":
        Path(f"{prefix}.index").unlink()
    elif how == "truncated index":
        with open(f"{prefix}.index", "r+b") as handle:
            handle.truncate(10)


@pytest.fixture(scope="module")
def trained_to_6(network_root, tmp_path_factory):
    """The transformation network trained 6 steps (checkpoints at 2, 4, 6) and 8 steps straight."""
    folder = tmp_path_factory.mktemp("torn")
    six, eight = copy_root(network_root, folder, "six"), copy_root(network_root, folder, "eight")
    train_transformation(six, 6)
    train_transformation(eight, 8)
    return six, eight


@pytest.mark.parametrize("how", ["truncated data", "flipped bytes", "missing index", "truncated index"])
def test_training_resumes_from_the_newest_intact_checkpoint(trained_to_6, tmp_path, how):
    six, eight = trained_to_6
    root = copy_root(six, tmp_path, "root")
    folder = root / TRANSFORM_MODEL
    _damage(folder, 6, how)
    result = run_script("python_code/transformation.py", "--train", "--root", root, "--max-steps", 8, "--save-every", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING") and "ckpt-6" in line]
    assert len(warnings) == 1 and "damaged checkpoint" in warnings[0] and "ckpt-4" in warnings[0], result.stderr[-2000:]
    assert "(step 4)" in result.stderr
    assert list(folder.glob("ckpt-6*.broken"))   # set aside, not deleted
    resumed, straight = checkpoint_tensors(folder), checkpoint_tensors(eight / TRANSFORM_MODEL)
    assert resumed.keys() == straight.keys()
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_no_intact_checkpoint_is_one_line_and_a_test_phase_names_the_broken_file(trained_to_6, tmp_path):
    root = copy_root(trained_to_6[0], tmp_path, "root")
    folder = root / TRANSFORM_MODEL
    _damage(folder, 6, "emptied data")
    line = one_error_line(run_script("python_code/transformation.py", "--test", "--root", root))
    assert str(folder / "ckpt-6") in line and "damaged checkpoint" in line
    for step in (2, 4):
        _damage(folder, step, "truncated data")
    line = one_error_line(run_script("python_code/transformation.py", "--train", "--root", root, "--max-steps", 8))
    assert str(folder) in line and "no intact checkpoint" in line and all(f"ckpt-{n}" in line for n in (2, 4, 6))
    assert not list(folder.glob("*.broken"))   # nothing moved when there is nothing to resume from


# --- the disk a model folder takes ----------------------------------------------------------------

def test_keep_checkpoints_and_an_export_that_tests_like_the_model_and_refuses_training(trained_to_6, tmp_path):
    root = copy_root(trained_to_6[0], tmp_path, "root")
    folder = root / TRANSFORM_MODEL
    train_transformation(root, 10, "--keep-checkpoints", "1")
    assert sorted(path.name for path in folder.glob("ckpt-*.index")) == ["ckpt-10.index"]

    exported = tmp_path / "exported"
    shutil.copytree(root, exported)
    export_model.main(["--root", str(exported), "--model", str(TRANSFORM_MODEL)])
    size = lambda where: sum(path.stat().st_size for path in where.glob("ckpt-*"))  # noqa: E731
    assert size(exported / TRANSFORM_MODEL) < 0.4 * size(folder)   # Adam's two moments are gone
    assert (exported / TRANSFORM_MODEL / "classes.json").exists() and (exported / TRANSFORM_MODEL / "logs").is_dir()
    for where in (root, exported):
        transformation.main(["--test", "--root", str(where)])
    assert_same_files(exported / "result", root / "result", ignore=("transform/transform_512/.made_from",))
    line = one_error_line(run_script("python_code/transformation.py", "--train", "--root", exported, "--max-steps", 12))
    assert "exported_from.json" in line and "optimizer" in line


# --- a full disk --------------------------------------------------------------------------------

def assert_only_whole_outputs(folder, reference):
    """Every file left in folder is one of the uninterrupted run's, byte for byte: nothing
    half-written that a re-run would skip as finished, no temporary file, no lock."""
    for name, data in files_of(folder).items():
        assert file_io.TEMPORARY_MARK not in name and ".lock-" not in name, f"left behind: {name}"
        assert (Path(reference) / name).read_bytes() == data, f"{name} differs from the uninterrupted run's"


def test_a_full_disk_during_a_data_preparation_step(searched_small_root, network_root, tmp_path):
    root = copy_root(searched_small_root, tmp_path, "root")
    reference = network_root / "traindata" / "transform" / "transform_512"
    output = root / "traindata" / "transform" / "transform_512"
    with small_disk(output, folder_size(reference) // 2) as grow:
        line = one_error_line(run_script("data_prep/train_generate_transform.py", "--root", root, "--workers", 2))
        assert str(output) in line and "disk is full" in line
        assert_only_whole_outputs(output, reference)
        grow(4 * folder_size(reference))
        result = run_script("data_prep/train_generate_transform.py", "--root", root, "--workers", 2)
        assert result.returncode == 0, result.stderr[-3000:]
        assert_same_files(output, reference)


def test_a_full_disk_while_saving_a_checkpoint(trained_to_6, network_root, tmp_path):
    six, eight = trained_to_6
    root = copy_root(network_root, tmp_path, "root")
    folder = root / TRANSFORM_MODEL
    checkpoint_size = sum(path.stat().st_size for path in (six / TRANSFORM_MODEL).glob("ckpt-2.*"))
    with small_disk(folder, 1.5 * checkpoint_size) as grow:
        line = one_error_line(run_script("python_code/transformation.py", "--train", "--root", root, "--max-steps", 8,
                                         "--save-every", 2))
        assert str(folder) in line and "disk is full" in line and "step 4" in line and "ckpt-2" in line
        assert sorted(path.name for path in folder.glob("ckpt-*")) == ["ckpt-2.data-00000-of-00001", "ckpt-2.index"]
        grow(4 * checkpoint_size)
        result = run_script("python_code/transformation.py", "--train", "--root", root, "--max-steps", 8,
                            "--save-every", 2, "--keep-checkpoints", 1)
        assert result.returncode == 0 and "(step 2)" in result.stderr, result.stderr[-3000:]
        resumed, straight = checkpoint_tensors(folder), checkpoint_tensors(eight / TRANSFORM_MODEL)
        for name, value in straight.items():
            np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_a_full_disk_during_a_test_phase(trained_to_6, tmp_path):
    reference = copy_root(trained_to_6[0], tmp_path, "reference")
    transformation.main(["--test", "--root", str(reference)])
    results = Path("result") / "transform" / "transform_512"
    root = copy_root(trained_to_6[0], tmp_path, "root")
    with small_disk(root / results, folder_size(reference / results) // 2) as grow:
        line = one_error_line(run_script("python_code/transformation.py", "--test", "--root", root))
        assert str(root / results) in line and "disk is full" in line
        assert_only_whole_outputs(root / results, reference / results)
        grow(4 * folder_size(reference / results))
        result = run_script("python_code/transformation.py", "--test", "--root", root)
        assert result.returncode == 0, result.stderr[-3000:]
        assert_same_files(root / results, reference / results)
