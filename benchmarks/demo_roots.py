"""Demo roots for the benchmarks that train networks themselves: one built by run_demo.sh up to
the canvases, and variant roots inside it that share its data and keep their own models."""

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def prepare_demo_root(root, demo_seed, preset):
    """run_demo.sh (its preset's levels) on ROOT up to the canvases, with its own demo seed; it
    skips what is already done."""
    environment = {**os.environ, "SIMS_DEMO_ROOT": str(root), "SIMS_DEMO_PRESET": preset,
                   "SIMS_DEMO_STOP_AFTER": "canvases"}
    subprocess.run([str(REPO_ROOT / "run_demo.sh"), "--seed", str(demo_seed)], env=environment, check=True)


def variant_root(root, folder, own=("trainedmodels", "result"), linked=("trainedmodels/imagenet-vgg-verydeep-19.mat",)):
    """ROOT/FOLDER: ROOT's entries through symbolic links, except `own` (made empty here), into which
    the `linked` paths of ROOT that exist are linked again."""
    variant = root / folder
    for name in own:
        (variant / name).mkdir(parents=True, exist_ok=True)
    top = Path(folder).parts[0]
    for entry in root.iterdir():
        link = variant / entry.name
        if entry.name not in own and entry.name != top and not link.is_symlink():
            link.symlink_to(entry)
    for path in linked:
        link = variant / path
        if (root / path).exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(root / path)
    return variant
