"""Checks for notebook 19 (training compute, the logit lens, constrained decoding)."""
import math

import torch

from . import Mistake, call, exercise, expect_close


@exercise("19.training_flops")
def training_flops(fn):
    from ..model import GPTConfig, parameter_count

    cases = [(GPTConfig.gpt3("175B"), 300_000_000_000), (GPTConfig.gpt2("small"), 10**9),
             (GPTConfig(vocab_size=2048, block_size=96, n_layer=4, n_head=6, n_embd=192), 2_918_400),
             (GPTConfig(vocab_size=100, block_size=8, n_layer=1, n_head=1, n_embd=8), 1)]
    for config, tokens in cases:
        n = parameter_count(config)
        expected = 6 * n * tokens
        got = call(fn, config, tokens)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number of FLOPs, got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        if math.isclose(got, 2 * n * tokens, rel_tol=1e-9):
            raise Mistake("2·N·D is the forward pass only; the backward pass costs twice as much again (4·N·D)")
        if math.isclose(got, 6 * n, rel_tol=1e-9) or math.isclose(got, 6 * tokens, rel_tol=1e-9):
            raise Mistake("the cost is per parameter AND per token: multiply 6 by both N and D")
        raise Mistake(f"for N = {n:,} parameters and D = {tokens:,} tokens expected {expected:.4g} FLOPs, "
                      f"got {got:.4g}")


def _reference_lens(model, idx):
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
    out = [model.lm_head(t.ln_f(x))]
    for block in t.h:
        x = block(x)
        out.append(model.lm_head(t.ln_f(x)))
    return torch.stack(out)


def _lens_without_ln_f(model, idx):
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
    out = [model.lm_head(x)]
    for block in t.h:
        x = block(x)
        out.append(model.lm_head(x))
    return torch.stack(out)


@exercise("19.logit_lens")
def logit_lens(fn):
    from ..model import GPT, GPTConfig

    cases = [(GPTConfig(vocab_size=61, block_size=16, n_layer=3, n_head=2, n_embd=32), (2, 9)),
             (GPTConfig(vocab_size=40, block_size=8, n_layer=1, n_head=4, n_embd=16), (1, 8))]
    for i, (cfg, shape) in enumerate(cases):
        torch.manual_seed(10 + i)
        model = GPT(cfg).eval()
        with torch.no_grad():  # non-trivial LayerNorm gains, so a missing ln_f shows
            for name, p in model.named_parameters():
                if "ln" in name:
                    p.add_(0.3 * torch.randn_like(p))
        idx = torch.randint(0, cfg.vocab_size, shape)
        with torch.no_grad():
            expected = _reference_lens(model, idx)
            got = call(fn, model, idx)
            if isinstance(got, (list, tuple)) and got and all(isinstance(g, torch.Tensor) for g in got):
                raise Mistake("return one tensor: torch.stack the per-layer logits into (n_layer + 1, B, T, V)")
            if isinstance(got, torch.Tensor) and got.shape == expected.shape:
                if torch.allclose(got, _lens_without_ln_f(model, idx), atol=1e-5):
                    raise Mistake("apply the final LayerNorm ln_f before lm_head at every layer: it is part of the "
                                  "model's read-out")
            if isinstance(got, torch.Tensor) and got.shape == expected[1:].shape:
                raise Mistake(f"expected {cfg.n_layer + 1} read-outs (the embeddings before the first block, then "
                              f"one after each block), got {got.shape[0]}")
            expect_close(got, expected, f"logit lens for n_layer={cfg.n_layer}, ids of shape {shape}", atol=1e-5,
                         rtol=1e-4)


def _reference_allowed(token_text, generated, words):
    return torch.tensor([s != "" and any(w.startswith(generated + s) for w in words) for s in token_text])


@exercise("19.allowed_tokens")
def allowed_tokens(fn):
    token_text = ["", " ", " P", "ar", "is", " Paris", "Paris", " L", "ondon", "on", "don", " Lon", "s", "\n", "i",
                  " Pa", "r", "is."]
    words = [" Paris", " London", " Lond"]
    for generated in ("", " P", " Par", " Lon", " London", " Paris", " Pari"):
        expected = _reference_allowed(token_text, generated, words)
        got = call(fn, list(token_text), generated, list(words))
        if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
            raise Mistake("return a boolean tensor with one entry per token (torch.tensor([...]) of True/False)")
        if got.shape != expected.shape:
            raise Mistake(f"expected a mask of shape {tuple(expected.shape)} (one entry per token), "
                          f"got {tuple(got.shape)}")
        if torch.equal(got, expected):
            continue
        bad = [token_text[i] for i in range(len(token_text)) if got[i] != expected[i]]
        ignored = torch.tensor([s != "" and any(w.startswith(s) for w in words) for s in token_text])
        if generated and torch.equal(got, ignored):
            raise Mistake("the token must continue what was generated so far: test generated + token, not the token "
                          "alone")
        if got[0]:
            raise Mistake("the empty token adds nothing and would let generation stall: never allow it")
        raise Mistake(f"after {generated!r} the mask is wrong for the tokens {bad!r}: allow a token exactly when "
                      f"generated + token is a prefix of one of the words")
