"""gpt_course: the pieces a learner builds in the notebooks, in their final, tested form."""
from .attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .generate import generate
from .layers import MLP, Block, LayerNorm
from .model import GPT, GPTConfig, attention_maps, parameter_count
from .positional import sinusoidal_encoding
from .pretrain import load_course_model
from .utils import default_device, fast_mode, pick, seed_everything

__all__ = [
    "GPT", "GPTConfig", "attention_maps", "parameter_count", "MultiHeadAttention", "causal_mask",
    "scaled_dot_product_attention", "LayerNorm", "MLP", "Block", "sinusoidal_encoding", "generate",
    "load_course_model", "default_device", "fast_mode", "pick", "seed_everything",
]
__version__ = "0.1.0"
