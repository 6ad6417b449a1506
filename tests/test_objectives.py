"""Masked-token corruption, the MLM loss, InfoNCE and the bidirectional/causal Encoder (notebook 11)."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import gpt_course as gc
from gpt_course.objectives import (IGNORE_INDEX, MASK_PROB, OBJECTIVE_RECIPE, Encoder, LeftToRight, fit,
                                   info_nce, mask_tokens, mlm_loss, next_token_logits, train_language_model)
from gpt_course.train import Recipe, TrainConfig

V, MASK = 50, 50  # 50 ordinary tokens, [MASK] gets id 50
CFG = gc.GPTConfig(vocab_size=V + 1, block_size=16, n_layer=2, n_head=2, n_embd=32)


# ----------------------------------------------------------------------------------------- mask_tokens

def test_mask_tokens_follows_the_80_10_10_rule():
    ids = torch.randint(0, V, (200, 500), generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(ids, MASK, V, generator=torch.Generator().manual_seed(1))
    chosen = labels != IGNORE_INDEX
    assert chosen.float().mean().item() == pytest.approx(0.15, abs=0.005)
    assert torch.equal(labels[chosen], ids[chosen])            # the label is the original token
    assert torch.equal(inputs[~chosen], ids[~chosen])          # positions not chosen are untouched
    n = chosen.sum().item()
    masked = (inputs == MASK) & chosen
    kept = (inputs == ids) & chosen
    assert masked.sum().item() / n == pytest.approx(0.8, abs=0.01)
    # a random replacement equals the original with probability 1/V, so "kept" is 10% + 10%/V
    assert kept.sum().item() / n == pytest.approx(0.1 + 0.1 / V, abs=0.01)
    assert (inputs == MASK).sum() == masked.sum()              # [MASK] appears only where chosen
    assert inputs.max().item() <= MASK and inputs.min().item() >= 0


def test_mask_tokens_is_reproducible_and_keeps_shape_and_device():
    ids = torch.randint(0, V, (4, 16))
    a = mask_tokens(ids, MASK, V, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(ids, MASK, V, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == ids.shape and a[0].dtype == ids.dtype


def test_mask_tokens_rejects_a_mask_id_that_is_an_ordinary_token():
    with pytest.raises(ValueError, match="id of its own"):
        mask_tokens(torch.zeros(2, 3, dtype=torch.long), 7, V)
    with pytest.raises(ValueError, match="mask_prob"):
        mask_tokens(torch.zeros(2, 3, dtype=torch.long), MASK, V, mask_prob=0.0)


def test_mlm_loss_scores_only_the_labelled_positions():
    logits = torch.randn(2, 5, V + 1)
    labels = torch.full((2, 5), IGNORE_INDEX)
    labels[0, 1], labels[1, 3] = 4, 9
    expected = (F.cross_entropy(logits[0, 1], torch.tensor(4)) + F.cross_entropy(logits[1, 3], torch.tensor(9))) / 2
    torch.testing.assert_close(mlm_loss(logits, labels), expected)
    with pytest.raises(ValueError, match="no position"):
        mlm_loss(logits, torch.full((2, 5), IGNORE_INDEX))


# -------------------------------------------------------------------------------------------- InfoNCE

def test_info_nce_matches_the_formula():
    q, k = torch.randn(6, 8), torch.randn(6, 8)
    t = 0.1
    s = torch.stack([torch.stack([F.cosine_similarity(qi, kj, dim=0) for kj in k]) for qi in q]) / t
    one_way = -torch.stack([s[i, i] - torch.logsumexp(s[i], 0) for i in range(6)]).mean()
    other_way = -torch.stack([s[i, i] - torch.logsumexp(s[:, i], 0) for i in range(6)]).mean()
    torch.testing.assert_close(info_nce(q, k, t, symmetric=False), one_way)
    torch.testing.assert_close(info_nce(q, k, t), (one_way + other_way) / 2)


def test_info_nce_is_ln_n_for_identical_embeddings_and_small_for_matched_pairs():
    n = 8
    same = torch.ones(n, 4)
    assert info_nce(same, same).item() == pytest.approx(math.log(n), rel=1e-6)
    eye = torch.eye(n)
    assert info_nce(eye, eye * 3.0, temperature=0.05).item() < 1e-6  # scale does not matter: cosine
    # relabelling the pairs (the same permutation on both sides) does not change the loss
    q, k, perm = torch.randn(n, 5), torch.randn(n, 5), torch.randperm(n)
    torch.testing.assert_close(info_nce(q[perm], k[perm]), info_nce(q, k))


def test_info_nce_rejects_mismatched_batches():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        info_nce(torch.randn(4, 3), torch.randn(5, 3))


# -------------------------------------------------------------------------------------------- Encoder

def test_causal_encoder_is_gpt():
    gpt = gc.GPT(CFG).eval()
    enc = Encoder.from_gpt(gpt)
    idx = torch.randint(0, V, (3, 16))
    torch.testing.assert_close(enc(idx)[0], gpt(idx)[0])
    assert enc.num_parameters() == gpt.num_parameters()
    assert sorted(enc.state_dict()) == sorted(gpt.state_dict())


def test_encoder_is_a_gpt_built_with_causal_false():
    torch.manual_seed(0)
    enc = Encoder(CFG).eval()
    torch.manual_seed(0)
    gpt = gc.GPT(dataclasses.replace(CFG, causal=False)).eval()
    assert isinstance(enc, gc.GPT) and not enc.causal and CFG.causal  # the config passed in is left as it was
    idx = torch.randint(0, V, (2, 16))
    with torch.no_grad():
        assert torch.equal(enc(idx)[0], gpt(idx)[0])


def test_bidirectional_encoder_sees_the_future_and_causal_does_not():
    torch.manual_seed(0)
    for causal in (False, True):
        enc = Encoder(CFG, causal=causal).eval()
        idx = torch.randint(0, V, (2, 10))
        changed = idx.clone()
        changed[:, 7] = (changed[:, 7] + 1) % V
        with torch.no_grad():
            a, b = enc(idx)[0], enc(changed)[0]
        assert torch.equal(a[:, :7], b[:, :7]) == causal  # positions before the change see it only if bidirectional


def test_encoder_loss_ignores_unlabelled_positions_and_embed_is_the_mean():
    enc = Encoder(CFG).eval()
    idx = torch.randint(0, V, (2, 12))
    labels = torch.full_like(idx, IGNORE_INDEX)
    labels[:, 3] = idx[:, 3]
    logits, loss = enc(idx, labels)
    torch.testing.assert_close(loss, mlm_loss(logits, labels))
    torch.testing.assert_close(enc.embed(idx), enc.hidden(idx).mean(1))
    with pytest.raises(ValueError, match="block_size"):
        enc(torch.zeros(1, 17, dtype=torch.long))


def test_next_token_logits_of_a_causal_model_is_its_last_position():
    gpt = gc.GPT(CFG).eval()
    ctx = torch.randint(0, V, (4, 9))
    torch.testing.assert_close(next_token_logits(gpt, ctx), gpt(ctx)[0][:, -1])
    mlm = Encoder(CFG).eval()
    with_mask = torch.cat([ctx, torch.full((4, 1), MASK)], 1)
    torch.testing.assert_close(next_token_logits(mlm, ctx, MASK), mlm(with_mask)[0][:, -1])


def test_left_to_right_lets_generate_drive_a_masked_lm():
    mlm = Encoder(CFG).eval()
    prompt = torch.randint(0, V, (1, 20))  # longer than block_size: the wrapper keeps the last 15 + [MASK]
    out = gc.generate(LeftToRight(mlm, MASK), prompt, 5, temperature=0, use_cache=False)
    assert out.shape == (1, 25)
    with torch.no_grad():
        first = mlm(torch.cat([prompt[:, -15:], torch.tensor([[MASK]])], 1))[0][0, -1, :MASK].argmax()
    assert out[0, 20] == first
    assert (out[:, 20:] != MASK).all()  # [MASK] is never generated


def test_fit_lowers_a_masked_lm_loss():
    torch.manual_seed(0)
    data = torch.arange(16).repeat(8, 1) % V  # the same easy sequence in every row
    enc = Encoder(CFG)
    gen = torch.Generator().manual_seed(0)

    def loss_fn(step):
        inputs, labels = mask_tokens(data, MASK, V, generator=gen)
        return mlm_loss(enc(inputs)[0], labels)

    seen = []
    history = fit(enc, loss_fn, TrainConfig(max_steps=60, lr=3e-3, warmup_steps=5, progress=False),
                  callback=lambda step: seen.append((step, enc.training)) or enc.eval())
    assert len(history["loss"]) == 60 and history["seconds"] > 0
    assert [s for s, _ in seen] == list(range(1, 61)) and all(training for _, training in seen)
    assert sum(history["loss"][-10:]) / 10 < 0.5 * sum(history["loss"][:5]) / 5
    assert not enc.training


# ------------------------------------------------------------------------------------ train_language_model

TINY = Recipe(dataclasses.replace(OBJECTIVE_RECIPE.model, n_layer=1, n_head=2, n_embd=32, block_size=16),
              TrainConfig(max_steps=60, batch_size=8, lr=1e-2, warmup_steps=6))
STREAM = torch.arange(3000) * 7 % 10  # a token stream of period 10: each token follows from its neighbours


def test_recipe_builds_the_notebook_11_transformer_with_one_row_for_mask():
    cfg = OBJECTIVE_RECIPE.model
    assert (cfg.block_size, cfg.n_layer, cfg.n_embd, cfg.pos_encoding) == (32, 2, 128, "rope")
    assert OBJECTIVE_RECIPE.train.warmup_steps == OBJECTIVE_RECIPE.train.max_steps // 10 and MASK_PROB == 0.4
    model, log = train_language_model("next-token", STREAM, V, TINY, max_steps=3, progress=False)
    assert model.config == dataclasses.replace(TINY.model, vocab_size=V + 1) and len(log["loss"]) == 3


def test_a_shorter_run_warms_up_for_a_tenth_of_its_steps(monkeypatch):
    """max_steps=20 is the recipe's schedule scaled down: 20 steps, 2 of them warm-up, the recipe's lr and batch."""
    schedules, real_fit = [], gc.objectives.fit

    def spy(model, loss_fn, config, **kwargs):
        schedules.append(config)
        return real_fit(model, loss_fn, config, **kwargs)

    monkeypatch.setattr(gc.objectives, "fit", spy)
    _, log = train_language_model("next-token", STREAM, V, TINY, max_steps=20, progress=False)
    train_language_model("next-token", STREAM, V, TINY, max_steps=None, progress=False)
    runs = [(c.max_steps, c.warmup_steps, c.lr, c.batch_size) for c in schedules]
    assert runs == [(20, 2, 1e-2, 8), (60, 6, 1e-2, 8)]
    assert len(log["loss"]) == 20


def test_mask_prob_changes_only_the_corruption():
    a, log_a = train_language_model("masked", STREAM, V, TINY, max_steps=5, progress=False)
    b, log_b = train_language_model("masked", STREAM, V, TINY, max_steps=5, progress=False, mask_prob=0.15)
    assert log_a["loss"] != log_b["loss"]
    with pytest.raises(ValueError, match="mask_prob"):
        train_language_model("masked", STREAM, V, TINY, max_steps=5, progress=False, mask_prob=1.5)


def test_train_language_model_is_reproducible_and_a_callback_does_not_change_the_result():
    a, log_a = train_language_model("masked", STREAM, V, TINY, max_steps=15, progress=False)
    seen = []

    def probe(step, model):  # notebook 11 evaluates the model being trained; this also draws global random numbers
        seen.append((step, model.training))
        model.eval()
        with torch.no_grad():
            model(torch.randint(0, V, (2, 16)))

    b, log_b = train_language_model("masked", STREAM, V, TINY, max_steps=15, progress=False, callback=probe)
    assert seen == [(step, True) for step in range(1, 16)]
    assert log_a["loss"] == log_b["loss"]
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert isinstance(a, Encoder) and not a.causal


def test_both_objectives_see_the_same_windows_and_learn():
    seen = {}
    for objective in ("next-token", "masked"):
        batches = []
        original = gc.objectives.get_batch

        def spy(*args, **kwargs):
            x, y = original(*args, **kwargs)
            batches.append(x.clone())
            return x, y

        gc.objectives.get_batch = spy
        try:
            model, log = train_language_model(objective, STREAM, V, TINY, progress=False)
        finally:
            gc.objectives.get_batch = original
        seen[objective] = torch.stack(batches)
        assert sum(log["loss"][-5:]) / 5 < 0.75 * sum(log["loss"][:5]) / 5, objective
        assert isinstance(model, gc.GPT if objective == "next-token" else Encoder)
    assert torch.equal(seen["next-token"], seen["masked"])  # the masking draws do not shift the windows


def test_train_language_model_rejects_an_unknown_objective():
    with pytest.raises(ValueError, match="next-token"):
        train_language_model("contrastive", STREAM, V, TINY)
