import os
from pathlib import Path

from hypothesis import settings

# The CI profile is selected by pytest's addopts (--hypothesis-profile=ci):
# derandomized, no deadline, no example database, so a run is repeatable.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=200)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
REFERENCE = ROOT.parent / "shared" / "reference" / "regnet_model_zoo.json"
os.environ.setdefault("PYTHONHASHSEED", "0")
