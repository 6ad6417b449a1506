"""Checks for notebook 03 (tokenization and embeddings): one BPE merge step, compression, embedding via one-hot."""
from __future__ import annotations

from collections import Counter

import torch

from . import Mistake, call, exercise, expect_close
from ..tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, merge_pair


def _bpe_cases() -> list[list[int]]:
    cases = [
        [5, 6, 5, 6, 7, 5, 6, 8],  # (5, 6) three times
        [1, 1, 1, 2, 1, 1, 1, 1],  # overlapping runs: "1 1 1" holds one pair to merge, not two
        [3, 9, 9, 3, 9, 4, 3, 9],  # the pair also occurs at the very end
    ]
    g = torch.Generator().manual_seed(0)
    while len(cases) < 6:  # longer random inputs with a single most frequent pair
        ids = torch.randint(0, 6, (60,), generator=g).tolist()
        top = Counter(zip(ids, ids[1:])).most_common(2)
        if top[0][1] > top[1][1]:
            cases.append(ids)
    return cases


@exercise("03.bpe_step")
def check_bpe_step(fn) -> None:
    for ids in _bpe_cases():
        new_id = max(ids) + 250
        got = call(fn, list(ids), new_id)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Mistake("return a tuple (pair, new_ids): the merged pair and the list of ids after the merge")
        pair, new_ids = got
        try:
            pair = tuple(int(i) for i in pair)
            new_ids = [int(i) for i in new_ids]
        except (TypeError, ValueError):
            raise Mistake("pair must be two ids and new_ids a list of ids") from None
        expected_pair = Counter(zip(ids, ids[1:])).most_common(1)[0][0]
        if pair != expected_pair:
            if pair == expected_pair[::-1]:
                raise Mistake(f"for {ids} the pair is {expected_pair}, you returned it reversed: keep the order "
                              "(left id, right id)")
            raise Mistake(f"for {ids} the most frequent adjacent pair is {expected_pair} "
                          f"(count {Counter(zip(ids, ids[1:]))[expected_pair]}), you returned {pair}")
        expected = merge_pair(ids, expected_pair, new_id)
        if new_ids == expected:
            continue
        first = next(i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == expected_pair)
        if new_ids == ids[:first] + [new_id] + ids[first + 2 :]:
            raise Mistake(f"for {ids} you merged only the first occurrence; replace every occurrence of the pair")
        overlapping = [new_id if (a, b) == expected_pair else a for a, b in zip(ids, ids[1:])] + ids[-1:]
        if new_ids == overlapping or new_ids == overlapping[:-1]:
            raise Mistake(f"for {ids} you kept the second id of each merged pair: after a merge skip both ids "
                          f"(i += 2), so [1, 1, 1] becomes [new, 1]; expected {expected}, got {new_ids}")
        raise Mistake(f"for {ids} merging {expected_pair} into {new_id} gives {expected}, you returned {new_ids}")


@exercise("03.bytes_per_token")
def check_bytes_per_token(fn) -> None:
    english = "The lobster is blue until it is cooked . " * 4
    mixed = "naïve café · 语言模型 🙂 " * 3
    bpe = BPETokenizer.train(english * 5, 300)
    cases = [(ByteTokenizer(), mixed), (CharTokenizer.from_text(mixed), mixed), (bpe, english), (bpe, mixed)]
    for tok, text in cases:
        got = call(fn, tok, text)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Mistake(f"return a number, got {type(got).__name__}") from None
        n_bytes, n_chars, n_tokens = len(text.encode("utf-8")), len(text), len(tok.encode(text))
        expected = n_bytes / n_tokens
        if abs(got - expected) < 1e-9 * expected:
            continue
        what = f"{type(tok).__name__} on {text[:20]!r}..."
        if abs(got - n_chars / n_tokens) < 1e-9:
            raise Mistake(f"{what}: you counted characters; count UTF-8 bytes, len(text.encode('utf-8')) "
                          "('语' is one character but 3 bytes)")
        if abs(got - n_tokens / n_bytes) < 1e-9:
            raise Mistake(f"{what}: this is tokens per byte; the question asks for bytes per token")
        raise Mistake(f"{what}: expected {expected:.4f} bytes per token ({n_bytes} bytes / {n_tokens} tokens), "
                      f"got {got:.4f}")


@exercise("03.embedding_lookup")
def check_embedding_lookup(fn) -> None:
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([2, 0, 2, 1]), torch.randn(7, 3, generator=g)),  # max id < V - 1
             (torch.tensor([[4, 1, 3], [0, 4, 4]]), torch.randn(5, 8, generator=g)),
             (torch.randint(0, 50, (2, 3, 4), generator=g), torch.randn(50, 6, generator=g, dtype=torch.float64))]
    for ids, W in cases:
        try:
            got = call(fn, ids.clone(), W.clone())
        except Mistake as err:
            raise Mistake(f"{err}. Hint: F.one_hot(ids, num_classes=V) has V = W.shape[0] columns even when the "
                          "largest id is smaller than V - 1, and must be cast to W's dtype before the product") from err
        expected = W[ids]
        what = f"ids {tuple(ids.shape)}, W {tuple(W.shape)}"
        if isinstance(got, torch.Tensor) and got.shape != expected.shape:
            raise Mistake(f"{what}: expected shape {tuple(expected.shape)} (ids.shape + (C,)), got {tuple(got.shape)}; "
                          "use F.one_hot(ids, num_classes=W.shape[0]) so the one-hot vectors have V entries")
        expect_close(got, expected, what)
