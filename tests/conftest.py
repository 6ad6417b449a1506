import os

import pytest
import torch

os.environ.setdefault("GPT_COURSE_OFFLINE", "1")  # tests never reach the network


@pytest.fixture(autouse=True)
def _seed(monkeypatch):
    torch.manual_seed(0)
    # tests compare runs float for float: a run must not change its thread count because the machine got busy
    if "GPT_COURSE_THREADS" not in os.environ:
        monkeypatch.setenv("GPT_COURSE_THREADS", str(torch.get_num_threads()))
    yield
