"""Set-input transformer: queries never see each other, the context is a set."""

import torch


def data(seed, n=12, m=7, d=2):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, n, d, generator=g), torch.randn(3, n, generator=g), torch.rand(3, m, d, generator=g)


def test_output_shape_and_empty_context(small_net):
    x, y, q = data(0)
    assert small_net(x, y, q).shape == (3, 7, 32)
    empty = small_net(x[:, :0], y[:, :0], q)
    assert empty.shape == (3, 7, 32) and torch.isfinite(empty).all()


def test_adding_removing_or_changing_queries_leaves_other_queries_unchanged(small_net):
    x, y, q = data(1)
    full = small_net(x, y, q)
    # remove queries 2..6: the first two are unchanged
    assert torch.allclose(small_net(x, y, q[:, :2]), full[:, :2], atol=1e-5)
    # change query 0 and add ten more: queries 1..6 are unchanged
    q2 = torch.cat([torch.rand(3, 1, 2), q[:, 1:], torch.rand(3, 10, 2)], dim=1)
    out = small_net(x, y, q2)
    assert torch.allclose(out[:, 1:7], full[:, 1:], atol=1e-5)
    # a single query alone gives the same as in the crowd
    assert torch.allclose(small_net(x, y, q[:, 3:4]), full[:, 3:4], atol=1e-5)


def test_context_is_a_set_and_matters(small_net):
    x, y, q = data(2)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(small_net(x[:, perm], y[:, perm], q), small_net(x, y, q), atol=1e-5)
    y_changed = y.clone()
    y_changed[:, 0] += 3.0
    assert not torch.allclose(small_net(x, y_changed, q), small_net(x, y, q), atol=1e-3)


def test_cached_context_gives_the_same_logits(small_net):
    x, y, q = data(3)
    cache = small_net.encode_context(x, y)
    assert torch.allclose(small_net.decode(cache, q), small_net(x, y, q), atol=1e-6)


def test_datasets_in_a_batch_are_independent(small_net):
    x, y, q = data(4)
    full = small_net(x, y, q)
    assert torch.allclose(small_net(x[1:2], y[1:2], q[1:2]), full[1:2], atol=1e-5)
