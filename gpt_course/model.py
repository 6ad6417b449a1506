"""The GPT model: configuration, presets for GPT-1/2/3, parameter counts, forward with an optional KV cache."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .layers import Block, LayerNorm
from .positional import LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding, alibi_bias
from .utils import evaluating

POS_ENCODINGS = ("learned", "sinusoidal", "rope", "alibi")
NORMS = ("pre", "post")
IGNORE_INDEX = -100  # a target with this value adds nothing to the loss (F.cross_entropy's ignore_index)

# n_layer, n_head, n_embd: GPT-2 as released (Radford et al. 2019); GPT-3 from Brown et al. 2020, Table 2.1
_GPT2_SIZES = {"small": (12, 12, 768), "medium": (24, 16, 1024), "large": (36, 20, 1280), "xl": (48, 25, 1600)}
_GPT3_SIZES = {"small": (12, 12, 768), "medium": (24, 16, 1024), "large": (24, 16, 1536),
               "xl": (24, 16, 2048),  # the paper prints 24 heads of 128, which cannot make 2048
               "2.7B": (32, 32, 2560), "6.7B": (32, 32, 4096),
               "13B": (40, 40, 5120),  # the paper prints 5140, which 40 heads of 128 cannot make
               "175B": (96, 96, 12288)}


def _shape(family: str, sizes: dict, size: str) -> dict:
    if size not in sizes:
        raise ValueError(f"{family} size {size!r} is unknown: choose one of {list(sizes)}")
    return dict(zip(("n_layer", "n_head", "n_embd"), sizes[size]))


@dataclass
class GPTConfig:
    """Everything that fixes a GPT's shape. Defaults are GPT-2 small."""

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    pos_encoding: str = "learned"
    norm: str = "pre"
    tie_weights: bool = True
    causal: bool = True  # False: every position attends to every position (BERT's bidirectional encoder)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            choices = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0][:12]
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head gets "
                             f"n_embd // n_head dimensions; choose n_head among {choices}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding={self.pos_encoding!r} is unknown: choose one of {POS_ENCODINGS}")
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r} is unknown: choose 'pre' (GPT-2, stable) or 'post' (GPT-1)")
        if self.pos_encoding == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions need an even n_embd, got {self.n_embd}")
        if self.pos_encoding == "rope" and self.head_dim % 2:
            raise ValueError(f"RoPE rotates pairs of dimensions, so the head size n_embd // n_head must be even, "
                             f"got {self.n_embd} // {self.n_head} = {self.head_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        known = sorted(f.name for f in fields(cls))
        if set(d) - set(known):
            raise ValueError(f"unknown GPTConfig fields {sorted(set(d) - set(known))}; known fields are {known}")
        return cls(**d)

    @classmethod
    def gpt1(cls, **overrides) -> GPTConfig:
        """GPT-1 (Radford et al. 2018): 12 post-LN layers, 768 wide, 512 context, 40,478 BPE tokens."""
        return cls(**{**dict(vocab_size=40478, block_size=512, n_layer=12, n_head=12, n_embd=768, norm="post"),
                      **overrides})

    @classmethod
    def gpt2(cls, size: str = "small", **overrides) -> GPTConfig:
        """GPT-2 (Radford et al. 2019): small 124M, medium 355M, large 774M, xl 1.5B."""
        return cls(**{**_shape("GPT-2", _GPT2_SIZES, size), "block_size": 1024, **overrides})

    @classmethod
    def gpt3(cls, size: str = "175B", **overrides) -> GPTConfig:
        """GPT-3 (Brown et al. 2020): 2048 context; 175B is 96 layers of width 12,288."""
        return cls(**{**_shape("GPT-3", _GPT3_SIZES, size), "block_size": 2048, **overrides})


def parameter_count(config: GPTConfig) -> int:
    """Closed formula for the number of parameters of `GPT(config)`."""
    C, V, L, b = config.n_embd, config.vocab_size, config.n_layer, int(config.bias)
    ln = C * (1 + b)  # weight (+ bias)
    attn = C * 3 * C + b * 3 * C + C * C + b * C  # c_attn + c_proj
    mlp = C * 4 * C + b * 4 * C + 4 * C * C + b * C  # c_fc + c_proj
    embeddings = V * C + (config.block_size * C if config.pos_encoding == "learned" else 0)
    head = 0 if config.tie_weights else V * C
    final_ln = ln if config.norm == "pre" else 0
    return embeddings + L * (2 * ln + attn + mlp) + final_ln + head


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-1/2 layout, nanoGPT-style names).

    `hidden` is the body (embeddings, blocks, final LayerNorm); `forward` puts the language-model head on it.
    With `config.causal=False` the same body is a bidirectional encoder, as in BERT.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList(Block(c) for _ in range(c.n_layer)),
        ))
        # positions, chosen here only: a table added to the tokens, one rotation table that every attention
        # layer applies to q and k (rope), or a distance bias on the scores (alibi, made in `hidden`)
        if c.pos_encoding == "learned":
            self.transformer["wpe"] = LearnedPositionalEmbedding(c.block_size, c.n_embd)
        elif c.pos_encoding == "sinusoidal":
            self.transformer["wpe"] = SinusoidalPositionalEncoding(c.block_size, c.n_embd)
        self.rotary = RotaryEmbedding(c.head_dim, c.block_size) if c.pos_encoding == "rope" else None
        if c.norm == "pre":  # post-LN blocks already end in a LayerNorm (GPT-1 has no final one)
            self.transformer["ln_f"] = LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight  # one matrix embeds and unembeds
        for m in self.modules():  # GPT-2's initialisation: N(0, 0.02) weights, zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():  # and residual projections scaled by 1/sqrt(2L)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameters counted once each (tied matrices once); `non_embedding` drops token and position tables."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= sum(p.numel() for key in ("wte", "wpe") if key in self.transformer
                     for p in self.transformer[key].parameters())
        return n

    @property
    def device(self) -> torch.device:
        return self.transformer.wte.weight.device

    def new_cache(self) -> list:
        """An empty key/value cache: one [k, v] pair per layer, filled by `forward(..., cache=...)`."""
        return [[None, None] for _ in range(self.config.n_layer)]

    def _check_idx(self, idx: torch.Tensor, past: int) -> None:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a torch.LongTensor of token ids, got {type(idx).__name__}")
        if idx.dtype != torch.long:
            raise TypeError(f"idx must hold int64 token ids (torch.long), got {idx.dtype}: use idx.long()")
        if idx.dim() != 2:
            hint = "idx.unsqueeze(0)" if idx.dim() == 1 else "reshape it to (batch, time)"
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}: use {hint}")
        if idx.shape[1] == 0:
            raise ValueError("idx is empty: give at least one token")
        if past + idx.shape[1] > self.config.block_size:
            raise ValueError(f"sequence of {past + idx.shape[1]} tokens is longer than block_size="
                             f"{self.config.block_size}: crop it to the last {self.config.block_size} tokens "
                             f"(idx[:, -block_size:])")
        if torch.compiler.is_compiling():  # reading values back would split the compiled graph: checked eagerly only
            return
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(f"token id {lo if lo < 0 else hi} is outside the vocabulary [0, {self.config.vocab_size}):"
                             f" encode with the tokenizer this model was built for")

    def hidden(self, idx: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """idx (B, T) -> final hidden states (B, T, C), after `ln_f`: what the LM head or a classifier reads."""
        past = 0 if cache is None or cache[0][0] is None else cache[0][0].shape[2]
        self._check_idx(idx, past)
        t, T = self.transformer, idx.shape[1]
        x = t.wte(idx)  # (B, T, C)
        if "wpe" in t:
            x = x + t.wpe(torch.arange(past, past + T, device=idx.device))  # (B, T, C) + (T, C)
        alibi = None
        if self.config.pos_encoding == "alibi":  # the same bias for every layer
            alibi = alibi_bias(self.config.n_head, T, past + T).to(idx.device)  # (nh, T, past + T)
        x = t.drop(x)
        for i, block in enumerate(t.h):
            x = block(x, self.rotary, alibi, None if cache is None else cache[i])  # (B, T, C)
        return t.ln_f(x) if "ln_f" in t else x

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: list | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> (logits (B, T, vocab), loss or None); targets of IGNORE_INDEX are not scored."""
        logits = self.lm_head(self.hidden(idx, cache))  # (B, T, vocab)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX)


@contextmanager
def store_attention(model: nn.Module):
    """Within the block, every attention layer of `model` keeps its softmax weights in `.weights`."""
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    for m in layers:
        m.store_weights, m.weights = True, None
    try:
        yield layers
    finally:
        for m in layers:
            m.store_weights = False


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Softmax attention weights of one sequence: tensor (n_layer, n_head, T, T)."""
    if isinstance(idx, torch.Tensor) and idx.dim() == 1:
        idx = idx.unsqueeze(0)
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError("attention_maps takes one sequence: a 1-D tensor of ids or shape (1, T)")
    with evaluating(model), store_attention(model) as layers:
        if not layers:
            raise ValueError(f"{type(model).__name__} has no MultiHeadAttention layers to read attention from")
        model(idx.to(model.device))
        return torch.stack([m.weights[0] for m in layers]).cpu()
