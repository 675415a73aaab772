import os

# Executed notebooks (nbval) must not print progress bars.
os.environ.setdefault("TQDM_DISABLE", "1")
