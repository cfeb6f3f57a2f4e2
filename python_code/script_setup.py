"""Imported first by every network script, tool and benchmark that uses TensorFlow: it puts
data_prep/ on the import path (the scripts run as files, not as an installed package) and loads
TensorFlow without its start-up noise (quiet_tensorflow.py). Nothing else imports with side effects.
"""

import logging
import sys
from pathlib import Path

import quiet_tensorflow

DATA_PREP = Path(__file__).resolve().parent.parent / "data_prep"
if str(DATA_PREP) not in sys.path:
    sys.path.insert(0, str(DATA_PREP))

tf = quiet_tensorflow.import_tensorflow()
logging.getLogger("absl").setLevel(logging.WARNING)        # checkpointing logs timings at INFO
logging.getLogger("tensorflow").setLevel(logging.WARNING)  # tf.distribute logs every all-reduce it plans
