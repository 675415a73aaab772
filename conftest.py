import os

# Executed notebooks (nbval) must not print progress bars.
os.environ.setdefault("TQDM_DISABLE", "1")

# The test suite (nbval included) always trains: no result cache.  This file sits at the root so that
# `pytest notebooks` alone (make test-notebooks) is covered too; under tests/ it was not, and a second
# nbval run read what the first had cached.
os.environ["ICL_CACHE_DIR"] = "off"
