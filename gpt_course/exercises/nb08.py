"""Checks for notebook 08 (the transformer block): spotting a future-token leak, torch's causal mask
convention, and calling a sequence-first `nn.MultiheadAttention` on (B, T, C) tensors."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import Mistake, call, exercise, expect_close
from ..attention import causal_mask as _causal_mask
from ..model import GPT, GPTConfig

_VOCAB = 50


def _gpt(causal: bool) -> GPT:
    """A small untrained GPT; with causal=False every attention layer sees the whole sequence."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=_VOCAB, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    for block in model.transformer.h:
        block.attn.causal = causal
    return model


def _test_models() -> list[tuple[str, object, bool]]:
    """(description, model mapping ids (B, T) to logits (B, T, V), leaks the future?)."""
    causal, bidirectional = _gpt(True), _gpt(False)
    table = torch.randn(_VOCAB, _VOCAB, generator=torch.Generator().manual_seed(1))

    def causal_gpt(idx):
        return causal(idx)[0]

    def bidirectional_gpt(idx):
        return bidirectional(idx)[0]

    def peeks_in_first_half(idx):  # positions t < T/2 also read token t+1; the last token is never read early
        out = causal(idx)[0].clone()
        half = idx.shape[1] // 2
        out[:, :half] += table[idx[:, 1 : half + 1]]
        return out

    def current_token_only(idx):  # a bigram model: position t depends on token t only
        return table[idx]

    return [
        ("a causal GPT", causal_gpt, False),
        ("a GPT without the causal mask", bidirectional_gpt, True),
        ("a model whose positions in the first half also read the next token", peeks_in_first_half, True),
        ("a bigram model (output t depends on token t only)", current_token_only, False),
    ]


@exercise("08.leaks_future")
def check_leaks_future(fn) -> None:
    with torch.no_grad():
        for description, model, leaks in _test_models():
            for T in (8, 12):
                got = call(fn, model, _VOCAB, T)
                if isinstance(got, torch.Tensor) and got.numel() == 1:
                    raise Mistake("return a Python bool, not a tensor: use .item() or bool(...)")
                if isinstance(got, np.bool_):  # a NumPy bool is fine
                    got = bool(got)
                if not isinstance(got, bool):
                    raise Mistake(f"return True or False, got {type(got).__name__}")
                if got == leaks:
                    continue
                if leaks:
                    raise Mistake(f"{description} (T={T}) leaks, but your function says it does not. Change every "
                                  f"position j in turn, not only the last one, and see whether any output at a "
                                  f"position before j moves")
                raise Mistake(f"{description} (T={T}) does not leak, but your function says it does. The output at "
                              f"position t may depend on token t itself and on earlier tokens: when you change "
                              f"token j compare only positions 0 .. j-1")


@exercise("08.torch_causal_mask")
def check_torch_causal_mask(fn) -> None:
    for T in (4, 1, 7):
        got = call(fn, T)
        may_attend = _causal_mask(T)
        if not isinstance(got, torch.Tensor):
            raise Mistake(f"expected a torch.Tensor, got {type(got).__name__}")
        if got.shape != (T, T):
            raise Mistake(f"torch_causal_mask({T}) should have shape ({T}, {T}), got {tuple(got.shape)}")
        if got.dtype == torch.bool:
            if torch.equal(got, may_attend):
                raise Mistake("this is the course's convention (True = may attend, gc.causal_mask). "
                              "nn.MultiheadAttention reads a bool attn_mask the other way round: True = NOT "
                              "allowed. Invert it: ~gc.causal_mask(T), or torch.triu(..., diagonal=1)")
            if T > 1 and torch.equal(got, ~may_attend | torch.eye(T, dtype=torch.bool)):
                raise Mistake("you also blocked the diagonal: a token must be allowed to attend to itself "
                              "(the first row would have nothing to attend to). Use diagonal=1 in torch.triu")
            if not torch.equal(got, ~may_attend):
                raise Mistake(f"torch_causal_mask({T}) must be True exactly above the diagonal (keys after the "
                              f"query), False on and below it")
        elif got.is_floating_point():
            expected = torch.zeros(T, T).masked_fill(~may_attend, float("-inf"))
            if not torch.equal(got.float(), expected):
                raise Mistake("a float mask is added to the scores: it must be -inf above the diagonal and 0 on "
                              "and below it")
        else:
            raise Mistake(f"return a bool (True = blocked) or float (-inf = blocked) tensor, got dtype {got.dtype}")
    # and it must make nn.MultiheadAttention causal
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        out = mha(x, x, x, attn_mask=call(fn, 5), need_weights=False)[0]
        changed = x.clone()
        changed[:, -1] += 1.0
        out2 = mha(changed, changed, changed, attn_mask=call(fn, 5), need_weights=False)[0]
    expect_close(out2[:, :-1], out[:, :-1], "with your mask, outputs before a changed last token")


@exercise("08.attend_over_time")
def check_attend_over_time(fn) -> None:
    torch.manual_seed(0)
    for B, T, C, heads in [(3, 5, 8, 2), (2, 7, 12, 3), (1, 4, 8, 1)]:  # B != T so mixed-up axes show
        mha = nn.MultiheadAttention(C, heads).eval()  # batch_first=False, as the outline builds it
        reference = nn.MultiheadAttention(C, heads, batch_first=True).eval()
        reference.load_state_dict(mha.state_dict())
        x = torch.randn(B, T, C)
        for mask in (None, ~_causal_mask(T)):
            with torch.no_grad():
                got = call(fn, mha, x.clone(), mask)
                expected = reference(x, x, x, attn_mask=mask, need_weights=False)[0]
                if isinstance(got, tuple):
                    raise Mistake("return only the output tensor (B, T, C); nn.MultiheadAttention returns "
                                  "(output, weights), take [0]")
                if isinstance(got, torch.Tensor) and got.shape == (T, B, C) != (B, T, C):
                    raise Mistake(f"the output has shape {tuple(got.shape)} = (T, B, C): transpose it back to "
                                  f"(B, T, C) as well")
                if mask is None and B > 1 and isinstance(got, torch.Tensor) and got.shape == expected.shape:
                    wrong = mha(x, x, x, need_weights=False)[0]
                    if torch.allclose(got, wrong, atol=1e-6):
                        raise Mistake("you passed (B, T, C) straight to a sequence-first module: it read the "
                                      "batch as the sequence and attended across examples. Transpose to "
                                      "(T, B, C) with x.transpose(0, 1) before the call")
                if mask is not None and isinstance(got, torch.Tensor) and got.shape == expected.shape:
                    xt = x.transpose(0, 1)
                    unmasked = mha(xt, xt, xt, need_weights=False)[0].transpose(0, 1)
                    if torch.allclose(got, unmasked, atol=1e-6):
                        raise Mistake("the axes are right, but the mask was ignored: pass attn_mask=attn_mask "
                                      "on to the module")
                expect_close(got, expected, f"attention over time for x of shape {(B, T, C)}, "
                             f"{'causal mask' if mask is not None else 'no mask'}", atol=1e-5)
