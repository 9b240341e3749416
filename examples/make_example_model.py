"""Regenerate the example SavedModel that `make demo` pushes (needs TensorFlow; the demo does not).

Run with the test virtualenv: .venv/bin/python examples/make_example_model.py
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from savedmodels import make_module_model  # noqa: E402  (shared with the tests: one model recipe)

# A TFX Trainer's Model artifact: the SavedModel lives in Format-Serving/.
target = HERE / "model" / "Format-Serving"
shutil.rmtree(HERE / "model", ignore_errors=True)
make_module_model(target)
print(f"wrote {target}")
