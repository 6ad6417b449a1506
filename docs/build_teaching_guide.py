#!/usr/bin/env python3
"""Build docs/teaching.md, the teacher's guide, from the notebooks, the measured suite and the notes below.

    python docs/build_teaching_guide.py            # rewrite docs/teaching.md
    python docs/build_teaching_guide.py --check    # exit 1 if docs/teaching.md is stale (the tests run this)

What is read, so that it cannot go stale: each notebook's title, outline line and learning goals (its first
cell), its exercises and their check names, the run times measured by `benchmarks/notebooks.py`
(benchmarks/results/notebooks.json), and the diagnosis each check prints for a typical wrong answer
(tests/exercise_answers.py). What is written by hand, below: prerequisites, the difficulty of each exercise,
discussion questions, and one 90-minute lesson plan per part of the outline.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "teaching.md"

# --- written by hand ------------------------------------------------------------------------------------------
# Per notebook: what a learner should know first, and two or three questions for the class.
NOTES: dict[str, dict] = {
    "00": {"needs": "Python and a first look at PyTorch tensors; nothing about transformers.",
           "discuss": ["Why does the course ship its data instead of downloading it? What would break otherwise?",
                       "What must a test check so that a notebook 'still says what it claims', not only that it runs?"]},
    "01": {"needs": "00; matrix shapes (a linear layer of C → 4C has 4C² + 4C parameters).",
           "discuss": ["GPT-2 small has 124M parameters by our count and 117M in the paper. Which number would you "
                       "report, and how would you say where the difference comes from?",
                       "Most of GPT-3's parameters sit in the blocks, not the embeddings. What does that say about "
                       "where the compute goes?"]},
    "02": {"needs": "00; probability (conditional probability, logarithms).",
           "discuss": ["Why does an unsmoothed bigram model give a test text perplexity ∞, and what does each "
                       "smoothing method assume about unseen pairs?",
                       "A longer n-gram context helps until it hurts. What runs out first: data or memory?",
                       "Bits per character and perplexity measure the same thing. Why do we need both?"]},
    "03": {"needs": "02 (tokens and vocabularies); UTF-8 in one sentence.",
           "discuss": ["Why does a byte-level BPE never need an unknown-token symbol?",
                       "A bigger vocabulary gives fewer tokens per text. What does it cost the model?",
                       "Is an embedding lookup a matrix product? When would you compute it that way?"]},
    "04": {"needs": "03 (embeddings); softmax; matrix multiplication and transposes.",
           "discuss": ["What goes wrong with the softmax when d_k grows and the scores are not divided by √d_k?",
                       "A causal mask hides the future. Which tasks need it, and which do not?",
                       "What can one attention row express, and what can it not?"]},
    "05": {"needs": "04; tensor reshape / transpose (view vs contiguous).",
           "discuss": ["Several heads cost the same as one wide head. So what do we gain by splitting?",
                       "In the trained model, do the heads really look at different things? How would you measure it?"]},
    "06": {"needs": "04–05; sine and cosine; the idea of a rotation.",
           "discuss": ["Why can attention without positions not tell 'dog bites man' from 'man bites dog'?",
                       "Which encodings extrapolate to sequences longer than those seen in training, and why?",
                       "RoPE changes queries and keys but not values. Why is that enough?"]},
    "07": {"needs": "05; mean and variance; the chain rule (gradients through a sum).",
           "discuss": ["Why does a residual connection keep gradients alive in a deep stack?",
                       "Pre-LN trains without warm-up where post-LN fails. What changes for the gradient?"]},
    "08": {"needs": "04–07; nn.MultiheadAttention's arguments (batch_first, attn_mask).",
           "discuss": ["The outline's block trains to a tiny loss and then cannot generate. Why is a low "
                       "training loss not evidence that the model works?",
                       "How would a unit test have caught each of the two bugs before training?",
                       "Is a decoder-only GPT a 'Transformer encoder'? What is in a name here?"]},
    "09": {"needs": "04–08.",
           "discuss": ["Weight tying shares the input and output embeddings. Why is that reasonable, and when "
                       "might it hurt?",
                       "What does matching Hugging Face's logits to 1e-5 prove, and what does it not?"]},
    "10": {"needs": "02 (perplexity, the n-gram baseline), 03 (BPE), 09; what a gradient step does.",
           "discuss": ["The course recipe was chosen on the validation split. Why must the test split not be "
                       "used for that?",
                       "The GPT and the n-gram model are compared in bits per byte, not perplexity. Why?",
                       "With ten times more text, which of the two models would gain more, and why?"]},
    "11": {"needs": "10; cosine similarity.",
           "discuss": ["The masked LM sees both sides of a blank. Why is it still a poor text generator?",
                       "What does contrastive training learn that next-token prediction does not need?"]},
    "12": {"needs": "10; softmax with a temperature; sampling from a distribution.",
           "discuss": ["Greedy decoding loops. Is that a flaw of the model or of the decoding rule?",
                       "Top-k and top-p both cut the tail. When do they behave differently?",
                       "The KV cache changes the speed but not the output. How does the notebook prove that?"]},
    "13": {"needs": "02, 10, 12.",
           "discuss": ["Why is the test split scored once, at the end, and what goes wrong if it is scored often?",
                       "A model can have good perplexity and poor calibration, or the reverse. Give an example.",
                       "Distinct-n rewards variety. What does it not see?"]},
    "14": {"needs": "10; classification metrics (precision, recall, F1); class imbalance.",
           "discuss": ["With 13% spam, what accuracy does a model reach that always says 'ham'? Which metric "
                       "shows the difference?",
                       "When is a claim 'fine-tuning beats training from scratch' supported by the numbers, given "
                       "the spread over seeds?"]},
    "15": {"needs": "10, 12, 14; the idea of a prompt.",
           "discuss": ["Why is the loss taken only on the summary, not on the prompt?",
                       "ROUGE counts overlapping words. What good summary would it score badly?"]},
    "16": {"needs": "12, 15.",
           "discuss": ["What does the chat template teach the model, and what happens without the end marker?",
                       "How would you tell a model that understood the request from one that copied a similar "
                       "training dialogue?"]},
    "17": {"needs": "10, 12; what continued pretraining means.",
           "discuss": ["Continued pretraining beats training from scratch on Shakespeare. What did the WikiText "
                       "pretraining contribute?",
                       "How would you measure whether a requested form (a speaker, a poem) was followed?"]},
    "18": {"needs": "09, 10.",
           "discuss": ["Why does converting to Hugging Face need a transpose for four weights per block?",
                       "BookCorpus is no longer distributed. What should a course or a paper do about data it "
                       "cannot share?"]},
    "19": {"needs": "10, 13; orders of magnitude (FLOPs, bytes).",
           "discuss": ["C ≈ 6·N·D: where do the 6 come from, and what does the formula leave out?",
                       "Data parallelism gives each worker a different batch. Why do the replicas stay identical?",
                       "What does the logit lens show about what each layer adds?"]},
    "20": {"needs": "the rest of the course (it answers the FAQ with measurements).",
           "discuss": ["GPT or BERT for a classifier? What does the notebook's measurement say, and what would "
                       "change your answer?",
                       "Which limitation of GPT models did the notebook demonstrate most convincingly, and which "
                       "claim would need a larger model to test?"]},
}

# Difficulty of each exercise: 1 = a few lines from the section just read, 2 = combines several ideas or has a
# trap the check names, 3 = needs care (indices, edge cases) or the library's conventions.
DIFFICULTY: dict[str, int] = {
    "00.count_parameters": 1, "00.pick": 1,
    "01.block_parameters": 2, "01.non_embedding": 2,
    "02.bigram_probs": 1, "02.perplexity": 1, "02.add_k": 2,
    "03.bpe_step": 2, "03.bytes_per_token": 1, "03.embedding_lookup": 2,
    "04.scaled_dot_product_attention": 1, "04.causal_mask": 1, "04.attention_row": 1,
    "05.split_heads": 2, "05.merge_heads": 2, "05.count_attention_parameters": 1,
    "06.sinusoidal_encoding": 2, "06.rope_rotate": 3, "06.alibi_bias": 3,
    "07.layer_norm": 1, "07.pre_ln_block": 1, "07.layernorm_params": 2,
    "08.leaks_future": 3, "08.torch_causal_mask": 1, "08.attend_over_time": 2,
    "09.gpt_forward": 2, "09.tying_savings": 1, "09.residual_init_std": 1,
    "10.lr_schedule": 2, "10.bits_per_byte": 1, "10.train_step": 2,
    "11.mask_tokens": 3, "11.info_nce": 2, "11.retrieval_top1": 1,
    "12.temperature": 1, "12.top_k": 2, "12.top_p": 3, "12.repetition_penalty": 2,
    "13.perplexity": 1, "13.bits_per_byte": 1, "13.ece": 2,
    "14.last_token_state": 2, "14.class_weights": 1, "14.f1_score": 1,
    "15.sft_targets": 2, "15.rouge1": 2, "15.lcs_length": 2,
    "16.chat_prompt": 1, "16.first_reply": 1, "16.loss_mask": 2,
    "17.bytes_per_token": 1, "17.loss_to_bits_per_byte": 1, "17.novel_ngrams": 2,
    "18.hf_to_course": 3, "18.hf_greedy": 2, "18.wikitext_tokens": 2,
    "19.training_flops": 1, "19.logit_lens": 3, "19.allowed_tokens": 3,
    "20.attention_mask": 1, "20.kl_divergence": 1, "20.repeated_ngrams": 2,
}

# One 90-minute lesson per part of the outline: (title, outline chapters, notebooks, plan as (minutes, activity)).
LESSONS: list[tuple[str, str, list[str], list[tuple[int, str]]]] = [
    ("Language models before transformers", "§1, §2.3", ["00", "01", "02"], [
        (10, "Run 00 together: every machine passes `python -m gpt_course.doctor`; how exercises and checks work."),
        (20, "01 §1.2–1.5: GPT-1/2/3 as configurations; count parameters by formula and by code."),
        (35, "02 §2.2–2.5: counting bigrams, smoothing, perplexity; students do 02 exercises 1–2."),
        (15, "02 §2.7–2.8: a neural bigram; why context length matters (the order sweep plot)."),
        (10, "Discussion: the n-gram model is the baseline every later model has to beat."),
    ]),
    ("Tokens and self-attention", "pipeline B–C, §2.1.1, §4.1.1–4.1.2", ["03", "04"], [
        (10, "Recap: what a language model predicts; why it needs tokens."),
        (25, "03 §3.2–3.5: characters, words, BPE step by step; exercise 1 (one BPE merge)."),
        (35, "04 §4.1–4.4: Q, K, V by hand on the board and in the notebook; the √d_k experiment; the causal mask. "
             "Exercises 1–2."),
        (10, "04 §4.6: the attention explorer on the projector: which tokens does a trained head read?"),
        (10, "Discussion questions of 04."),
    ]),
    ("Many heads and positions", "§2.1.2–2.1.3, §4.1.3, §4.2", ["05", "06"], [
        (10, "Recap: one attention row is one weighted average."),
        (30, "05 §5.2–5.5: split and merge heads, shapes on the board; equality with PyTorch; exercises 1–2."),
        (35, "06 §6.1–6.4: the permutation demo, sinusoidal, learned, RoPE and ALiBi; the positional explorer. "
             "Exercise 1 in class, 2–3 as homework."),
        (15, "06 §6.5 results (trained side by side, extrapolation) and discussion."),
    ]),
    ("The block and the model", "§3.1, §4.3, §5.2", ["07", "08", "09"], [
        (20, "07: LayerNorm from the formula; residual stream; pre-LN vs post-LN curves (run while explaining)."),
        (35, "08: rebuild the outline's block and find its two bugs together; exercise 1 (spot the leak)."),
        (25, "09 §9.2–9.8: assemble the GPT, count parameters, weight tying; same logits as Hugging Face."),
        (10, "Discussion: why a low training loss did not prove that 08's block worked."),
    ]),
    ("Pretraining", "§2.2.1, §3.2, §5.1, §5.3.1", ["10", "11"], [
        (10, "Start notebook 10's training run first thing (it takes the longest); explain the data while it runs."),
        (30, "10 §10.3–10.7: the objective, the data, batching, the loop by hand; exercise 1 (LR schedule)."),
        (20, "10 §10.8–10.10: the course recipe's curves, the test result next to the n-gram baseline."),
        (20, "11: masked-LM and contrastive objectives on the same network; the three probes."),
        (10, "Discussion questions of 10."),
    ]),
    ("Generation and evaluation", "§5.4, §9.3", ["12", "13"], [
        (35, "12 §12.2–12.8: greedy, temperature, top-k, top-p, repetition penalty; the sampling explorer on the "
             "projector; exercises 1–2."),
        (10, "12 §12.12: the KV cache and its speed-up."),
        (35, "13: perplexity, bits per byte, calibration, distinct-n; the test-set protocol (§13.8)."),
        (10, "Discussion: which number would you report for a model, and on which split?"),
    ]),
    ("Fine-tuning", "§2.2.2–2.2.3, §3.3, §6.1", ["14", "15"], [
        (10, "Start notebook 14's runs; recap of the pretrained model."),
        (35, "14: a classifier head on the GPT; the loss with class weights; frozen vs full vs from scratch, with "
             "the spread over seeds. Exercises 1–3."),
        (35, "15: a prompt format, loss only on the summary, ROUGE; exercises 2–3."),
        (10, "Discussion: when does a transfer-learning claim hold?"),
    ]),
    ("Dialogue and creative writing", "§6.2–6.3", ["16", "17"], [
        (35, "16: the chat template, masking the user's turns, fine-tuning and held-out evaluation; exercises 1–3."),
        (40, "17: continued pretraining on Shakespeare; conditioning and style control; sampling settings."),
        (15, "Discussion questions of 16 and 17."),
    ]),
    ("Tools, trends and open questions", "§7–§9", ["18", "19", "20"], [
        (20, "18: the course model inside Hugging Face; GPT-2 and GPT-3 sizes computed; data-set facts."),
        (35, "19: C ≈ 6·N·D, a small scaling sweep, memory, data-parallel training, a toy CLIP, the logit lens."),
        (25, "20: the FAQ, each answer measured: GPT vs BERT, fine-tuning checklist, diversity, limitations."),
        (10, "Closing discussion: what would change with 1000× the compute, and what would not."),
    ]),
]


# --- read from the repository ---------------------------------------------------------------------------------
def notebooks() -> dict[str, Path]:
    return {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def read_notebook(path: Path) -> dict:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = _source(cells[0]).split("\n")
    title = first[0].lstrip("# ").strip()
    start = next((i for i, line in enumerate(first) if line.startswith("Outline:")), None)
    outline_lines = []
    for line in first[start:] if start is not None else []:
        if not line.strip():
            break
        outline_lines.append(line.strip())
    outline = " ".join(outline_lines).removeprefix("Outline:").strip()
    goals_text = _source(cells[0]).split("**Learning goals**", 1)[-1]
    goals = [re.sub(r"\s+", " ", g).strip() for g in re.findall(r"^\* (.*(?:\n  .*)*)", goals_text, re.M)]
    exercises = []
    for i, cell in enumerate(cells):
        text = _source(cell)
        if cell["cell_type"] != "markdown" or not re.search(r"\*\*Exercise \d+", text):
            continue
        m = re.search(r"\*\*Exercise (\d+)(?: \(open\))?\.?\*?\*?\s*(.*)", text, re.S)
        number, prompt = m.group(1), re.sub(r"\s+", " ", m.group(2)).strip()
        following = _source(cells[i + 1]) if i + 1 < len(cells) and cells[i + 1]["cell_type"] == "code" else ""
        name = re.search(r'check\("([^"]+)"', following)
        exercises.append({"number": int(number), "name": name.group(1) if name else None,
                          "prompt": _sentences(prompt, 240)})
    return {"title": title, "outline": outline, "goals": goals, "exercises": exercises}


def _sentences(text: str, most: int) -> str:
    """The first sentences of `text`, as many as fit in `most` characters (at least one)."""
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Z(`*])", text)
    out = parts[0]
    for part in parts[1:]:
        if len(out) + 1 + len(part) > most:
            break
        out += " " + part
    return out


def run_times() -> tuple[dict[str, dict], dict]:
    from gpt_course.utils import RUN_TIMES  # the measured suite, the file every notebook's run-time cell reads

    table = json.loads(RUN_TIMES.read_text(encoding="utf-8"))
    return {name[:2]: row for name, row in table["notebooks"].items()}, table["machine"]


def diagnoses() -> dict[str, str]:
    """What each check says about the typical wrong answer recorded in tests/exercise_answers.py."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from exercise_answers import ANSWERS
    finally:
        sys.path.pop(0)
    from gpt_course.exercises import check

    out = {}
    for name, (_, wrong) in sorted(ANSWERS.items()):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            check(name, wrong)
        out[name] = buf.getvalue().strip().removeprefix(f"[{name}] not quite: ")
    return out


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


