"""The command line every step, network script and tool shares: logging through the progress
bars, run_cli (a DataError becomes one ERROR line and a non-zero exit), the --root and --level
options, and argparse types."""

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

import data_root
import file_io
from errors import DataError

LOG = logging.getLogger("sims")


class _TqdmHandler(logging.Handler):
    """Log through tqdm.write so log lines do not tear progress bars."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise
            self.handleError(record)


def setup_logging(level=logging.INFO):
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def run_cli(main):
    """Run a script's main(): a DataError becomes one ERROR line and exit status 1."""
    setup_logging()
    try:
        main()
    except DataError as error:
        LOG.error("%s", error)
        sys.exit(1)
    except OSError as error:   # a full disk or read-only folder met outside the atomic writers
        where = Path(error.filename).parent if error.filename else "an output file"
        storage = file_io.storage_error(where, error)
        if storage is None:
            raise
        LOG.error("%s", storage)
        sys.exit(1)
    except KeyboardInterrupt:
        LOG.error("interrupted; finished outputs are kept, run again to continue")
        sys.exit(130)


def add_root_argument(parser):
    parser.add_argument("--root", type=Path, default=data_root.REPO_ROOT,
                        help="folder holding traindata/ testdata/ trainedmodels/ result/ "
                             "(default: the repository root)")



def positive_int(text):
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def non_negative_float(text):
    """An argparse type: a number of at least 0."""
    value = _float(text)
    if not value >= 0:   # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text):
    """An argparse type: a number above 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def parse_shard(text):
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N, got {text!r}") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"shard K/N needs 1 <= K <= N, got {text!r}")
    return index, count


def add_level_argument(parser, names=tuple(data_root.LEVELS)):
    parser.add_argument("--level", choices=names, default="512",
                        help=f"image size: the original's {', '.join(names)} (default 512)")
