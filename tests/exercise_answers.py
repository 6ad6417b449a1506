"""Right and wrong answers to every exercise: tests/test_exercises.py checks that each check accepts the
right one and rejects the wrong one with a message. They live here, not in the package, so a learner who
opens gpt_course/exercises finds the checks but not the answers."""
import math
import os
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from gpt_course.exercises.nb05 import _merge, _split
from gpt_course.exercises.nb06 import _rotate_pairs, _theta
from gpt_course.exercises.nb10 import _step
from gpt_course.exercises.nb12 import _penalty_divide_all, _top_k_exclusive, _top_p_exclusive
from gpt_course.exercises.nb17 import _novel_fraction, _novel_fraction_unique
from gpt_course.exercises.nb18 import _CONV1D, _official_token_count
from gpt_course.exercises.nb19 import _lens_without_ln_f, _reference_allowed, _reference_lens
from gpt_course.exercises.nb20 import _kl, _repeated
from gpt_course.evaluate import lcs_length
from gpt_course.model import IGNORE_INDEX, parameter_count

ANSWERS: dict = {}  # exercise name -> (right answer, typical mistake)


# --- notebook 00 ----------------------------------------------------------------------------------

def _count(module):
    return sum(p.numel() for p in module.parameters())


def _pick(learner, fast):
    return fast if os.environ.get("GPT_COURSE_FAST", "0") not in ("", "0") else learner


def _pick_truthy_string(learner, fast):  # "0" is a non-empty string, so it counts as true
    return fast if os.environ.get("GPT_COURSE_FAST") else learner


ANSWERS.update({
    "00.count_parameters": (_count, lambda module: len(list(module.parameters()))),
    "00.pick": (_pick, _pick_truthy_string),
})


# --- notebook 01 ----------------------------------------------------------------------------------

def _block_parameters(n_embd: int) -> int:
    C = n_embd
    return (3 * C * C + 3 * C + C * C + C) + (4 * C * C + 4 * C + 4 * C * C + C) + 4 * C


def _non_embedding(config) -> int:
    C, L = config.n_embd, config.n_layer
    return L * (12 * C**2 + 13 * C) + (2 * C if config.norm == "pre" else 0)


ANSWERS.update({
    "01.block_parameters": (_block_parameters, lambda n_embd: 12 * n_embd**2),
    "01.non_embedding": (_non_embedding, lambda config: config.n_layer * (12 * config.n_embd**2 + 13 * config.n_embd)),
})


# --- notebook 02 ----------------------------------------------------------------------------------

def _bigram_probs(ids, V):
    counts = torch.zeros(V, V)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return counts / counts.sum(dim=1, keepdim=True)


def _bigram_probs_columns(ids, V):
    counts = torch.zeros(V, V)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return counts / counts.sum(dim=0, keepdim=True)


def _perplexity(p):
    return torch.exp(-torch.log(p).mean()).item()


def _perplexity_arithmetic(p):
    return 1 / p.mean().item()


def _add_k(counts, k):
    return (counts + k) / (counts.sum(dim=1, keepdim=True) + k * counts.shape[1])


def _add_k_forgot_v(counts, k):
    return (counts + k) / (counts.sum(dim=1, keepdim=True) + k)


ANSWERS.update({
    "02.bigram_probs": (_bigram_probs, _bigram_probs_columns),
    "02.perplexity": (_perplexity, _perplexity_arithmetic),
    "02.add_k": (_add_k, _add_k_forgot_v),
})


# --- notebook 03 ----------------------------------------------------------------------------------

def _bpe_step(ids, new_id):
    pair = Counter(zip(ids, ids[1:])).most_common(1)[0][0]
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return pair, out


def _bpe_step_overlapping(ids, new_id):
    pair = Counter(zip(ids, ids[1:])).most_common(1)[0][0]
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
        else:
            out.append(ids[i])
        i += 1
    return pair, out


def _bytes_per_token(tokenizer, text):
    return len(text.encode("utf-8")) / len(tokenizer.encode(text))