# --- the guide ------------------------------------------------------------------------------------------------
def build() -> str:
    books = {nn: read_notebook(p) for nn, p in notebooks().items()}
    times, machine = run_times()
    said = diagnoses()
    stars = {1: "★", 2: "★★", 3: "★★★"}
    out = [
        "# Teaching with gpt-course",
        "",
        "A guide for running the course in a classroom: what each notebook teaches, how long it takes, what to "
        "know first, the exercises and the mistakes their checks diagnose, questions for discussion, and a "
        "90-minute lesson plan for each part of the outline. *Generated by `python docs/build_teaching_guide.py` "
        "from the notebooks, the measured suite and the notes in that script; a test fails when it is stale.*",
        "",
        "## Before the lesson",
        "",
        "* **Every machine ready.** `python -m gpt_course.doctor` checks the versions, the bundled data "
        "(SHA-256), the course checkpoint, and measures one training step with an estimate for notebook 10. "
        "Exit status 0 means ready; `--json` gives a report a script can collect.",
        "* **A classroom without internet.** Once, on a machine with internet, in a virtual environment where the "
        "course works (README, first command): `python -m gpt_course.classroom offline-kit --out kit` downloads "
        "every wheel the environment holds into `kit/wheels/` (PyTorch's CPU build when that is what is installed) "
        "and writes `kit/INSTALL.md`. Copy the repository (it holds the data and the trained checkpoint) and `kit/` "
        "to each classroom machine (same operating system and Python version) and run the four commands of "
        "`kit/INSTALL.md`: a virtual environment, `pip install --no-index --find-links kit/wheels ...`, the course "
        "itself, and `python -m gpt_course.doctor` (exit status 0: ready). Nothing in the notebooks needs the "
        "network; only notebook 18's optional GPT-2 weights do, and it says so and goes on without them.",
        "* **Run times** below were measured on two CPU cores "
        f"({machine.get('cpu', '?')}, torch {machine.get('torch', '?')}): *learner* is the real notebook, *test* is "
        "`GPT_COURSE_FAST=1` (small steps and sizes, for a quick dry run before class). A classroom laptop may be "
        "slower: the doctor's step time tells you by how much.",
        "* **Slides.** Every notebook is also a slideshow: open it in JupyterLab, run it (or the cells you will "
        "show), and press the deck button at the right end of the notebook's toolbar (`jupyterlab-slideshow`, "
        "installed with the course). Space and Shift+Space move; each `##` section opens a slide, each explanation "
        "with the cells that show it a sub-slide; the widgets stay live on the slides, and the folded solutions are "
        "left out. After editing a notebook, `python -m gpt_course.classroom slides` updates its slide metadata.",
        "* **Solutions.** The course notebooks contain folded solutions. For students, build the student edition "
        "without them (see the README), and grade a returned notebook with the grader.",
        "",
        "## The notebooks",
        "",
        "| # | notebook | outline | learner | test | exercises |",
        "|---|---|---|---|---|---|",
    ]
    for nn, book in books.items():
        t = times.get(nn, {})
        learner = _minutes(t["learner"]["seconds"]) if "learner" in t else "not measured"
        test = _minutes(t["test"]["seconds"]) if "test" in t else "not measured"
        checked = sum(e["name"] is not None for e in book["exercises"])
        out.append(f"| {nn} | {book['title'].split(' · ', 1)[-1]} | {book['outline']} | {learner} | {test} | {checked} checked"
                   + (f" + {len(book['exercises']) - checked} open" if len(book["exercises"]) > checked else "") + " |")
    for nn, book in books.items():
        t, note = times.get(nn, {}), NOTES[nn]
        out += ["", f"### {book['title']}", "",
                f"*Outline:* {book['outline']} · *run time:* "
                + (f"{_minutes(t['learner']['seconds'])} (learner), {_minutes(t['test']['seconds'])} (test)"
                   if "learner" in t and "test" in t else "not measured")
                + f" · *needs:* {note['needs']}", "", "**Goals**", ""]
        out += [f"* {g}" for g in book["goals"]]
        if book["exercises"]:
            out += ["", "**Exercises**", ""]
            for e in book["exercises"]:
                if e["name"] is None:
                    out.append(f"{e['number']}. (open, no check) {e['prompt']}")
                    continue
                line = f"{e['number']}. {stars[DIFFICULTY[e['name']]]} `{e['name']}`: {e['prompt']}"
                if e["name"] in said:
                    line += f" *A typical mistake gets:* “{said[e['name']]}”"
                out.append(line)
        out += ["", "**Discussion**", ""] + [f"* {q}" for q in note["discuss"]]
    out += ["", "## Lesson plans (90 minutes each)", ""]
    for title, chapters, nbs, plan in LESSONS:
        total = sum(m for m, _ in plan)
        assert total == 90, f"the lesson plan '{title}' lasts {total} minutes, not 90"
        run = sum(times[nn]["learner"]["seconds"] for nn in nbs if "learner" in times.get(nn, {}))
        out += [f"### {title} ({chapters}; notebooks {', '.join(nbs)})", "",
                f"The notebooks take {_minutes(run)} to run in learner mode; start the longest one first.", ""]
        clock = 0
        for minutes, activity in plan:
            out.append(f"* {clock:2d}–{clock + minutes} min: {activity}")
            clock += minutes
        out.append("")
    out += ["Difficulty: ★ a few lines from the section just read · ★★ combines ideas or has a trap the check "
            "names · ★★★ needs care with indices, edge cases or a library's conventions.", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/teaching.md is not up to date")
    args = parser.parse_args()
    text = build()
    if args.check:
        if not GUIDE.is_file() or GUIDE.read_text(encoding="utf-8") != text:
            print("docs/teaching.md is stale: run python docs/build_teaching_guide.py", file=sys.stderr)
            return 1
        return 0
    GUIDE.parent.mkdir(exist_ok=True)
    GUIDE.write_text(text, encoding="utf-8")
    print(f"wrote {GUIDE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
