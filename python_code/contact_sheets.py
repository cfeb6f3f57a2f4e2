"""Contact sheets of the test results (written by evaluate.py): per test image, label | canvas |
synthesized | parametric baseline (when it was run) | ground truth side by side
(result/contact_sheets/NAME.jpg), and the first ones stacked in result/overview.jpg. Panels lower
than PANEL_HEIGHT are enlarged by a whole factor (pixels repeated, nothing smoothed), so that the
demo's small images can be seen.

Reads the level's canvases (testdata/synthesis/transform_order_<level>/NAME.mat: revised label
and canvas), result/synthesis/transform_order_<level>/NAME.png,
result/synthesis_parametric/transform_order_<level>/NAME.png and the ground truth
(testdata/RGB256Full or RGB512Full; a grey panel where it is missing).
"""

import logging

import numpy as np

import data_root
import errors
import file_io
import folders

LOG = logging.getLogger("sims")
OVERVIEW_IMAGES = 12   # rows of the overview
GAP = 4                # pixels between panels
PANEL_HEIGHT = 128     # smaller panels are enlarged by the smallest whole factor reaching it


def enlarged(panel):
    factor = -(-PANEL_HEIGHT // panel.shape[0])
    return panel if factor <= 1 else np.repeat(np.repeat(panel, factor, axis=0), factor, axis=1)


def contact_sheet(panels):
    panels = [enlarged(panel) for panel in panels]
    height = panels[0].shape[0]
    gap = np.full((height, GAP, 3), 255, np.uint8)
    return np.concatenate([part for panel in panels for part in (panel, gap)][:-1], axis=1)


def write_contact_sheets(root, level_name, shape):
    """Write the contact sheets and the overview of a level; returns how many images they show."""
    canvas_folder = root / folders.canvases(level_name)
    result_folder = root / folders.synthesized(level_name)
    parametric_folder = root / folders.synthesized(level_name, parametric=True)
    truth_folder = root / folders.test_images(level_name)
    sheets = []
    image_ids = data_root.list_image_ids(result_folder)
    for image_id in image_ids:
        name = data_root.image_name(image_id)
        content = file_io.load_mat(canvas_folder / f"{name}.mat", ["proposal", "label"])
        truth_path = truth_folder / f"{name}.png"
        truth = file_io.read_image(truth_path, shape=shape) if truth_path.exists() else np.full(shape + (3,), 128, np.uint8)
        panels = [content["label"], np.round(np.clip(content["proposal"], 0, 1) * 255).astype(np.uint8),
                  file_io.read_image(result_folder / f"{name}.png", shape=shape)]
        if (parametric_folder / f"{name}.png").exists():
            panels.append(file_io.read_image(parametric_folder / f"{name}.png", shape=shape))
        sheet = contact_sheet(panels + [truth])
        file_io.write_image(root / folders.CONTACT_SHEETS / f"{name}.jpg", sheet)
        if len(sheets) < 2 * OVERVIEW_IMAGES:
            sheets += [sheet, np.full((GAP, sheet.shape[1], 3), 255, np.uint8)]
    if not sheets:
        raise errors.DataError(f"{result_folder}: no synthesized images; run the synthesis test phase first")
    file_io.write_image(root / folders.OVERVIEW, np.concatenate(sheets[:-1], axis=0))
    LOG.info("contact sheets in %s, overview %s", root / folders.CONTACT_SHEETS, root / folders.OVERVIEW)
    return len(image_ids)
