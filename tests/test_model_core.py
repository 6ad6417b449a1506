"""The model core against PyTorch's and Hugging Face's reference implementations."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gpt_course import (
    GPT, Block, GPTConfig, LayerNorm, MultiHeadAttention, attention_maps, causal_mask, parameter_count,
    scaled_dot_product_attention, sinusoidal_encoding,
)
from gpt_course.positional import RotaryEmbedding, alibi_bias, alibi_slopes

TINY = dict(vocab_size=61, block_size=16, n_layer=2, n_head=4, n_embd=32)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 7, 16)])
def test_attention_equals_torch_sdpa(causal, shape):
    q, k, v = (torch.randn(*shape) for _ in range(3))
    mask = causal_mask(shape[-2]) if causal else None
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(shape[:-1]))
    if causal:
        assert (weights.triu(1) == 0).all(), "a causal query must give zero weight to the future"


def test_causal_mask_with_cache_offsets():
    m = causal_mask(2, 5)
    assert m.tolist() == [[True, True, True, True, False], [True] * 5]


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_equals_torch_multiheadattention(causal):
    C, H, B, T = 32, 4, 3, 7
    ref = nn.MultiheadAttention(C, H, batch_first=True)
    ours = MultiHeadAttention(GPTConfig(n_embd=C, n_head=H, causal=causal))
    with torch.no_grad():
        ours.c_attn.weight.copy_(ref.in_proj_weight)
        ours.c_attn.bias.copy_(ref.in_proj_bias)
        ours.c_proj.weight.copy_(ref.out_proj.weight)
        ours.c_proj.bias.copy_(ref.out_proj.bias)
    x = torch.randn(B, T, C)
    mask = ~causal_mask(T) if causal else None  # torch: True = NOT allowed
    expected, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)


def test_layernorm_equals_torch_forward_and_backward():
    x = torch.randn(4, 6, 32, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    ours, ref = LayerNorm(32), nn.LayerNorm(32)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(32)); ours.bias.copy_(torch.randn(32))
        ref.weight.copy_(ours.weight); ref.bias.copy_(ours.bias)
    y, y_ref = ours(x), ref(x2)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(y)
    y.backward(g); y_ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad, atol=1e-5, rtol=1e-4)


def test_layernorm_equals_its_formula():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16) * 4 + 2
    ln = LayerNorm(16)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(16)); ln.bias.copy_(torch.randn(16))
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased variance (divide by n)
    formula = (x - mean) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias
    torch.testing.assert_close(ln(x), formula, atol=1e-5, rtol=1e-5)


def test_layernorm_without_bias():
    ln = LayerNorm(8, bias=False)
    assert ln.bias is None
    torch.testing.assert_close(ln(torch.arange(8.0)), F.layer_norm(torch.arange(8.0), (8,)))


def test_sinusoidal_matches_formula_elementwise():
    max_len, d = 50, 16
    pe = sinusoidal_encoding(max_len, d)
    assert pe.shape == (max_len, d)
    for pos in range(max_len):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert math.isclose(pe[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_rope_score_depends_only_on_offset():
    rope = RotaryEmbedding(head_dim=16, max_len=64)
    q, k = torch.randn(16), torch.randn(16)
    table_q = rope(q.expand(64, 16))  # q placed at every position
    table_k = rope(k.expand(64, 16))
    scores = table_q @ table_k.T  # scores[m, n] = q at m · k at n
    for offset in (0, 1, 5, 20):
        diag = torch.diagonal(scores, offset=-offset)  # all pairs with m - n = offset
        torch.testing.assert_close(diag, diag[0].expand_as(diag), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(scores[10, 9], scores[10, 3]), "different offsets should give different scores"


def test_alibi_bias_is_linear_in_distance():
    slopes = alibi_slopes(8)
    torch.testing.assert_close(slopes, torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    b = alibi_bias(8, 5)
    torch.testing.assert_close(b[:, 4, 1], -3 * slopes)
    assert alibi_slopes(6).shape == (6,)


@pytest.mark.parametrize("bad, message", [
    (lambda: sinusoidal_encoding(10, 7), "even"),
    (lambda: RotaryEmbedding(7, 10), "even"),
    (lambda: GPTConfig(n_embd=100, n_head=3), r"not divisible by n_head=3.*choose n_head among \[1, 2, 4, 5"),
    (lambda: GPTConfig(pos_encoding="absolute"), "pos_encoding"),
    (lambda: GPTConfig(norm="middle"), "norm"),
    (lambda: GPTConfig(n_embd=12, n_head=4, pos_encoding="rope"), "head size"),
])
def test_bad_configuration_gets_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        bad()


@pytest.mark.parametrize("build", [lambda: Block(32), lambda: MultiHeadAttention(32)])
def test_layers_built_from_sizes_instead_of_a_config_get_a_clear_error(build):
    with pytest.raises(TypeError, match=r"built from a GPTConfig.*GPTConfig\(n_embd="):
        build()


def test_block_takes_everything_from_its_config():
    block = Block(GPTConfig(n_embd=24, n_head=3, norm="post", causal=False, bias=False, dropout=0.1))
    assert (block.norm, block.attn.n_head, block.attn.causal, block.attn.dropout) == ("post", 3, False, 0.1)
    assert block.ln_1.bias is None and block.attn.c_attn.bias is None and block.mlp.c_fc.out_features == 96
    assert sum(p.numel() for p in block.parameters()) == 2 * 24 + 4 * 24**2 + 8 * 24**2  # 2 LN, attention, MLP


def test_model_core_does_not_import_the_hub():
    """hub.py builds GPTs; the model must not need hub.py (no import circle)."""
    import ast
    import gpt_course

    for name in ("attention", "layers", "model", "positional"):
        tree = ast.parse((Path(gpt_course.__file__).parent / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m and m.endswith("hub") for m in imported), name


def test_bad_input_to_forward_gets_a_clear_error():
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 61]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[-1, 3]]))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="LongTensor"):
        model([[1, 2, 3]])
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT(dict(TINY))


def test_forward_shapes_and_loss():
    model = GPT(GPTConfig(**TINY))
    idx = torch.randint(0, 61, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 61) and loss is None
    _, loss = model(idx, targets=torch.randint(0, 61, (3, 10)))
    assert abs(loss.item() - math.log(61)) < 0.2, "a fresh model should predict close to uniform"


POSITIONS = ["learned", "sinusoidal", "rope", "alibi"]


@pytest.mark.parametrize("pos_encoding", POSITIONS)
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_causality_future_tokens_never_change_the_past(pos_encoding, norm):
    model = GPT(GPTConfig(**TINY, pos_encoding=pos_encoding, norm=norm)).eval()
    idx = torch.randint(0, 61, (2, 12))
    logits, _ = model(idx)
    for t in range(11):
        changed = idx.clone()
        changed[:, t + 1 :] = torch.randint(0, 61, changed[:, t + 1 :].shape)
        logits2, _ = model(changed)
        torch.testing.assert_close(logits2[:, : t + 1], logits[:, : t + 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pos_encoding", POSITIONS)
def test_causal_false_lets_every_position_see_the_future(pos_encoding):
    torch.manual_seed(0)
    causal = GPT(GPTConfig(**TINY, pos_encoding=pos_encoding)).eval()
    torch.manual_seed(0)
    bidirectional = GPT(GPTConfig(**TINY, pos_encoding=pos_encoding, causal=False)).eval()
    assert all(torch.equal(p, q) for p, q in zip(causal.state_dict().values(), bidirectional.state_dict().values()))
    idx = torch.randint(0, 61, (2, 12))
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 61
    with torch.no_grad():
        for model, sees_future in ((causal, False), (bidirectional, True)):
            moved = (model(idx)[0] - model(changed)[0]).abs().amax(-1) > 1e-6  # (B, T)
            assert moved[:, :-1].all() == sees_future and moved[:, -1].all()


@pytest.mark.parametrize("pos_encoding", POSITIONS)
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_hidden_is_the_forward_pass_without_lm_head(pos_encoding, norm):
    model = GPT(GPTConfig(**TINY, pos_encoding=pos_encoding, norm=norm)).eval()
    idx = torch.randint(0, 61, (2, 11))
    with torch.no_grad():
        h = model.hidden(idx)
        assert h.shape == (2, 11, 32)
        torch.testing.assert_close(model.lm_head(h), model(idx)[0])


@pytest.mark.parametrize("pos_encoding", POSITIONS)
def test_kv_cache_gives_the_logits_of_the_full_forward(pos_encoding):
    model = GPT(GPTConfig(**TINY, pos_encoding=pos_encoding)).eval()
    idx = torch.randint(0, 61, (2, 16))
    cache = model.new_cache()
    with torch.no_grad():
        steps = [model(idx[:, :6], cache=cache)[0]] + [model(idx[:, t : t + 1], cache=cache)[0] for t in range(6, 16)]
        torch.testing.assert_close(torch.cat(steps, 1), model(idx)[0], atol=1e-5, rtol=1e-5)
        assert cache[0][0].shape == (2, 4, 16, 8)  # (B, nh, T, hs) of every token seen
        with pytest.raises(ValueError, match="longer than block_size"):
            model(idx[:, :1], cache=cache)


def test_rope_uses_one_table_for_all_layers():
    from gpt_course.positional import RotaryEmbedding

    model = GPT(GPTConfig(**TINY, pos_encoding="rope"))
    tables = [m for m in model.modules() if isinstance(m, RotaryEmbedding)]
    assert tables == [model.rotary] and model.rotary.cos.shape == (16, 4)  # (block_size, hs / 2)
    assert not any("rotary" in k for k in model.state_dict())  # rebuilt from the config, never saved
    assert GPT(GPTConfig(**TINY)).rotary is None


@pytest.mark.parametrize("size, expected", [
    ("small", 124_439_808), ("medium", 354_823_168), ("large", 774_030_080), ("xl", 1_557_611_200),
])
def test_gpt2_parameter_counts_on_meta_device(size, expected):
    config = GPTConfig.gpt2(size)
    with torch.device("meta"):
        model = GPT(config)
    assert next(model.parameters()).device.type == "meta"
    assert model.num_parameters() == expected == parameter_count(config)


@pytest.mark.parametrize("config", [
    GPTConfig.gpt1(), GPTConfig.gpt3("175B"), GPTConfig(**TINY, tie_weights=False, bias=False),
    GPTConfig(**TINY, pos_encoding="rope", norm="post"), GPTConfig(**TINY, pos_encoding="sinusoidal"),
])
def test_parameter_formula_matches_code(config):
    with torch.device("meta"):
        model = GPT(config)
    assert model.num_parameters() == parameter_count(config)


def test_weight_tying_shares_one_matrix():
    model = GPT(GPTConfig(**TINY))
    assert model.lm_head.weight is model.transformer.wte.weight
    untied = GPT(GPTConfig(**TINY, tie_weights=False))
    assert untied.num_parameters() - model.num_parameters() == 61 * 32


def test_attention_maps_shape_and_rows():
    model = GPT(GPTConfig(**TINY))
    maps = attention_maps(model, torch.randint(0, 61, (9,)))
    assert maps.shape == (2, 4, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 4, 9))
    assert (maps.triu(1) == 0).all()
    assert all(not m.store_weights for m in model.modules() if isinstance(m, MultiHeadAttention))


def test_hub_roundtrip_with_random_gpt2():
    transformers = pytest.importorskip("transformers")
    from gpt_course.hub import from_hf, to_hf

    hf_config = transformers.GPT2Config(vocab_size=97, n_positions=32, n_embd=48, n_layer=3, n_head=4)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    ours = from_hf(hf).eval()
    idx = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        ref = hf(idx).logits
        mine, _ = ours(idx)
        assert (mine - ref).abs().max().item() <= 1e-4
        back = to_hf(ours)
        assert (back(idx).logits - ref).abs().max().item() <= 1e-4


def test_to_hf_refuses_other_layouts():
    from gpt_course.hub import to_hf

    with pytest.raises(ValueError, match="GPT-2 layout"):
        to_hf(GPT(GPTConfig(**TINY, pos_encoding="rope")))


def test_from_pretrained_offline_gives_clear_error(monkeypatch):
    pytest.importorskip("transformers")
    from gpt_course.hub import from_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises((RuntimeError, ValueError), match="internet|unknown"):
        from_pretrained("gpt2-tiny")
    with pytest.raises(RuntimeError, match="internet access"):
        from_pretrained("gpt2")
