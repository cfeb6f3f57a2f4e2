import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
sys.path.insert(0, str(REPO_ROOT / "data_prep"))


def shared_path(*parts):
    """A file of ../shared, or skip the test when the shared folder is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def run_script(script, *args, cwd=None):
    """Run a repository script as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ERROR")]


@pytest.fixture(scope="session")
def default_demo_root(tmp_path_factory):
    """The demo dataset at its default size (200 training, 20 test images, base height 64)."""
    import make_demo_dataset

    root = tmp_path_factory.mktemp("demo_default")
    make_demo_dataset.main(["--root", str(root), "--workers", "2"])
    return root
