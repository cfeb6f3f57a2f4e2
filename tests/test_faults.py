"""Faults a long run meets, each provoked for real: a full disk (a small tmpfs mounted over an output
folder), torn and corrupt checkpoints, kill -9 of every data-preparation step, a worker killed
during multi-worker training, two runs on one root, and the disk a model folder takes
(--keep-checkpoints, export_model.py). docs/faults.md lists them with what the program does.

The training faults are provoked on the project's small segmenter (segmentation.py): it trains with
the same loop, checkpoints and locks as every network script (training.train) and its checkpoints
are a few MB instead of the transformation network's 177 MB. Scripts run in-process where the test
is about what happens, in a process of their own where it is about the one ERROR line."""

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import checkpoints
import data_root
import folders
import errors
import export_model
import file_io
import segmentation
import test_generate_order
import test_generate_transform
import train_generate_order
import train_generate_transform
import transformation
from conftest import REPO_ROOT, error_lines, free_ports, root_after_steps, run_script, small_disk
from export_model import folder_size
from training_variants import checkpoint_tensors

TRANSFORM_MODEL = Path("trainedmodels") / "transform"
MODEL = Path(folders.segmentation_model("256"))   # the segmenter's model folder
RESULTS = Path(folders.segmented("256"))


@pytest.fixture(scope="module")
def network_root(searched_small_root, module_folder):
    """A base-32 root with the transformation and ordering networks' training and test inputs."""
    return root_after_steps(searched_small_root, module_folder("faults"), train_generate_transform,
                            test_generate_transform, train_generate_order, test_generate_order)


