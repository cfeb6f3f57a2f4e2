"""The folder contract between the steps (data_prep/folders.py) is the README's Pipeline table: every
folder the table names is one the module names (or a parent of one), and every folder the module
names appears in the table."""

import re

import folders
from conftest import REPO_ROOT

LEVEL_NAMES = ("256", "512", "1024")
TOP_FOLDERS = ("traindata", "testdata", "trainedmodels", "result")
# what a README path names inside a folder: a file per image, per class (CC) or per set (SS)
INSIDE_A_FOLDER = re.compile(r"^(NAME\..*|CC|SS|traindata_mat|traindata_label|logs)$")
NOT_IN_THE_TABLE = {"TRAIN", "TEST", "VGG19_FILE"}   # the two top folders; the VGG19 file the user supplies


def contract():
    """{name in folders.py: the paths it gives}, functions at every level."""
    named = {}
    for name, value in vars(folders).items():
        if name.startswith("_"):
            continue
        if isinstance(value, str) and value.startswith(TOP_FOLDERS):
            named[name] = {value}
        elif callable(value):
            if name == "retrieved_segments":
                named[name] = {value()}
            elif name in ("synthesis_model", "synthesized", "canvases"):
                named[name] = {value(level, flag) for level in LEVEL_NAMES for flag in (False, True)}
            else:
                named[name] = {value(level) for level in LEVEL_NAMES}
    return named


def pipeline_table_paths():
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Pipeline"):readme.index("## Read more")]
    paths = set()
    for text in re.findall(r"`((?:%s)/[^`]*)`" % "|".join(TOP_FOLDERS), section):
        if "<network>" in text:
            continue
        for level in LEVEL_NAMES:
            expanded = text.replace("<level>", level).replace("<2 level>", str(2 * int(level)))
            parts = []
            for part in expanded.split("/"):
                if not part or INSIDE_A_FOLDER.match(part):
                    break
                parts.append(part)
            paths.add("/".join(parts))
    return paths


def test_the_module_names_every_folder_of_the_pipeline_table():
    named = set().union(*contract().values())
    unnamed = {path for path in pipeline_table_paths()
               if path not in named and not any(value.startswith(path + "/") for value in named)}
    assert not unnamed, f"README paths that data_prep/folders.py does not name: {sorted(unnamed)}"


def test_the_pipeline_table_shows_every_folder_of_the_module():
    in_table = pipeline_table_paths()
    missing = {name for name, values in contract().items()
               if name not in NOT_IN_THE_TABLE and not values & in_table}
    assert not missing, f"folders.py names that the README's Pipeline table never shows: {sorted(missing)}"


def test_no_step_spells_a_folder_of_the_contract():
    named = set().union(*contract().values())
    spelled = []
    for path in sorted((REPO_ROOT / "data_prep").glob("*.py")) + sorted((REPO_ROOT / "python_code").glob("*.py")) \
            + sorted((REPO_ROOT / "benchmarks").glob("*.py")):
        if path.name == "folders.py":
            continue
        for literal in re.findall(r"[\"']((?:%s)/[^\"']*)[\"']" % "|".join(TOP_FOLDERS), path.read_text()):
            if literal.rstrip("/") in named:
                spelled.append(f"{path.name}: {literal}")
    assert not spelled, spelled
