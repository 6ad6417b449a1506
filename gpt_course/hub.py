"""Conversion to and from Hugging Face `transformers.GPT2LMHeadModel`, and real GPT-2 weights."""
from __future__ import annotations

import os

import torch

from .model import GPT, GPTConfig

# HF's GPT-2 stores its linear layers as Conv1D with weights of shape (in, out): transpose them.
_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _hf_config_to_ours(hf_config) -> GPTConfig:
    act = getattr(hf_config, "activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"GPT-2 model uses activation {act!r}; the course model implements GELU (tanh) only")
    if abs(getattr(hf_config, "layer_norm_epsilon", 1e-5) - 1e-5) > 1e-12:
        raise ValueError("the course LayerNorm uses eps=1e-5, as GPT-2 does; this model uses another epsilon")
    return GPTConfig(
        vocab_size=hf_config.vocab_size,
        block_size=hf_config.n_positions,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_embd=hf_config.n_embd,
        dropout=0.0,
        bias=True,
        pos_encoding="learned",
        norm="pre",
        tie_weights=bool(getattr(hf_config, "tie_word_embeddings", True)),
    )


def from_hf(hf_model) -> GPT:
    """A course `GPT` holding the weights of a `transformers.GPT2LMHeadModel` (identical logits)."""
    if not hasattr(hf_model, "transformer") or not hasattr(hf_model.transformer, "wte"):
        raise TypeError(f"from_hf expects a transformers GPT2LMHeadModel, got {type(hf_model).__name__}")
    model = GPT(_hf_config_to_ours(hf_model.config))
    theirs = hf_model.state_dict()
    ours = model.state_dict()
    with torch.no_grad():
        for key, target in ours.items():
            source = theirs[key]
            if key.endswith(_TRANSPOSED):
                source = source.t()
            if source.shape != target.shape:
                raise ValueError(f"shape mismatch for {key}: HF {tuple(source.shape)} vs course {tuple(target.shape)}")
            target.copy_(source)
    return model


def to_hf(model: GPT):
    """A `transformers.GPT2LMHeadModel` with the course model's weights (GPT-2 layout only)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.config
    if c.pos_encoding != "learned" or c.norm != "pre" or not c.bias:
        raise ValueError(
            "to_hf needs the GPT-2 layout: pos_encoding='learned', norm='pre', bias=True; "
            f"this model has pos_encoding={c.pos_encoding!r}, norm={c.norm!r}, bias={c.bias}"
        )
    hf_config = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
        n_head=c.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
        activation_function="gelu_new", tie_word_embeddings=c.tie_weights,
    )
    hf_model = GPT2LMHeadModel(hf_config)
    theirs = hf_model.state_dict()
    with torch.no_grad():
        for key, source in model.state_dict().items():
            if key.endswith(_TRANSPOSED):
                source = source.t()
            theirs[key].copy_(source)
    hf_model.eval()
    return hf_model


def _reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when a TCP connection to host:port opens within `timeout` seconds (a quick test before downloading)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def from_pretrained(name: str = "gpt2") -> GPT:
    """Download real GPT-2 weights (safetensors) with `transformers` and convert them; clear error offline."""
    names = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
    if name not in names:
        raise ValueError(f"unknown GPT-2 checkpoint {name!r}: choose one of {names}")
    from transformers import GPT2LMHeadModel

    advice = ("Downloading the weights needs internet access once; they are cached afterwards. "
              "Offline, use the course checkpoint instead: gpt_course.load_course_model()")
    try:  # the local Hugging Face cache first: no network at all
        hf_model = GPT2LMHeadModel.from_pretrained(name, use_safetensors=True, local_files_only=True)
        return from_hf(hf_model)
    except (OSError, ValueError):
        pass
    offline = [v for v in ("GPT_COURSE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
               if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")]
    if offline:
        raise RuntimeError(f"{name!r} is not in the local Hugging Face cache and {offline[0]} is set, so nothing "
                           f"is downloaded. {advice}")
    if not _reachable("huggingface.co", 443):
        raise RuntimeError(f"{name!r} is not in the local Hugging Face cache and huggingface.co cannot be reached "
                           f"(no network?). {advice}")
    try:
        hf_model = GPT2LMHeadModel.from_pretrained(name, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise RuntimeError(f"could not load {name!r} from the Hugging Face hub ({type(err).__name__}). {advice}") from err
    return from_hf(hf_model)
