"""Set-input transformer: queries never see each other, the context is a set."""

import copy

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


def test_encoding_the_context_equals_passing_its_tokens_through_each_block_as_queries(small_net):
    """``encode_context`` shares each block's layer norm between keys and outputs; the reference sends
    the context tokens through ``Block.forward``, the query path, one block at a time. Every weight is
    drawn at random, so that no two layer norms are alike."""
    net = copy.deepcopy(small_net)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    x, y, _ = data(5)
    cache = net.encode_context(x, y)
    with torch.no_grad():
        ctx = net.x_encoder(x) + net.y_encoder(y.unsqueeze(-1))
        ctx = torch.cat([net.empty_token.expand(3, 1, -1), ctx], dim=1)
        for block, (k, v) in zip(net.blocks, cache, strict=True):
            k_ref, v_ref = block.context_keys_values(ctx)
            assert torch.allclose(k, k_ref, atol=1e-6) and torch.allclose(v, v_ref, atol=1e-6)
            ctx = block(ctx, k_ref, v_ref)


def test_bfloat16_attention_on_cpu_agrees_with_the_float64_formula():
    """The written-out bfloat16 attention (CPU) against softmax(q kᵀ / √Dh) v in float64 on the same
    rounded inputs: the error is a few units of bfloat16's roundoff (2^-8) of the largest value, not more."""
    from pfn.model.transformer import attend

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, n, 16, generator=g).bfloat16() for n in (5, 30, 30))
    q = q * 3  # scores of a few units: a softmax far from uniform
    scores = q.double() @ k.double().transpose(-1, -2) / 16**0.5
    expected = torch.softmax(scores, dim=-1) @ v.double()
    got = attend(q, k, v)
    assert got.dtype == torch.bfloat16
    err = (got.double() - expected).abs().max() / v.double().abs().max()
    assert err < 4 * 2**-8, err
