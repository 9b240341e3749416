"""Regenerate the example SavedModel that `make demo` pushes (needs TensorFlow; the demo does not).

Run with the test virtualenv, from the repository's root: .venv/bin/python -m examples.make_example_model
"""

import shutil
from pathlib import Path

from tests.support.savedmodels import make_module_model  # shared with the tests: one model recipe

HERE = Path(__file__).resolve().parent

# A TFX Trainer's Model artifact: the SavedModel lives in Format-Serving/.
target = HERE / "model" / "Format-Serving"
shutil.rmtree(HERE / "model", ignore_errors=True)
make_module_model(target)
print(f"wrote {target}")
