"""Checks for notebook 10 (pretraining: the learning-rate schedule, bits per byte, one training step)."""
import copy
import math

import torch

from . import Mistake, call, exercise


@exercise("10.lr_schedule")
def lr_schedule(fn):
    from ..train import TrainConfig

    cases = [(1000, 100, 1e-3, 1e-4), (950, 50, 3e-3, 3e-4), (20, 5, 0.5, 0.0), (10, 0, 1.0, 0.1)]
    for max_steps, warmup, lr, min_lr in cases:
        ref = TrainConfig(max_steps=max_steps, warmup_steps=warmup, lr=lr, min_lr=min_lr)
        for step in sorted({0, 1, warmup // 2, max(warmup - 1, 0), warmup, (warmup + max_steps) // 2, max_steps - 1,
                            max_steps, max_steps + 5}):
            expected = ref.lr_at(step)
            got = call(fn, step, max_steps, warmup, lr, min_lr)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                raise Mistake(f"return a number (the learning rate), got {type(got).__name__}")
            if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12):
                continue
            where = (f"step {step} (max_steps={max_steps}, warmup_steps={warmup}, lr={lr}, min_lr={min_lr})")
            if step == 0 and warmup > 0 and got == 0:
                raise Mistake(f"at {where} your learning rate is 0, so the first step does not move the weights: "
                              "warm up with lr * (step + 1) / warmup_steps")
            if step < warmup and math.isclose(got, lr * step / warmup, rel_tol=1e-6):
                raise Mistake(f"at {where}: warm up with lr * (step + 1) / warmup_steps, so that step "
                              "warmup_steps - 1 already reaches lr")
            if step >= warmup and min_lr > 0:
                progress = min(1.0, (step - warmup) / max(1, max_steps - warmup))
                if math.isclose(got, 0.5 * (1 + math.cos(math.pi * progress)) * lr, rel_tol=1e-6):
                    raise Mistake(f"at {where}: your cosine decays to 0; it should go from lr down to min_lr: "
                                  "min_lr + 0.5 * (1 + cos(pi * progress)) * (lr - min_lr)")
            if step > max_steps:
                raise Mistake(f"at {where}: past max_steps the learning rate stays at min_lr (clamp the progress "
                              "to 1)")
            raise Mistake(f"at {where} expected {expected:.6g}, got {got:.6g}")


@exercise("10.bits_per_byte")
def bits_per_byte(fn):
    for loss, n_tokens, n_bytes in [(4.5, 1000, 3190), (1.2, 50, 50), (2.0, 7, 20), (0.0, 3, 9)]:
        expected = loss * n_tokens / (n_bytes * math.log(2))
        got = call(fn, loss, n_tokens, n_bytes)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number, got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12):
            continue
        if math.isclose(got, loss * n_tokens / n_bytes, rel_tol=1e-6):
            raise Mistake("that is nats per byte: divide by ln 2 to turn nats into bits")
        if math.isclose(got, loss / math.log(2), rel_tol=1e-6):
            raise Mistake("that is bits per token: multiply by the number of tokens (the total in bits) and "
                          "divide by the number of bytes")
        if math.isclose(got, loss * n_bytes / (n_tokens * math.log(2)), rel_tol=1e-6):
            raise Mistake("tokens and bytes are swapped: total bits = loss * n_tokens / ln 2, then divide by n_bytes")
        raise Mistake(f"for loss={loss} nats/token over {n_tokens} tokens and {n_bytes} bytes expected "
                      f"{expected:.4f} bits/byte, got {got:.4f}")


def _step(model, optimizer, x, y, grad_clip, zero=True, clip=True, step=True):
    if zero:
        optimizer.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    if clip and grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if step:
        optimizer.step()
    return loss.item()


@exercise("10.train_step")
def train_step(fn):
    from ..model import GPT, GPTConfig

    torch.manual_seed(0)
    base = GPT(GPTConfig(vocab_size=40, block_size=8, n_layer=1, n_head=2, n_embd=16))
    batches = [(torch.randint(0, 40, (4, 8)), torch.randint(0, 40, (4, 8))) for _ in range(2)]
    grad_clip = 0.05  # small, so that clipping changes the update

    def run(step_fn, **kw):
        model = copy.deepcopy(base)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)  # plain SGD: the update is the (clipped) gradient
        losses = [step_fn(model, opt, x, y, grad_clip, **kw) for x, y in batches]
        return model, losses

    ref_model, ref_losses = run(_step)
    model, losses = run(lambda m, o, x, y, c: call(fn, m, o, x, y, c))
    for got in losses:
        if isinstance(got, torch.Tensor):
            if got.requires_grad:
                raise Mistake("return loss.item() (a float), not the loss tensor: a tensor keeps the whole graph alive")
        elif not isinstance(got, float):
            raise Mistake(f"return the loss as a float (loss.item()), got {type(got).__name__}")
    losses = [float(v) for v in losses]
    same = lambda a, b: all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))
    if same(model, ref_model) and all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(losses, ref_losses)):
        return
    if same(model, base):
        raise Mistake("the weights did not change: call optimizer.step() after loss.backward()")
    if same(model, run(_step, zero=False)[0]):
        raise Mistake("gradients from the previous step were added to this one: call optimizer.zero_grad() "
                      "before loss.backward()")
    if same(model, run(_step, clip=False)[0]):
        raise Mistake("the gradient was not clipped: call torch.nn.utils.clip_grad_norm_(model.parameters(), "
                      "grad_clip) between loss.backward() and optimizer.step()")
    raise Mistake("after two steps your weights differ from the reference: zero the gradients, forward with "
                  "model(x, y), backward, clip, step, in that order")
