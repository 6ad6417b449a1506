"""Checks for notebook 15 (summarization: masked targets, ROUGE-1, longest common subsequence)."""
import torch

from . import Mistake, call, exercise


@exercise("15.sft_targets")
def sft_targets(fn):
    from ..model import IGNORE_INDEX

    for prompt, completion in (([5, 6, 7, 8], [9, 10]), ([1, 2], [3, 4, 5, 6]), ([7], [8])):
        ex = torch.tensor(prompt + completion[:-1])  # every token but the last
        ey = torch.tensor([IGNORE_INDEX] * (len(prompt) - 1) + completion)  # the next token, prompt's masked
        got = call(fn, list(prompt), list(completion))
        if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
            raise Mistake("return a pair of tensors (x, y)")
        x, y = got
        if x.tolist() == ex.tolist() and y.tolist() == ey.tolist():
            continue
        if x.tolist() != ex.tolist():
            raise Mistake(f"x should be all tokens but the last, {ex.tolist()}; got {x.tolist()}")
        if y.tolist() == ex.tolist():
            raise Mistake("y is x: the targets are the inputs shifted by one (the NEXT token)")
        wrong = ey.clone()
        wrong[len(prompt) - 1] = IGNORE_INDEX
        if y.tolist() == wrong.tolist():
            raise Mistake("off by one: the target at the prompt's last position is the first completion token, "
                          "and it must be trained (it is the answer's first word)")
        if y.tolist() == (prompt + completion)[1:]:
            raise Mistake(f"no target is masked: the prompt's tokens need target {IGNORE_INDEX}")
        if y.tolist() != ey.tolist():
            raise Mistake(f"for prompt {prompt} and completion {completion} expected y = {ey.tolist()}, "
                          f"got {y.tolist()}")


@exercise("15.rouge1")
def rouge1(fn):
    from ..evaluate import rouge_n

    for cand, ref in (("the cat was found under the bed", "the cat was under the bed"),
                      ("the the the the", "the cat sat"), ("Early Life", "early life and career"), ("", "x y")):
        expected = rouge_n(cand, ref, 1)
        got = call(fn, cand, ref)
        if not (isinstance(got, tuple) and len(got) == 3):
            raise Mistake("return (precision, recall, f1)")
        if all(abs(a - b) < 1e-9 for a, b in zip(got, expected)):
            continue
        if cand == "the the the the" and abs(got[0] - 1.0) < 1e-9:
            raise Mistake("a word counts at most as often as it occurs in the reference (clipping): "
                          "'the the the the' against 'the cat sat' has precision 1/4, not 1")
        raise Mistake(f"for {cand!r} vs {ref!r} expected {tuple(round(v, 4) for v in expected)}, got {got}")


@exercise("15.lcs_length")
def lcs(fn):
    from ..evaluate import lcs_length

    for a, b in (("police kill the gunman", "police killed the gunman"), ("a b c d", "a x b y d"),
                 ("the gunman kill police", "police killed the gunman"), ("", "a b")):
        a, b = a.split(), b.split()
        expected = lcs_length(a, b)
        got = call(fn, list(a), list(b))
        if got == expected:
            continue
        if (a, b) == ("a b c d".split(), "a x b y d".split()) and got == 1:
            raise Mistake("that is the longest common SUBSTRING (contiguous); a subsequence may skip words: "
                          "'a b d' is common to both")
        raise Mistake(f"for {a} and {b} expected {expected}, got {got}")
