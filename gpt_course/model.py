"""The GPT model: configuration, presets for GPT-1/2/3, parameter counts, forward with an optional KV cache."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .layers import NORMS, Block, LayerNorm
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding

POS_ENCODINGS = ("learned", "sinusoidal", "rope", "alibi")
IGNORE_INDEX = -100  # a target with this value adds nothing to the loss (F.cross_entropy's ignore_index)

_GPT2_SIZES = {  # n_layer, n_head, n_embd (Radford et al. 2019, as released)
    "small": (12, 12, 768),
    "medium": (24, 16, 1024),
    "large": (36, 20, 1280),
    "xl": (48, 25, 1600),
}
_GPT3_SIZES = {  # n_layer, n_head, n_embd (Brown et al. 2020, Table 2.1)
    "small": (12, 12, 768),
    "medium": (24, 16, 1024),
    "large": (24, 16, 1536),
    "xl": (24, 16, 2048),  # the paper prints 24 heads of 128, which cannot make 2048
    "2.7B": (32, 32, 2560),
    "6.7B": (32, 32, 4096),
    "13B": (40, 40, 5120),  # the paper prints 5140, which 40 heads of 128 cannot make
    "175B": (96, 96, 12288),
}


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

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head gets "
                f"n_embd // n_head dimensions; change n_head or n_embd"
            )
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding={self.pos_encoding!r} is unknown: choose one of {POS_ENCODINGS}")
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r} is unknown: choose 'pre' (GPT-2) or 'post' (GPT-1)")
        if self.pos_encoding == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions need an even n_embd, got {self.n_embd}")
        if self.pos_encoding == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"RoPE rotates pairs of dimensions, so the head size n_embd // n_head must be even, "
                f"got {self.n_embd} // {self.n_head} = {self.n_embd // self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {sorted(unknown)}; known fields are {sorted(known)}")
        return cls(**d)

    @classmethod
    def gpt1(cls, **overrides) -> "GPTConfig":
        """GPT-1 (Radford et al. 2018): 12 post-LN layers, 768 wide, 512 context, 40,478 BPE tokens."""
        base = dict(vocab_size=40478, block_size=512, n_layer=12, n_head=12, n_embd=768, norm="post")
        return cls(**{**base, **overrides})

    @classmethod
    def gpt2(cls, size: str = "small", **overrides) -> "GPTConfig":
        """GPT-2 (Radford et al. 2019): small 124M, medium 355M, large 774M, xl 1.5B."""
        if size not in _GPT2_SIZES:
            raise ValueError(f"GPT-2 size {size!r} is unknown: choose one of {list(_GPT2_SIZES)}")
        n_layer, n_head, n_embd = _GPT2_SIZES[size]
        base = dict(vocab_size=50257, block_size=1024, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        return cls(**{**base, **overrides})

    @classmethod
    def gpt3(cls, size: str = "175B", **overrides) -> "GPTConfig":
        """GPT-3 (Brown et al. 2020): 2048 context; 175B is 96 layers of width 12,288."""
        if size not in _GPT3_SIZES:
            raise ValueError(f"GPT-3 size {size!r} is unknown: choose one of {list(_GPT3_SIZES)}")
        n_layer, n_head, n_embd = _GPT3_SIZES[size]
        base = dict(vocab_size=50257, block_size=2048, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        return cls(**{**base, **overrides})


def parameter_count(config: GPTConfig) -> int:
    """Closed formula for the number of parameters of `GPT(config)`."""
    C, V, L, b = config.n_embd, config.vocab_size, config.n_layer, int(config.bias)
    ln = C * (1 + b)  # weight (+ bias)
    attn = C * 3 * C + b * 3 * C + C * C + b * C  # c_attn + c_proj
    mlp = C * 4 * C + b * 4 * C + 4 * C * C + b * C  # c_fc + c_proj
    block = 2 * ln + attn + mlp
    embeddings = V * C + (config.block_size * C if config.pos_encoding == "learned" else 0)
    head = 0 if config.tie_weights else V * C
    final_ln = ln if config.norm == "pre" else 0
    return embeddings + L * block + final_ln + head


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-1/2 layout, nanoGPT-style names)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        c = config
        pos = {
            "learned": lambda: LearnedPositionalEmbedding(c.block_size, c.n_embd),
            "sinusoidal": lambda: SinusoidalPositionalEncoding(c.block_size, c.n_embd),
        }
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(c.vocab_size, c.n_embd),
                drop=nn.Dropout(c.dropout),
                h=nn.ModuleList(
                    Block(c.n_embd, c.n_head, c.norm, True, c.bias, c.dropout, c.pos_encoding, c.block_size)
                    for _ in range(c.n_layer)
                ),
            )
        )
        if c.pos_encoding in pos:
            self.transformer["wpe"] = pos[c.pos_encoding]()
        if c.norm == "pre":  # post-LN blocks already end in a LayerNorm (GPT-1 has no final one)
            self.transformer["ln_f"] = LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight  # one matrix embeds and unembeds
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by 1/sqrt(2L)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameters counted once each (tied matrices once); `non_embedding` drops token and position tables."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wte.weight.numel()
            wpe = self.transformer["wpe"] if "wpe" in self.transformer else None
            if isinstance(wpe, nn.Embedding):
                n -= wpe.weight.numel()
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
        T = idx.shape[1]
        if T == 0:
            raise ValueError("idx is empty: give at least one token")
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens is longer than block_size={self.config.block_size}: "
                f"crop it to the last {self.config.block_size} tokens (idx[:, -block_size:])"
            )
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"token id {bad} is outside the vocabulary [0, {self.config.vocab_size}): "
                f"encode with the tokenizer this model was built for"
            )

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> (logits (B, T, vocab), loss or None). `cache` from `new_cache()` is extended in place."""
        past = 0 if cache is None or cache[0][0] is None else cache[0][0].shape[2]
        self._check_idx(idx, past)
        B, T = idx.shape
        x = self.transformer.wte(idx)  # (B, T, C)
        if "wpe" in self.transformer:
            pos = torch.arange(past, past + T, device=idx.device)  # (T,)
            x = x + self.transformer.wpe(pos)  # (B, T, C) + (T, C)
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, None if cache is None else cache[i])
        if "ln_f" in self.transformer:
            x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (B, T, vocab)
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    @classmethod
    def from_pretrained(cls, name: str = "gpt2") -> "GPT":
        """Real GPT-2 weights from the Hugging Face hub (needs internet once; cached afterwards)."""
        from .hub import from_pretrained

        return from_pretrained(name)


@contextmanager
def store_attention(model: nn.Module):
    """Within the block, every attention layer of `model` keeps its softmax weights in `.weights`."""
    from .attention import MultiHeadAttention

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
    was_training = model.training
    model.eval()
    try:
        with store_attention(model) as layers:
            if not layers:
                raise ValueError(f"{type(model).__name__} has no MultiHeadAttention layers to read attention from")
            model(idx.to(model.device))
            return torch.stack([m.weights[0] for m in layers]).cpu()
    finally:
        model.train(was_training)
