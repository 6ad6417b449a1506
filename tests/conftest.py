import os

import pytest
import torch

os.environ.setdefault("GPT_COURSE_OFFLINE", "1")  # tests never reach the network


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
