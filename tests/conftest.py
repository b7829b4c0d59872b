"""Shared test setup."""

import torch

# The test models are small: a second intra-op thread buys nothing, and on a busy
# 2-core machine (CI runs the app server and a browser beside pytest) OpenMP's
# spinning threads slow small ops down by an order of magnitude.
torch.set_num_threads(1)
