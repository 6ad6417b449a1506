"""Copy practice: can the course checkpoint learn to copy from its context, and does that give notebook 16's
assistant the order numbers, dates and items it has to repeat?

The first stage of the course recipe cannot copy (`gpt_course.evaluate.repeat_loss`: a passage read a second
time is predicted no better than the first time), and notebook 16's model fine-tuned from it gets almost no slot
value right. This script continues a first-stage checkpoint (`--start`; make one with `python -m
gpt_course.pretrain --recipe first-stage --out runs/stage1.safetensors`; the default, the shipped checkpoint,
already had the course's copying practice) for `--steps` steps of next-token training on WikiText-2 train, once
without copying practice and once with each kind (`--fraction` of the rows of every batch replaced by
`gpt_course.data.add_copy_rows`: a run of random tokens, or a passage of the text, read again and again), and
reports for the checkpoint and every continued model:

* validation bits per byte (what the practice costs the language model),
* `repeat_loss` on test text (60-token passages) and on random tokens (30-token runs): first and second reading,
* notebook 16's held-out figures after its own fine-tuning recipe (benchmarks/_finetune_dialogue.py).

The run without practice is the control: same steps, learning rate and data, so a change seen only with practice
is the practice's doing.

    python benchmarks/copy_practice.py --start runs/stage1.safetensors [--quick] [--save]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _finetune_dialogue  # noqa: E402
from _common import emit  # noqa: E402

import gpt_course as gc  # noqa: E402
from gpt_course.data import load_wikitext2  # noqa: E402
from gpt_course.evaluate import bits_per_byte, repeat_loss  # noqa: E402
from gpt_course.train import CopyPractice, Trainer, TrainConfig  # noqa: E402


def copying(model, test_ids, random_ids) -> dict:
    text, rand = repeat_loss(model, test_ids, 60, 64), repeat_loss(model, random_ids, 30, 64)
    return {"text_first_second": [round(v, 3) for v in text], "random_first_second": [round(v, 3) for v in rand]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--fraction", type=float, default=0.5, help="share of each batch's rows replaced by practice")
    parser.add_argument("--quick", action="store_true", help="a few steps and notebook 16's test-mode recipe")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/copy_practice.json")
    parser.add_argument("--start", default=None, metavar="PATH",
                        help="the checkpoint to continue (default: the shipped one); the question is about a "
                             "first-stage model, made with python -m gpt_course.pretrain --recipe first-stage")
    args = parser.parse_args()
    if args.save and args.quick:
        parser.error("--quick runs are not the figures: they are never saved")
    if args.start is not None and not Path(args.start).exists():
        parser.error(f"--start {args.start}: no such checkpoint (make one with python -m gpt_course.pretrain "
                     f"--recipe first-stage --out {args.start})")
    steps = 8 if args.quick else args.steps
    valid = load_wikitext2("valid")
    _, tok = gc.load_course_model(args.start)
    test_ids = tok.encode(load_wikitext2("test")[:200_000])
    random_ids = torch.randint(tok.vocab_size, (4000,), generator=torch.Generator().manual_seed(0)).tolist()
    train_ids = torch.tensor(tok.encode(load_wikitext2("train")), dtype=torch.long)
    runs = []
    for fraction, source in ((None, None), (0.0, None), (args.fraction, "random"), (args.fraction, "text")):
        t0 = time.perf_counter()
        model, tok = gc.load_course_model(args.start)
        model = model.cpu()
        run = {"copy_fraction": fraction, "copy_source": source, "steps": 0 if fraction is None else steps}
        if fraction is not None:
            config = TrainConfig(max_steps=steps, batch_size=24, lr=args.lr, warmup_steps=min(20, steps),
                                 weight_decay=0.1, eval_interval=steps, eval_iters=1, seed=3, progress=False)
            trainer = Trainer(model, train_ids, None, config, tok)
            if fraction:  # the course's practice stage (gpt_course.train.CopyPractice), one kind of rows at a time
                rows = round(fraction * config.batch_size)
                practice = CopyPractice(config, random_rows=rows if source == "random" else 0,
                                        text_rows=rows if source == "text" else 0,
                                        random_lengths=(6, trainer.block_size // 2))
                trainer.loss_fn = practice.loss_fn(trainer)
            history = trainer.fit()
            run["train_seconds"] = round(history.elapsed, 1)
        run["valid_bits_per_byte"] = round(bits_per_byte(model, tok, valid), 4)
        run.update(copying(model, test_ids, random_ids))
        chat = _finetune_dialogue.measure(args.quick, start=(model, tok), seeds=(0,))
        run["dialogue"] = {k: chat[k] for k in ("intent_accuracy", "slot_exact", "slot_exact_interval95_first_seed",
                                                "exact_match", "test_replies", "test_slot_replies")}
        run["seconds"] = round(time.perf_counter() - t0, 1)
        runs.append(run)
        print(run, file=sys.stderr, flush=True)
    emit("copy_practice", {"quick": args.quick, "lr": args.lr, "weight_decay": 0.1, "batch_size": 24,
                           "runs": runs}, args.save)


if __name__ == "__main__":
    main()
