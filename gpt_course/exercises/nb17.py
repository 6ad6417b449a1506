"""Checks for notebook 17 (creative writing: tokenizer efficiency, bits per byte, copying from the training text)."""
import math

from . import Mistake, call, exercise

_TEXTS = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\n",
    "Café naïve — déjà vu, the façade of the château.\n",  # non-ASCII: characters != bytes
    "日本語のテキスト and some English words.\n",
)


@exercise("17.bytes_per_token")
def bytes_per_token(fn):
    from ..tokenizers import BPETokenizer, ByteTokenizer

    bpe = BPETokenizer.train("".join(_TEXTS) * 3 + "the cat sat on the mat. " * 20, 300)
    for tokenizer in (ByteTokenizer(), bpe):
        for text in _TEXTS:
            n_tokens = len(tokenizer.encode(text))
            expected = len(text.encode("utf-8")) / n_tokens
            got = call(fn, tokenizer, text)
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                raise Mistake(f"return a number (bytes per token), got {type(got).__name__}")
            if math.isclose(got, expected, rel_tol=1e-9):
                continue
            name = type(tokenizer).__name__
            if math.isclose(got, len(text) / n_tokens, rel_tol=1e-9):
                raise Mistake(f"for {text[:20]!r}... you divided characters by tokens; count UTF-8 bytes "
                              f"(len(text.encode('utf-8'))): 'é' is one character but two bytes")
            if math.isclose(got, n_tokens / len(text.encode("utf-8")), rel_tol=1e-9):
                raise Mistake("upside down: bytes per token is bytes / tokens (a good tokenizer gives a large number)")
            raise Mistake(f"{name} on {text[:20]!r}...: expected {expected:.4f} bytes per token, got {got}")


@exercise("17.loss_to_bits_per_byte")
def loss_to_bits_per_byte(fn):
    for loss, n_tokens, n_bytes in ((3.2, 1000, 3900), (1.0, 50, 50), (4.1, 29_000, 111_500)):
        expected = loss * n_tokens / (math.log(2) * n_bytes)
        got = call(fn, loss, n_tokens, n_bytes)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number (bits per byte), got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-9):
            continue
        if n_tokens != n_bytes and math.isclose(got, loss / math.log(2), rel_tol=1e-9):
            raise Mistake("that is bits per TOKEN; multiply by the number of tokens and divide by the number "
                          "of bytes (the total bits of the text, spread over its bytes)")
        if math.isclose(got, loss * n_tokens / n_bytes, rel_tol=1e-9):
            raise Mistake("the loss is in nats (natural log); divide by ln 2 to get bits")
        if math.isclose(got, loss * n_bytes / (math.log(2) * n_tokens), rel_tol=1e-9):
            raise Mistake("tokens and bytes are swapped: total bits = loss · n_tokens / ln 2, then divide by n_bytes")
        raise Mistake(f"for loss {loss} nats/token, {n_tokens} tokens, {n_bytes} bytes expected {expected:.4f} "
                      f"bits per byte, got {got}")


def _ngrams(words: list, n: int) -> list:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def _novel_fraction(samples: list, reference: str, n: int) -> float:
    known = set(_ngrams(reference.split(), n))
    grams = [g for s in samples for g in _ngrams(s.split(), n)]
    return sum(g not in known for g in grams) / len(grams) if grams else 0.0


def _novel_fraction_unique(samples: list, reference: str, n: int) -> float:
    known = set(_ngrams(reference.split(), n))
    grams = {g for s in samples for g in _ngrams(s.split(), n)}
    return sum(g not in known for g in grams) / len(grams) if grams else 0.0


@exercise("17.novel_ngrams")
def novel_ngrams(fn):
    reference = ("to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n"
                 "the slings and arrows of outrageous fortune")
    cases = [
        (["to be or not to be", "to be or not to be"], 3),  # copied, twice
        (["the question is whether to be", "arrows of fortune"], 2),
        (["to be that is the question of the mind", "a new line entirely"], 3),
        (["be or", "not to be the slings and arrows"], 2),  # the first sample holds one bigram
        (["a new phrase a new phrase", "to be or"], 2),  # a novel phrase, repeated
        (["short", "a b"], 3),  # no trigram at all
    ]
    for samples, n in cases:
        expected = _novel_fraction(samples, reference, n)
        got = call(fn, list(samples), reference, n)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number between 0 and 1, got {type(got).__name__}")
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        if math.isclose(got, _novel_fraction_unique(samples, reference, n), abs_tol=1e-9):
            raise Mistake("count every n-gram of the samples, repeats included (a sample that copies the same "
                          "phrase twice copies twice); you counted distinct n-grams")
        joined = _novel_fraction([" ".join(samples)], reference, n)
        if math.isclose(got, joined, abs_tol=1e-9):
            raise Mistake("n-grams must not run across two samples: split each sample into words separately")
        if math.isclose(got, 1 - expected, abs_tol=1e-9):
            raise Mistake("upside down: return the fraction of n-grams that do NOT occur in the reference")
        raise Mistake(f"for samples {samples} and n={n} expected {expected:.4f}, got {got}")
