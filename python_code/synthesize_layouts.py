"""Your own layouts -> images, with the trained models of a data root.

  python python_code/synthesize_layouts.py --layouts DIR --root ROOT [--level 256|512] [--out DIR]

Every PNG in DIR is a colour label map in the palette of the root's class table (Cityscapes'
unless dataset.json holds another; black is void), of any size: it is resized to the root's
level-1 size with nearest neighbour. A layout with colours outside the table is reported by name
and skipped; the others go on. They become the test layouts of a work root (OUT/work: its own
testdata/ and result/, the root's traindata/ and trainedmodels/ linked, so the root's test set is
not touched), which runs the test pipeline: query segments, retrieval, transformation and
ordering (their test phases, when the root has those models; else the segments are pasted
untransformed and the class order decides), canvas and synthesis at --level with the root's
synthesis model. Writes OUT/NAME.png per layout (NAME = the layout's file stem),
OUT/contact_sheet.jpg (layout | canvas | synthesized, one row per layout) and OUT/layouts.csv
(id, name). Default OUT: ROOT/result/own_layouts/. Each run starts a fresh work root.
"""

import argparse
import csv
import io
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))

import sims_common as common  # noqa: E402
from contact_sheets import GAP, contact_sheet  # noqa: E402

LOG = logging.getLogger("sims")
REPOSITORY = Path(__file__).resolve().parent.parent
SYNTHESIS_SCRIPTS = {"256": "python_code/synthesis_256_512.py", "512": "python_code/synthesis_512_1024.py"}
LINKED = ("traindata", "trainedmodels")   # shared with the root; testdata/ and result/ are the work root's own


def place_layouts(layouts, work, sizes, classes):
    """Write the readable layouts as the work root's test layouts; returns {id: name}."""
    paths = sorted(path for path in Path(layouts).iterdir() if path.suffix.lower() == ".png")
    if not paths:
        raise common.DataError(f"{layouts}: no layout PNGs")
    names = {}
    for path in paths:
        index, unknown = common.label_to_index(common.read_image(path), classes)
        if unknown:
            LOG.error("%s: %d pixels have colours outside the class table; layout skipped", path, unknown)
            continue
        image_id = common.FIRST_TEST_ID + len(names)
        layout = common.resize_nearest(index, sizes.shape(1))
        for folder, level in (("label_refine", 1), ("label_refine_512", 2)):  # as the test set has them
            common.write_image(work / "testdata" / folder / f"{common.image_name(image_id)}.png",
                               common.index_to_label(common.resize_nearest(layout, sizes.shape(level)), classes))
        names[image_id] = path.stem
    if not names:
        raise common.DataError(f"{layouts}: no layout uses only the class table's colours")
    return names


def make_work_root(root, work):
    """A fresh root beside nothing of the root's test set: its dataset.json, linked training side."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(common.dataset_json_path(root), work / "dataset.json")
    for name in LINKED:
        if (root / name).exists():
            (work / name).symlink_to((root / name).resolve(), target_is_directory=True)


def run(script, work, *arguments):
    """Run one of the pipeline's scripts on the work root, as a user would."""
    LOG.info("%s %s", script, " ".join(map(str, arguments)))
    finished = subprocess.run([sys.executable, str(REPOSITORY / script), "--root", str(work), *map(str, arguments)])
    if finished.returncode != 0:
        raise common.DataError(f"{REPOSITORY / script}: failed on the layouts (its message is above)")


def write_outputs(work, out, names, level_name, sizes):
    shape = sizes.shape(common.LEVELS[level_name])
    rows = []
    for image_id, name in names.items():
        file_name = f"{common.image_name(image_id)}"
        synthesized = common.read_image(work / "result" / "synthesis" / f"transform_order_{level_name}" / f"{file_name}.png")
        common.write_image(out / f"{name}.png", synthesized)
        canvas = common.load_mat(work / "testdata" / "synthesis" / f"transform_order_{level_name}" / f"{file_name}.mat",
                                 ["proposal"])["proposal"]
        layout = common.resize_nearest(common.read_image(work / "testdata" / "label_refine" / f"{file_name}.png"), shape)
        rows.append(contact_sheet([layout, np.round(canvas * 255).astype(np.uint8), synthesized]))
    gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    common.write_image(out / "contact_sheet.jpg", np.concatenate([part for row in rows for part in (row, gap)][:-1]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["id", "name"])
    writer.writerows([common.image_name(image_id), name] for image_id, name in names.items())
    common.write_bytes_atomic(out / "layouts.csv", text.getvalue().encode())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--layouts", type=Path, required=True, help="folder of colour label PNGs")
    common.add_root_argument(parser)
    parser.add_argument("--level", choices=sorted(SYNTHESIS_SCRIPTS), default="512",
                        help="synthesis level (its model must be trained; default 512)")
    parser.add_argument("--out", type=Path, help="output folder (default ROOT/result/own_layouts)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "result" / "own_layouts").resolve()
    work = out / "work"
    sizes, classes = common.load_sizes(root), common.load_classes(root)
    if not common.dataset_json_path(root).exists():
        raise common.DataError(f"{common.dataset_json_path(root)}: not a prepared data root")

    if not args.layouts.is_dir():
        raise common.DataError(f"{args.layouts}: folder not found")
    make_work_root(root, work)
    names = place_layouts(args.layouts, work, sizes, classes)
    LOG.info("%d layouts placed in %s", len(names), work / "testdata" / "label_refine")
    for step in ("test_connect_component_mask", "search_segments", "test_generate_order"):
        run(f"data_prep/{step}.py", work)
    run("data_prep/test_generate_transform.py", work)
    if (root / "trainedmodels" / "transform").is_dir():
        run("python_code/transformation.py", work, "--test")
    if (root / "trainedmodels" / "order").is_dir():
        run("python_code/order.py", work, "--test")
    if args.level != "512":
        run("data_prep/test_generate_transform.py", work, "--level", args.level)
    run("data_prep/test_generate_canvas.py", work, "--level", args.level)
    run(SYNTHESIS_SCRIPTS[args.level], work, "--test")
    write_outputs(work, out, names, args.level, sizes)
    LOG.info("%d images and a contact sheet in %s", len(names), out)


if __name__ == "__main__":
    common.run_cli(main)
