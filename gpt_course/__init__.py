"""gpt_course: the pieces a learner builds in the notebooks, in their final, tested form."""
from .attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .data import get_batch, load_sms_spam, load_tinyshakespeare, load_wikitext2
from .generate import generate
from .layers import MLP, Block, LayerNorm
from .model import GPT, GPTConfig, attention_maps, parameter_count
from .positional import sinusoidal_encoding
from .checkpoint import load_checkpoint, load_course_model, save_checkpoint
from .tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, HFBPETokenizer, load_tokenizer
from .train import Recipe, TrainConfig, Trainer
from .utils import default_device, fast_mode, pick, seed_everything

__all__ = [
    "GPT", "GPTConfig", "attention_maps", "parameter_count", "MultiHeadAttention", "causal_mask",
    "scaled_dot_product_attention", "LayerNorm", "MLP", "Block", "sinusoidal_encoding", "generate",
    "CharTokenizer", "ByteTokenizer", "BPETokenizer", "HFBPETokenizer", "load_tokenizer",
    "load_wikitext2", "load_sms_spam", "load_tinyshakespeare", "get_batch",
    "Recipe", "TrainConfig", "Trainer", "save_checkpoint", "load_checkpoint", "load_course_model",
    "default_device", "fast_mode", "pick", "seed_everything",
]
__version__ = "0.1.0"
