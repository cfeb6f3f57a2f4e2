import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
sys.path.insert(0, str(REPO_ROOT / "data_prep"))
sys.path.insert(0, str(REPO_ROOT / "python_code"))


def shared_path(*parts):
    """A file of ../shared, or skip the test when the shared folder is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def run_script(script, *args, cwd=None, env=None):
    """Run a repository script as a user would (env: variables to add or, when None, to remove);
    returns the CompletedProcess."""
    environment = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600, env=environment)


TINY_DEMO_TRAIN, TINY_DEMO_TEST = 12, 2


def run_tiny_demo(root, *preset, synthesis_steps=2):
    """run_demo.sh as a user runs it, on a tiny demo set in `root`, two steps per network (the
    synthesis networks: synthesis_steps)."""
    environment = dict(os.environ, SIMS_DEMO_ROOT=str(root), SIMS_DEMO_TRANSFORM_STEPS="2", SIMS_DEMO_ORDER_STEPS="2",
                       SIMS_DEMO_SYNTHESIS_STEPS=str(synthesis_steps), SIMS_DEMO_SEGMENTATION_STEPS="2")
    result = subprocess.run(["bash", str(REPO_ROOT / "run_demo.sh"), *preset, "--train", str(TINY_DEMO_TRAIN),
                             "--test", str(TINY_DEMO_TEST), "--base-height", "32", "--seed", "3"],
                            env=environment, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ERROR")]


@pytest.fixture(scope="module")
def module_folder(request, tmp_path_factory):
    """module_folder(name): a new folder for the data a test module's fixtures share. The folders
    go once the module's tests are done, unless one of them failed, as tmp_path_retention_policy =
    failed does for tmp_path (pytest.ini): kept to the end, they filled 14 GB of disk per run."""
    folders = []

    def make(name):
        folders.append(tmp_path_factory.mktemp(name))
        return folders[-1]

    failures = request.session.testsfailed
    yield make
    if request.session.testsfailed == failures:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def default_demo_root(tmp_path_factory):
    """The demo dataset at its default size (200 training, 20 test images, base height 64)."""
    import make_demo_dataset

    root = tmp_path_factory.mktemp("demo_default")
    make_demo_dataset.main(["--root", str(root), "--workers", "2"])
    return root


def small_demo_root(path, seed=5, train=12, test=3):
    """A tiny demo root (base height 32) with its memory bank, query segments and retrieval done."""
    import make_demo_dataset
    import search_segments
    import test_connect_component_mask
    import train_connect_component_mask

    make_demo_dataset.main(["--root", str(path), "--train", str(train), "--test", str(test),
                            "--base-height", "32", "--seed", str(seed)])
    for step in (train_connect_component_mask, test_connect_component_mask, search_segments):
        step.main(["--root", str(path)])
    return path


@pytest.fixture(scope="session")
def searched_small_root(tmp_path_factory):
    """small_demo_root shared by the tests of the later steps; tests copy it before writing into it."""
    return small_demo_root(tmp_path_factory.mktemp("small_searched"))


def root_after_steps(source, folder, *steps):
    """A copy of the data root `source` in `folder` with the given step modules run on it."""
    root = Path(folder) / "root"
    shutil.copytree(source, root)
    for step in steps:
        step.main(["--root", str(root)])
    return root


@contextlib.contextmanager
def small_disk(folder, size):
    """A tmpfs of `size` bytes mounted on `folder` (a full disk, for real); yields grow(new_size),
    which frees space as an administrator would. Skips where this machine cannot mount one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size)}", "tmpfs", str(folder)],
                                 capture_output=True, text=True, timeout=30)
    except OSError as error:
        mounted = subprocess.CompletedProcess([], 1, "", str(error))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({mounted.stderr.strip()})")

    def grow(new_size):
        subprocess.run(["mount", "-o", f"remount,size={int(new_size)}", str(folder)], check=True, timeout=30)

    try:
        yield grow
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], timeout=30)


def free_ports(count):
    """Ports on 127.0.0.1 that nothing listens on now, for a cluster of worker processes."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports
