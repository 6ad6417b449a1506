"""Checks for notebook 18 (tools and pretrained models: Hugging Face interop, WikiText token counts)."""
import torch

from . import Mistake, call, exercise, expect_close

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _tiny_hf(seed: int, vocab_size: int = 61, n_positions: int = 20, n_embd: int = 24, n_layer: int = 2,
             n_head: int = 3):
    """A small random `GPT2LMHeadModel` (no download); special tokens inside its vocabulary."""
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                                     n_head=n_head, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return transformers.GPT2LMHeadModel(config).eval()


@exercise("18.hf_to_course")
def hf_to_course(fn):
    from ..hub import from_hf

    for seed, n_embd in ((0, 24), (1, 36)):
        hf = _tiny_hf(seed, n_embd=n_embd, n_head=3)
        theirs = hf.state_dict()
        ours = from_hf(hf).state_dict()
        for key, expected in ours.items():
            got = call(fn, key, theirs[key].clone())
            if not isinstance(got, torch.Tensor):
                raise Mistake(f"{key}: return a torch.Tensor, got {type(got).__name__}")
            conv = key.endswith(_CONV1D)
            if conv and got.shape == theirs[key].shape and got.shape != expected.shape:
                raise Mistake(f"{key} keeps HF's shape {tuple(got.shape)}: HF's Conv1D stores (in, out), "
                              f"nn.Linear stores (out, in); transpose it")
            if not conv and got.dim() == 2 and got.shape == theirs[key].t().shape and got.shape != expected.shape:
                raise Mistake(f"{key} was transposed, but only the four Conv1D weights (c_attn, c_proj, c_fc and "
                              f"the MLP's c_proj) are stored transposed; embeddings and LayerNorms are not")
            if conv and expected.shape[0] == expected.shape[1] and torch.equal(got, theirs[key]):
                raise Mistake(f"{key} is square, so its shape looks right, but it still needs the transpose")
            expect_close(got, expected, key, atol=0, rtol=0)


@exercise("18.hf_greedy")
def hf_greedy(fn):
    from ..generate import generate
    from ..hub import from_hf

    for seed, (B, T, n_new) in ((0, (1, 5, 8)), (1, (2, 3, 12)), (2, (1, 1, 6))):
        hf = _tiny_hf(seed)
        ours = from_hf(hf).eval()
        idx = torch.randint(1, hf.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))
        expected = generate(ours, idx, n_new, temperature=0)
        with torch.no_grad():
            got = call(fn, hf, idx.clone(), n_new)
        if not isinstance(got, torch.Tensor):
            raise Mistake(f"return the token ids as a torch.Tensor, got {type(got).__name__}")
        if got.shape == (B, n_new) and torch.equal(got, expected[:, T:]):
            raise Mistake("you returned only the new tokens; gc.generate returns the prompt followed by them "
                          "(shape (B, T + n_new)), and so does hf_model.generate")
        if got.shape != expected.shape:
            raise Mistake(f"for a prompt of shape {(B, T)} and {n_new} new tokens expected shape "
                          f"{tuple(expected.shape)}, got {tuple(got.shape)}")
        if not torch.equal(got, expected):
            raise Mistake("the tokens differ from greedy decoding: pass do_sample=False (greedy) and "
                          "max_new_tokens=n_new to hf_model.generate")


def _official_token_count(text: str) -> int:
    return len(text.split()) + text.count("\n")


@exercise("18.wikitext_tokens")
def wikitext_tokens(fn):
    cases = [
        " \n = Valkyria = \n \n The game was released in 2011 . \n",
        " \n = = Plot = = \n \n A B C \n D @-@ E \n \n",
        " The end . \n",
        "",
    ]
    for text in cases:
        expected = _official_token_count(text)
        got = call(fn, text)
        if not isinstance(got, int) or isinstance(got, bool):
            raise Mistake(f"return an int (a number of tokens), got {type(got).__name__}")
        if got == expected:
            continue
        if got == len(text.split()):
            raise Mistake("you counted the words only; the paper's counts add one <eos> token at the end of "
                          "every line, blank lines included: add text.count('\\n')")
        lines = text.split("\n")[:-1]
        if got == len(text.split()) + sum(1 for line in lines if line.strip()):
            raise Mistake("you added an <eos> only for non-blank lines; the blank lines (stored as a single "
                          "space) end with an <eos> too")
        if got == len(text.split(" ")):
            raise Mistake("splitting on single spaces counts empty strings and misses words at line ends; "
                          "use text.split() for the words")
        raise Mistake(f"for {text!r} expected {expected} tokens, got {got}")
