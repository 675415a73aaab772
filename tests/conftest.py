import os

# Executed notebooks (nbval) must not print progress bars.
os.environ.setdefault("TQDM_DISABLE", "1")

# The test suite (nbval included) always trains: no result cache.
os.environ["ICL_CACHE_DIR"] = "off"
