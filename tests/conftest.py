import pytest
import torch

from pfn.checkpoint import save_checkpoint
from pfn.model import BarDistribution, PFNTransformer
from priors import GPPrior


@pytest.fixture
def small_net():
    torch.manual_seed(0)
    net = PFNTransformer(num_features=2, num_bins=32, d_model=32, n_layers=2, n_heads=4, d_ff=64).eval()
    with torch.no_grad():  # a zero head would make every prediction identical; randomise it
        net.head.weight.normal_(0, 0.5)
    return net


@pytest.fixture
def small_bar():
    return BarDistribution.from_samples(torch.randn(10_000, generator=torch.Generator().manual_seed(0)), 32)


@pytest.fixture
def checkpoint_file(tmp_path, small_net, small_bar):
    return save_checkpoint(
        tmp_path / "model.safetensors", small_net, small_bar,
        prior=GPPrior(max_features=2).describe(), training={"max_context": 50},
    )  # fmt: skip