def _chars_per_token(tokenizer, text):
    return len(text) / len(tokenizer.encode(text))


def _embedding_lookup(ids, W):
    return F.one_hot(ids, num_classes=W.shape[0]).to(W.dtype) @ W


def _embedding_lookup_no_num_classes(ids, W):
    return F.one_hot(ids).to(W.dtype) @ W


ANSWERS.update({
    "03.bpe_step": (_bpe_step, _bpe_step_overlapping),
    "03.bytes_per_token": (_bytes_per_token, _chars_per_token),
    "03.embedding_lookup": (_embedding_lookup, _embedding_lookup_no_num_classes),
})


# --- notebook 04 ----------------------------------------------------------------------------------

def _attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v


def _attention_unscaled(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def _causal(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def _causal_upper(T):
    return torch.triu(torch.ones(T, T, dtype=torch.bool))


def _row(q, K):
    return torch.softmax(K @ q / math.sqrt(q.shape[-1]), dim=0)


def _row_unscaled(q, K):
    return torch.softmax(K @ q, dim=0)


ANSWERS.update({
    "04.scaled_dot_product_attention": (_attention, _attention_unscaled),
    "04.causal_mask": (_causal, _causal_upper),
    "04.attention_row": (_row, _row_unscaled),
})


# --- notebook 05 ----------------------------------------------------------------------------------

def _count_attention_parameters(n_embd: int, n_head: int, bias: bool = True) -> int:
    return 4 * n_embd * n_embd + (4 * n_embd if bias else 0)


ANSWERS.update({
    "05.split_heads": (_split, lambda x, n_head: x.view(x.shape[0], n_head, x.shape[1], -1)),
    "05.merge_heads": (_merge, lambda y: y.reshape(y.shape[0], y.shape[2], -1)),
    "05.count_attention_parameters": (_count_attention_parameters,
                                      lambda n_embd, n_head, bias=True: n_head * 4 * n_embd * n_embd
                                      + (4 * n_embd if bias else 0)),
})


# --- notebook 06 ----------------------------------------------------------------------------------

def _sinusoidal_ok(max_len, d):
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    omega = 1.0 / 10000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(max_len, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * omega)
    pe[:, 1::2] = torch.cos(pos * omega)
    return pe.float()


def _sinusoidal_halves(max_len, d):
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    omega = 1.0 / 10000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    return torch.cat((torch.sin(pos * omega), torch.cos(pos * omega)), dim=1).float()


def _rope_ok(x, m, base=10000.0):
    return _rotate_pairs(x, m * _theta(x.shape[-1], base))


def _rope_clockwise(x, m, base=10000.0):
    return _rotate_pairs(x, -m * _theta(x.shape[-1], base))


def _alibi_ok(n_head, T):
    slopes = 2.0 ** (-8 * torch.arange(1, n_head + 1) / n_head)
    distance = torch.arange(T).view(-1, 1) - torch.arange(T).view(1, -1)
    return -slopes.view(-1, 1, 1) * distance


def _alibi_positive(n_head, T):
    return -_alibi_ok(n_head, T)


ANSWERS.update({
    "06.sinusoidal_encoding": (_sinusoidal_ok, _sinusoidal_halves),
    "06.rope_rotate": (_rope_ok, _rope_clockwise),
    "06.alibi_bias": (_alibi_ok, _alibi_positive),
})


# --- notebook 07 ----------------------------------------------------------------------------------

def _layer_norm_ok(x, gamma, beta, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * gamma + beta


def _layer_norm_unbiased(x, gamma, beta, eps=1e-5):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * gamma + beta


def _pre_ln_ok(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def _post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def _ln_params_ok(config):
    per_ln = config.n_embd * (2 if config.bias else 1)
    return (2 * config.n_layer + (config.norm == "pre")) * per_ln


def _ln_params_always_final(config):
    return (2 * config.n_layer + 1) * 2 * config.n_embd


ANSWERS.update({
    "07.layer_norm": (_layer_norm_ok, _layer_norm_unbiased),
    "07.pre_ln_block": (_pre_ln_ok, _post_ln),
    "07.layernorm_params": (_ln_params_ok, _ln_params_always_final),
})


# --- notebook 08 ----------------------------------------------------------------------------------

def _leaks_future(model, vocab_size, T=8):
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, vocab_size, (2, T), generator=g)
    with torch.no_grad():
        base = model(idx)
        for j in range(1, T):
            changed = idx.clone()
            changed[:, j] = (changed[:, j] + 1) % vocab_size
            if not torch.allclose(model(changed)[:, :j], base[:, :j]):
                return True
    return False


def _leaks_future_last_token_only(model, vocab_size, T=8):  # misses leaks that do not involve the last token
    idx = torch.randint(0, vocab_size, (2, T), generator=torch.Generator().manual_seed(0))
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % vocab_size
    with torch.no_grad():
        return not torch.allclose(model(changed)[:, :-1], model(idx)[:, :-1])


def _torch_causal_mask(T):
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def _course_convention_mask(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def _attend_over_time(mha, x, attn_mask=None):
    xt = x.transpose(0, 1)  # (T, B, C): sequence first
    return mha(xt, xt, xt, attn_mask=attn_mask, need_weights=False)[0].transpose(0, 1)


def _attend_over_batch(mha, x, attn_mask=None):
    return mha(x, x, x, need_weights=False)[0]


ANSWERS.update({
    "08.leaks_future": (_leaks_future, _leaks_future_last_token_only),
    "08.torch_causal_mask": (_torch_causal_mask, _course_convention_mask),
    "08.attend_over_time": (_attend_over_time, _attend_over_batch),
})


# --- notebook 09 ----------------------------------------------------------------------------------

def _gpt_forward(model, idx):
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
    for block in t.h:
        x = block(x)
    return model.lm_head(t.ln_f(x))


def _gpt_forward_without_ln_f(model, idx):
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
    for block in t.h:
        x = block(x)
    return model.lm_head(x)


ANSWERS.update({
    "09.gpt_forward": (_gpt_forward, _gpt_forward_without_ln_f),
    "09.tying_savings": (lambda config: config.vocab_size * config.n_embd,
                         lambda config: config.vocab_size * config.n_embd + config.vocab_size),
    "09.residual_init_std": (lambda n_layer: 0.02 / math.sqrt(2 * n_layer), lambda n_layer: 0.02 / math.sqrt(n_layer)),
})


# --- notebook 10 ----------------------------------------------------------------------------------

def _lr_at(step, max_steps, warmup_steps, lr, min_lr):
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


def _lr_at_from_zero(step, max_steps, warmup_steps, lr, min_lr):
    if step < warmup_steps:
        return lr * step / warmup_steps
    return _lr_at(step, max_steps, warmup_steps, lr, min_lr)


def _train_step(model, optimizer, x, y, grad_clip):
    return _step(model, optimizer, x, y, grad_clip)


def _train_step_no_clip(model, optimizer, x, y, grad_clip):
    return _step(model, optimizer, x, y, grad_clip, clip=False)


ANSWERS.update({
    "10.lr_schedule": (_lr_at, _lr_at_from_zero),
    "10.bits_per_byte": (lambda loss, n_tokens, n_bytes: loss * n_tokens / (n_bytes * math.log(2)),
                         lambda loss, n_tokens, n_bytes: loss * n_tokens / n_bytes),
    "10.train_step": (_train_step, _train_step_no_clip),
})


# --- notebook 11 ----------------------------------------------------------------------------------

def _mask_tokens(ids, mask_id, vocab_size, generator):
    chosen = torch.rand(ids.shape, generator=generator) < 0.15
    action = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = mask_id
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = torch.randint(vocab_size, ids.shape, generator=generator)[swap]
    return inputs, torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))


def _mask_tokens_all_mask(ids, mask_id, vocab_size, generator):
    chosen = torch.rand(ids.shape, generator=generator) < 0.15
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    return torch.where(chosen, torch.full_like(ids, mask_id), ids), labels


def _info_nce(q, k, temperature):
    scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).T / temperature
    return F.cross_entropy(scores, torch.arange(q.shape[0]))


def _retrieval_top1(queries, keys):
    cos = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T
    return (cos.argmax(dim=1) == torch.arange(len(queries))).float().mean().item()


ANSWERS.update({
    "11.mask_tokens": (_mask_tokens, _mask_tokens_all_mask),
    "11.info_nce": (_info_nce, lambda q, k, t: F.cross_entropy(q @ k.T / t, torch.arange(q.shape[0]))),
    "11.retrieval_top1": (_retrieval_top1,
                          lambda q, k: ((q @ k.T).argmax(dim=1) == torch.arange(len(q))).float().mean().item()),
})


# --- notebook 12 ----------------------------------------------------------------------------------

def _temperature_probs(logits, T):
    return torch.softmax(logits / T, dim=-1)


def _top_k(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def _top_p(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    sorted_logits = sorted_logits.masked_fill(before >= p, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def _repetition_penalty(logits, ids, penalty):
    seen = torch.gather(logits, 1, ids)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, ids, seen)


ANSWERS.update({
    "12.temperature": (_temperature_probs, lambda logits, T: torch.softmax(logits * T, dim=-1)),
    "12.top_k": (_top_k, _top_k_exclusive),
    "12.top_p": (_top_p, _top_p_exclusive),
    "12.repetition_penalty": (_repetition_penalty, _penalty_divide_all),
})


# --- notebook 13 ----------------------------------------------------------------------------------

def _ece(confidence, accuracy, count):
    full = count > 0
    weights = count[full] / count.sum()
    return float(np.sum(weights * np.abs(accuracy[full] - confidence[full])))


def _ece_unweighted(confidence, accuracy, count):
    full = count > 0
    return float(np.mean(np.abs(accuracy[full] - confidence[full])))


ANSWERS.update({
    "13.perplexity": (lambda nll: math.exp(nll.mean().item()), lambda nll: math.exp(nll.sum().item())),
    "13.bits_per_byte": (lambda mean_nll, n_tokens, n_bytes: mean_nll * n_tokens / math.log(2) / n_bytes,
                         lambda mean_nll, n_tokens, n_bytes: mean_nll * n_tokens / n_bytes),
    "13.ece": (_ece, _ece_unweighted),
})


# --- notebook 14 ----------------------------------------------------------------------------------

def _last_token_state(hidden, lengths):
    return hidden[torch.arange(hidden.shape[0]), lengths - 1]


def _class_weights(labels, n_classes):
    counts = torch.bincount(labels, minlength=n_classes).float()
    return len(labels) / (n_classes * counts)


def _f1(confusion):
    tp, fp, fn = confusion[1, 1], confusion[0, 1], confusion[1, 0]
    return float(2 * tp / (2 * tp + fp + fn))


ANSWERS.update({
    "14.last_token_state": (_last_token_state, lambda hidden, lengths: hidden[:, -1]),
    "14.class_weights": (_class_weights,
                         lambda labels, n_classes: torch.bincount(labels, minlength=n_classes) / len(labels)),
    "14.f1_score": (_f1, lambda c: float((c[1, 1] / c[:, 1].sum() + c[1, 1] / c[1].sum()) / 2)),
})


# --- notebook 15 ----------------------------------------------------------------------------------

def _sft_targets(prompt, completion):
    ids = prompt + completion
    y = torch.tensor(ids[1:])
    y[: len(prompt) - 1] = -100
    return torch.tensor(ids[:-1]), y


def _sft_targets_off_by_one(prompt, completion):
    ids = prompt + completion
    y = torch.tensor(ids[1:])
    y[: len(prompt)] = -100
    return torch.tensor(ids[:-1]), y


def _rouge1(candidate, reference):
    import re
    from collections import Counter

    c, r = (Counter(re.findall(r"[a-z0-9]+", t.lower())) for t in (candidate, reference))
    overlap = sum((c & r).values())
    p = overlap / sum(c.values()) if c else 0.0
    rec = overlap / sum(r.values()) if r else 0.0
    return p, rec, 2 * p * rec / (p + rec) if p + rec else 0.0


def _rouge1_unclipped(candidate, reference):
    import re

    c, r = (re.findall(r"[a-z0-9]+", t.lower()) for t in (candidate, reference))
    overlap = sum(w in r for w in c)
    p = overlap / len(c) if c else 0.0
    rec = overlap / len(r) if r else 0.0
    return p, rec, 2 * p * rec / (p + rec) if p + rec else 0.0


def _longest_common_substring(a, b):
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


ANSWERS.update({
    "15.sft_targets": (_sft_targets, _sft_targets_off_by_one),
    "15.rouge1": (_rouge1, _rouge1_unclipped),
    "15.lcs_length": (lcs_length, _longest_common_substring),
})


# --- notebook 16 ----------------------------------------------------------------------------------

def _chat_prompt(messages):
    text = "".join(f"<|{m['role']}|>{m['content']}<|end|>\n" for m in messages)
    return text + "<|assistant|>"


ANSWERS.update({
    "16.chat_prompt": (_chat_prompt, lambda messages: _chat_prompt(messages)[: -len("<|assistant|>")]),
    "16.first_reply": (lambda text: text.split("<|", 1)[0].strip(),
                       lambda text: text.rsplit("<|", 1)[0].strip()),
    "16.loss_mask": (lambda turns: [role == "assistant" for role, n in turns for _ in range(n)],
                     lambda turns: [role == "user" for role, n in turns for _ in range(n)]),
})


# --- notebook 17 ----------------------------------------------------------------------------------

ANSWERS.update({
    "17.bytes_per_token": (lambda tokenizer, text: len(text.encode("utf-8")) / len(tokenizer.encode(text)),
                           lambda tokenizer, text: len(text) / len(tokenizer.encode(text))),
    "17.loss_to_bits_per_byte": (lambda loss, n_tokens, n_bytes: loss * n_tokens / (math.log(2) * n_bytes),
                                 lambda loss, n_tokens, n_bytes: loss / math.log(2)),
    "17.novel_ngrams": (_novel_fraction, _novel_fraction_unique),
})


# --- notebook 18 ----------------------------------------------------------------------------------

def _hf_greedy(hf_model, idx, n_new):
    return hf_model.generate(idx, attention_mask=torch.ones_like(idx), max_new_tokens=n_new, do_sample=False)


ANSWERS.update({
    "18.hf_to_course": (lambda key, w: w.t() if key.endswith(_CONV1D) else w,
                        lambda key, w: w.t() if w.dim() == 2 else w),
    "18.hf_greedy": (_hf_greedy, lambda hf_model, idx, n_new: _hf_greedy(hf_model, idx, n_new)[:, idx.shape[1]:]),
    "18.wikitext_tokens": (_official_token_count, lambda text: len(text.split())),
})


# --- notebook 19 ----------------------------------------------------------------------------------

def _flops(config, n_tokens):
    return 6 * parameter_count(config) * n_tokens


def _forward_flops_only(config, n_tokens):
    return 2 * parameter_count(config) * n_tokens


ANSWERS.update({
    "19.training_flops": (_flops, _forward_flops_only),
    "19.logit_lens": (_reference_lens, _lens_without_ln_f),
    "19.allowed_tokens": (_reference_allowed,
                          lambda token_text, generated, words: torch.tensor(
                              [s != "" and any(w.startswith(s) for w in words) for s in token_text])),
})


# --- notebook 20 ----------------------------------------------------------------------------------

ANSWERS.update({
    "20.attention_mask": (lambda T, causal: torch.ones(T, T, dtype=torch.bool).tril() if causal
                          else torch.ones(T, T, dtype=torch.bool),
                          lambda T, causal: torch.ones(T, T, dtype=torch.bool).triu() if causal
                          else torch.ones(T, T, dtype=torch.bool)),
    "20.kl_divergence": (_kl, lambda logp, logq: _kl(logq, logp)),
    "20.repeated_ngrams": (_repeated, lambda tokens, n: 1 - _repeated(tokens, n)),
})