def files_of(folder):
    """{relative path: bytes} of every file under folder; the segment index's manifest without its
    fingerprint of the memory bank, which holds the files' modification times."""
    folder = Path(folder)
    files = {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
    for name, data in files.items():
        if name.endswith("segment_index/manifest.json"):
            files[name] = json.dumps({**json.loads(data), "fingerprint": None}).encode()
    return files


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


SEGMENTER_OPTIONS = ["--save-every", "2", "--learning-rate", "1e-3"]


def train_segmenter(root, steps, *options):
    segmentation.main(["--train", "--root", str(root), "--max-steps", str(steps), *SEGMENTER_OPTIONS, *options])


def assert_same_checkpoint(folder, reference):
    actual, expected = checkpoint_tensors(folder), checkpoint_tensors(reference)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


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
def trained(searched_small_root, module_folder):
    """The segmenter trained 6 steps (checkpoints at 2, 4, 6) and 8 steps straight."""
    folder = module_folder("torn")
    six, eight = (root_after_steps(searched_small_root, folder / name) for name in ("six", "eight"))
    train_segmenter(six, 6)
    train_segmenter(eight, 8)
    return six, eight


@pytest.mark.parametrize("how", ["truncated data", "flipped bytes", "missing index", "truncated index"])
def test_training_resumes_from_the_newest_intact_checkpoint(trained, tmp_path, caplog, how):
    six, eight = trained
    root = root_after_steps(six, tmp_path / "root")
    _damage(root / MODEL, 6, how)
    caplog.set_level(logging.INFO)
    train_segmenter(root, 8)
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "ckpt-6" in warnings[0] and "damaged checkpoint" in warnings[0], warnings
    assert "using ckpt-4" in warnings[0] and "resuming from" in caplog.text and "(step 4)" in caplog.text
    assert list((root / MODEL).glob("ckpt-6*.broken"))   # set aside, not deleted
    assert_same_checkpoint(root / MODEL, eight / MODEL)


def test_no_intact_checkpoint_is_one_line_and_a_test_phase_names_the_broken_file(trained, tmp_path):
    root = root_after_steps(trained[0], tmp_path / "root")
    folder = root / MODEL
    _damage(folder, 6, "emptied data")
    line = one_error_line(run_script("python_code/segmentation.py", "--test", "--root", root))
    assert str(folder / "ckpt-6") in line and "damaged checkpoint" in line
    for step in (2, 4):
        _damage(folder, step, "truncated data")
    with pytest.raises(errors.DataError) as error:
        train_segmenter(root, 8)
    assert str(error.value).startswith(f"{folder}: no intact checkpoint") and "\n" not in str(error.value)
    assert all(f"ckpt-{step}: " in str(error.value) for step in (2, 4, 6))
    assert not list(folder.glob("*.broken"))   # nothing moved when there is nothing to resume from


def test_a_checkpoint_of_another_network_is_one_clear_error(trained, network_root, tmp_path):
    root = root_after_steps(network_root, tmp_path / "root")
    shutil.copytree(trained[0] / MODEL, root / TRANSFORM_MODEL)
    with pytest.raises(errors.DataError, match=f"^{root / TRANSFORM_MODEL / 'ckpt-6'}: does not fit this network"):
        transformation.main(["--test", "--root", str(root)])


# --- the disk a model folder takes ----------------------------------------------------------------

def test_keep_checkpoints_and_an_export_that_tests_like_the_model_and_refuses_training(trained, tmp_path):
    root = root_after_steps(trained[0], tmp_path / "root")
    train_segmenter(root, 10, "--keep-checkpoints", "1")
    assert sorted(path.name for path in (root / MODEL).glob("ckpt-*.index")) == ["ckpt-10.index"]

    exported = tmp_path / "exported"
    shutil.copytree(root, exported)
    export_model.main(["--root", str(exported), "--model", str(MODEL)])
    size = lambda where: sum(path.stat().st_size for path in where.glob("ckpt-*"))  # noqa: E731
    assert size(exported / MODEL) < 0.4 * size(root / MODEL)   # Adam's two moments are gone
    assert (exported / MODEL / "classes.json").exists() and (exported / MODEL / "logs").is_dir()
    for where in (root, exported):
        segmentation.main(["--test", "--root", str(where)])
    assert_same_files(exported / RESULTS, root / RESULTS, ignore=(".made_from",))
    with pytest.raises(errors.DataError, match="exported_from.json: .* without the optimizer's state"):
        train_segmenter(exported, 12)


# --- a full disk --------------------------------------------------------------------------------

def assert_only_whole_outputs(folder, reference):
    """Every file left in folder is one of the uninterrupted run's, byte for byte: nothing
    half-written that a re-run would skip as finished, no temporary file, no lock."""
    for name, data in files_of(folder).items():
        assert file_io.TEMPORARY_MARK not in name and ".lock-" not in name, f"left behind: {name}"
        assert (Path(reference) / name).read_bytes() == data, f"{name} differs from the uninterrupted run's"


def test_a_full_disk_during_a_data_preparation_step(searched_small_root, network_root, tmp_path):
    root = root_after_steps(searched_small_root, tmp_path / "root")
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


def test_a_full_disk_while_saving_a_checkpoint(searched_small_root, trained, tmp_path):
    six, eight = trained
    root = root_after_steps(searched_small_root, tmp_path / "root")
    folder = root / MODEL
    checkpoint_size = sum(path.stat().st_size for path in (six / MODEL).glob("ckpt-2.*"))
    with small_disk(folder, 1.5 * checkpoint_size + folder_size(six / MODEL / "logs")) as grow:
        line = one_error_line(run_script("python_code/segmentation.py", "--train", "--root", root, "--max-steps", 8,
                                         *SEGMENTER_OPTIONS))
        assert str(folder) in line and "disk is full" in line and "step 4" in line and "ckpt-2" in line
        assert sorted(path.name for path in folder.glob("ckpt-*")) == ["ckpt-2.data-00000-of-00001", "ckpt-2.index"]
        grow(4 * folder_size(six / MODEL))
        train_segmenter(root, 8)
        assert_same_checkpoint(folder, eight / MODEL)


def test_a_full_disk_during_a_test_phase(trained, tmp_path):
    reference = root_after_steps(trained[0], tmp_path / "reference")
    segmentation.main(["--test", "--root", str(reference)])
    root = root_after_steps(trained[0], tmp_path / "root")
    with small_disk(root / RESULTS, 4096) as grow:   # one page: the record and no image
        line = one_error_line(run_script("python_code/segmentation.py", "--test", "--root", root))
        assert str(root / RESULTS) in line and "disk is full" in line
        assert_only_whole_outputs(root / RESULTS, reference / RESULTS)
        grow(4 * folder_size(reference / RESULTS) + 65536)
        segmentation.main(["--test", "--root", str(root)])
        assert_same_files(root / RESULTS, reference / RESULTS)


# --- kill -9 of every data-preparation step -------------------------------------------------------

PREPARATION = [   # the demo's data preparation in run_demo.sh's order, on a tiny root
    ("data_prep/make_demo_dataset.py", "--train", "12", "--test", "3", "--base-height", "32", "--seed", "7"),
    ("data_prep/train_connect_component_mask.py",),
    ("data_prep/test_connect_component_mask.py",),
    ("data_prep/search_segments.py",),
    ("data_prep/train_generate_order.py",),
    ("data_prep/test_generate_transform.py",),
    ("data_prep/train_generate_transform.py",),
    ("data_prep/test_generate_order.py",),
    ("data_prep/test_generate_transform.py", "--level", "256"),
    ("data_prep/train_generate_synthesis.py", "--level", "256"),
    ("data_prep/test_generate_canvas.py", "--level", "256"),
]
KILLS = 3


def _command(step, root):
    return [sys.executable, str(REPO_ROOT / step[0]), "--root", str(root), "--workers", "2", *step[1:]]


def _kill_then_finish(step, reference, killed, rng, seed):
    """Run `step` on the reference root; then on the killed root kill it (its process group, as a
    scheduler kills a job) at a random moment up to KILLS times, run it to the end, and compare."""
    started = time.monotonic()
    subprocess.run(_command(step, reference), check=True, capture_output=True, timeout=600)
    duration = time.monotonic() - started
    landed = 0
    for _ in range(KILLS):
        process = subprocess.Popen(_command(step, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:   # the first kill within the reference's time; later ones while a re-run catches up
            process.wait(timeout=rng.uniform(0.1, 0.5) * duration)
            break   # this run finished first: the step is done
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            landed += 1
    assert landed, f"{step[0]} finished before any kill (seed {seed}, {duration:.1f} s)"
    finished = subprocess.run(_command(step, killed), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, f"{step[0]} (seed {seed}): {finished.stderr[-2000:]}"
    try:
        assert_same_files(killed, reference)
    except AssertionError as error:
        raise AssertionError(f"after {landed} kills of {step[0]} (seed {seed}): {error}") from None


def _random_moments():
    seed = random.randrange(10**6)
    return random.Random(seed), seed   # the seed is in every failure message, to provoke the same moments


def test_kill_9_of_every_preparation_step_then_the_same_command_gives_the_uninterrupted_files(tmp_path):
    rng, seed = _random_moments()
    for step in PREPARATION:
        _kill_then_finish(step, tmp_path / "reference", tmp_path / "killed", rng, seed)


def test_kill_9_of_the_cityscapes_import_then_the_same_command_gives_the_uninterrupted_files(tmp_path):
    from test_prepare_cityscapes import _make_download
    download = _make_download(tmp_path, val_names=["aachen_000001_000019"])   # skips without ../shared
    step = ("data_prep/prepare_cityscapes.py", "--cityscapes", str(download), "--base-height", "32")
    rng, seed = _random_moments()
    _kill_then_finish(step, tmp_path / "reference", tmp_path / "killed", rng, seed)


# --- two runs on one root -------------------------------------------------------------------------

def _start_and_freeze(command, lock):
    """Start a run, wait until it holds `lock` (a lock file path), then freeze it there (SIGSTOP), as
    if it were slow: a second run started now meets it for certain. The file appears before its flock
    is taken; the holder's pid is written only after, so that is what we wait for."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while file_io.lock_holder(lock) != f"pid {process.pid}":
        assert process.poll() is None, f"the first run ended before taking {lock}: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGSTOP)
    return process


def _resume_and_finish(process):
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]


def test_a_second_run_of_a_step_on_the_same_shard_stops_in_one_line_and_other_shards_run_beside(network_root,
                                                                                                   tmp_path):
    command = ["data_prep/train_generate_transform.py", "--root"]
    output = Path("traindata") / "transform" / "transform_512"
    root = root_after_steps(network_root, tmp_path / "root")
    shutil.rmtree(root / output)
    first = _start_and_freeze([sys.executable, str(REPO_ROOT / command[0]), "--root", str(root)],
                              root / output / "01" / ".lock-shard-1-of-1")
    try:
        line = one_error_line(run_script(*command, root))
    finally:
        _resume_and_finish(first)
    assert str(root / output) in line and "already working here" in line and f"pid {first.pid}" in line
    assert_same_files(root / output, network_root / output)

    shards = root_after_steps(network_root, tmp_path / "shards")
    shutil.rmtree(shards / output)
    runs = [subprocess.Popen([sys.executable, str(REPO_ROOT / command[0]), "--root", str(shards), "--shard", f"{k}/2"],
                             stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    for run in runs:
        assert run.wait(timeout=600) == 0, run.stderr.read()[-2000:]
    assert_same_files(shards / output, network_root / output)


def test_a_second_training_of_one_model_folder_stops_in_one_line(searched_small_root, trained, tmp_path):
    root = root_after_steps(searched_small_root, tmp_path / "root")
    command = ["python_code/segmentation.py", "--train", "--root", root, "--max-steps", 8, *SEGMENTER_OPTIONS]
    first = _start_and_freeze([sys.executable, str(REPO_ROOT / command[0]), *map(str, command[1:])],
                              root / MODEL / ".lock-training")
    try:
        with pytest.raises(errors.DataError) as error:   # in this process: it cannot take the lock either
            train_segmenter(root, 8)
    finally:
        _resume_and_finish(first)
    assert str(error.value).startswith(f"{root / MODEL}: a training of segmentation 256 is already working here "
                                       f"(pid {first.pid})")
    assert_same_checkpoint(root / MODEL, trained[1] / MODEL)


# --- a worker killed during multi-worker training ------------------------------------------------

def _start_workers(root, options):
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = []
    for index in range(2):
        temporary = Path(root).parent / f"worker-{index}-tmp"   # a killed worker's checkpoint copy stays here
        temporary.mkdir(exist_ok=True)
        environment = {**os.environ, "TMPDIR": str(temporary), "TF_CONFIG": json.dumps(
            {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([sys.executable, str(REPO_ROOT / "python_code" / "segmentation.py"),
                                         "--root", str(root), *options], env=environment, text=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    return workers


def _finish(workers):
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr[-3000:]
    return stderr


WORKER_LOSS_LIMIT = 120   # seconds the surviving worker may take to stop (TensorFlow's heartbeats: about 15)


def test_a_killed_worker_stops_the_other_in_one_line_and_the_restarted_job_ends_as_an_uninterrupted_one(
        searched_small_root, tmp_path):
    options = ["--train", "--max-steps", "6", "--batch-size", "2", *SEGMENTER_OPTIONS]
    root = root_after_steps(searched_small_root, tmp_path / "cluster")
    folder = root / MODEL
    workers = _start_workers(root, options)
    deadline = time.monotonic() + 600
    while not (folder / "ckpt-2.index").exists():
        assert all(worker.poll() is None for worker in workers), workers[0].stderr.read()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers[1].kill()
    killed = time.monotonic()
    _, stderr = workers[0].communicate(timeout=WORKER_LOSS_LIMIT)
    assert workers[0].returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    (line,) = error_lines(stderr)
    assert str(folder) in line and "a worker of the job was lost" in line
    assert time.monotonic() - killed < WORKER_LOSS_LIMIT
    workers[1].wait()

    assert "resuming from" in _finish(_start_workers(root, options))
    uninterrupted = root_after_steps(searched_small_root, tmp_path / "uninterrupted")
    _finish(_start_workers(uninterrupted, options))
    assert checkpoints.checkpoint_number(checkpoints.newest(folder)) == 6
    assert_same_checkpoint(folder, uninterrupted / MODEL)


# --- bad input: one line naming the file and what is wrong, exit 1, nothing written damaged -------

def _memory_bank_step(root):
    return run_script("data_prep/train_connect_component_mask.py", "--root", root)


def _alpha_label(root):
    path = root / "traindata" / "label_refine" / "00000002.png"
    image = np.asarray(Image.open(path).convert("RGBA")).copy()
    image[0, :5, 3] = 0
    Image.fromarray(image).save(path)
    return path, "5 transparent pixels"


def _sixteen_bit_label(root):
    path = root / "traindata" / "label_refine" / "00000002.png"
    grey = np.asarray(Image.open(path).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(path)
    return path, "16-bit"


def _image_of_another_size(root):
    path = root / "traindata" / "RGB256Full" / "00000004.png"
    Image.open(path).resize((40, 20)).save(path)
    return path, "size is 20x40, expected 32x64"


def _image_missing_for_a_label(root):
    path = root / "traindata" / "RGB256Full" / "00000005.png"
    path.unlink()
    return path, "file not found"


def _empty_label_folder(root):
    folder = root / "traindata" / "label_refine"
    shutil.rmtree(folder)
    folder.mkdir()
    return folder, "no images"


def _base_height_not_a_multiple_of_32(root):
    path = root / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "base_height": 40}))
    return path, "40"


@pytest.mark.parametrize("spoil", [_alpha_label, _sixteen_bit_label, _image_of_another_size, _image_missing_for_a_label,
                                   _empty_label_folder, _base_height_not_a_multiple_of_32])
def test_bad_input_to_a_step_is_one_line_and_leaves_the_finished_files(searched_small_root, tmp_path, spoil):
    root = root_after_steps(searched_small_root, tmp_path / "root")
    bank = root / "traindata" / "original_segment"
    finished = files_of(bank)
    shutil.rmtree(bank / "01")   # some of the step's work to do again
    where, what = spoil(root)
    line = one_error_line(_memory_bank_step(root))
    assert str(where) in line and what in line, line
    assert all(finished[name] == data for name, data in files_of(bank).items())


def test_a_matlab_v7_3_file_is_one_line(searched_small_root, tmp_path):
    root = root_after_steps(searched_small_root, tmp_path / "root")
    path = sorted((root / "testdata" / "original_mask").rglob("00100001.mat"))[0]
    shutil.rmtree(root / folders.retrieved_segments())   # the retrieval to do again
    # the header MATLAB writes with save -v7.3 (an HDF5 file follows the 512-byte user block)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Dec  3 10:00:00 2026 HDF5 schema 1.00 ."
    path.write_bytes(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM" + b"\0" * 384 + b"\x89HDF\r\n\x1a\n")
    line = one_error_line(run_script("data_prep/search_segments.py", "--root", root))
    assert str(path) in line and "v7.3" in line and "-v7" in line


def test_a_read_only_root_is_one_line(searched_small_root, tmp_path):
    root = root_after_steps(searched_small_root, tmp_path / "root")
    shutil.rmtree(root / "traindata" / "original_segment" / "01")
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(root), str(root)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only folder here ({mounted.stderr.strip()})")
    try:
        line = one_error_line(_memory_bank_step(root))
    finally:
        subprocess.run(["umount", "--lazy", str(root)])
    assert str(root / "traindata" / "original_segment") in line and "read-only file system" in line


def test_ordering_without_disparity_maps_says_why_and_what_follows(network_root, tmp_path):
    root = root_after_steps(network_root, tmp_path / "root")
    for name in ("order", "disparity"):
        shutil.rmtree(root / "traindata" / name)
    assert run_script("data_prep/train_generate_order.py", "--root", root).returncode == 0
    line = one_error_line(run_script("python_code/order.py", "--train", "--root", root, "--max-steps", 2))
    assert "no ordering pairs" in line and "no disparity maps" in line and "class table's order" in line


def test_a_layout_whose_every_pixel_is_void_is_named_and_skipped(tmp_path, caplog):
    import class_table
    import synthesize_layouts
    sizes = data_root.Sizes(32)
    layouts = tmp_path / "layouts"
    file_io.write_image(layouts / "empty.png", np.zeros((32, 64, 3), np.uint8))
    with pytest.raises(errors.DataError, match="no layout uses only"):
        synthesize_layouts.place_layouts(layouts, tmp_path / "work", sizes, class_table.CITYSCAPES)
    assert f"{layouts / 'empty.png'}: every pixel is void" in caplog.text


def test_a_shard_beyond_its_count_is_argparses_one_error_line(tmp_path):
    result = run_script("data_prep/train_connect_component_mask.py", "--root", tmp_path, "--shard", "3/2")
    assert result.returncode == 2 and "shard K/N needs 1 <= K <= N, got '3/2'" in result.stderr.splitlines()[-1]
