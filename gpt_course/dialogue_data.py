"""A small chat data set for notebook 16: a shop's customer service plus a personal assistant's errands,
with greetings, small talk and thanks around them.

Everything is made from templates by seeded code; the shop (Brightwater, a household-goods shop) and its
rules are invented. A user says things in many ways; the assistant answers each intent with one fixed
template, so a reply can be checked word for word. Three splits: train, valid (for choosing the recipe) and
test (scored once). Each has its own user phrasings and its own entity values (items, tasks, times, order
numbers), so a held-out dialogue is never a copy of a training one: a model passes only by recognising the
intent and copying the details. Training dialogues may carry *made-up* items and tasks instead
(`made_up_words`, `make_dialogues(..., made_up=share, words=...)`): a detail seen once cannot be remembered,
only copied, which is the skill the held-out splits ask for.

    >>> train = make_dialogues(600, "train")
    >>> train[0].messages          # [{"role": "user", "content": ...}, {"role": "assistant", ...}, ...]
    >>> train[0].turns()           # [(history, reply, intent), ...] one per assistant turn
"""
from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

SPLITS = ("train", "valid", "test")

# --- what the assistant says: one template per intent ---------------------------------------------
REPLIES: dict[str, str] = {
    "greeting": "Hello! How can I help you today?",
    "small_talk": "I am the Brightwater assistant. I can help with orders, returns, reminders and your shopping list.",
    "ask_order_number": "Sure. What is your order number?",
    "order_status": "Order {num} has shipped and will arrive within three working days.",
    "cancel_order": "Order {num} is cancelled. Your refund will arrive within five days.",
    "return_item": "You can return the {item} within 30 days. The return label is on your account page.",
    "opening_hours": "We are open Monday to Saturday, from 9 am to 6 pm.",
    "delivery_cost": "Delivery is free on orders over 50 pounds; otherwise it costs 4 pounds.",
    "payment": "We accept credit and debit cards, PayPal and bank transfer.",
    "set_reminder": "Okay, I will remind you to {task} at {time}.",
    "set_alarm": "Your alarm is set for {time}.",
    "add_to_list": "I added {item} to your shopping list.",
    "goodbye": "You're welcome. Have a nice day!",
}
INTENTS = tuple(REPLIES)

# --- what the user says: (train, valid, test) phrasings per kind of user turn ---------------------------
# The valid phrasings are for choosing the recipe, the test phrasings are scored once: neither is ever trained on.
USER: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "greeting": (("Hi!", "Hello there.", "Good morning!", "Hey, how are you?", "Hi, is anyone there?",
                  "Good evening.", "Hey!", "Hi there, how is it going?", "Morning!", "Hello, anybody there?",
                  "Hiya!", "Good afternoon.", "Hey there!", "Hello, how are you doing?", "Hi, good morning."),
                 ("Hello, good evening.", "Hey, anyone around?"),
                 ("Hello!", "Hey there, good afternoon.", "Hi, how are things?")),
    "small_talk": (("Who are you?", "Are you a robot?", "What is your name?", "What can you do?",
                    "Am I talking to a real person?", "Tell me about yourself.", "Who am I chatting with?",
                    "Are you a bot?", "What are you?", "Is this a real person?", "What do you do?",
                    "Are you a computer?", "How can you help me?"),
                   ("Are you a real person?", "Who is this?"),
                   ("Are you a human?", "What sort of things can you help with?", "Am I chatting with a machine?")),
    "goodbye": (("Thanks, bye!", "Thank you, that is all.", "Great, thanks a lot.", "Perfect, goodbye!",
                 "Cheers, have a good day.", "Thank you so much!", "OK, thanks. Bye.", "That helps, thank you.",
                 "Thanks!", "Bye!", "Many thanks, goodbye.", "Thank you, bye.", "That's great, thanks.",
                 "Nothing else, thanks."),
                ("Thanks, that was helpful.", "OK, goodbye then."),
                ("Thanks for your help!", "That's all, thank you.", "Thanks a million, bye!")),
    "order_status": (("Where is my order?", "My parcel has not arrived yet.", "Can you check the status of my order?",
                      "I am still waiting for my package.", "Has my order shipped?", "When will my order arrive?",
                      "Can you track my parcel?", "Where is my parcel?", "My order is late.",
                      "Has my package been sent?", "I want to know where my order is.", "Can you check on my order?",
                      "My delivery has not come yet."),
                     ("Is my order on its way?", "Where is my package?"),
                     ("What happened to my order?", "Could you tell me where my delivery is?",
                      "Any update on my parcel?")),
    "order_status_num": (("Where is order {num}?", "Can you track order {num} for me?",
                          "What is the status of order {num}?", "Order {num} has not arrived yet.",
                          "Has order {num} shipped?", "When will order {num} arrive?", "Can you check order {num}?",
                          "I am waiting for order {num}.", "Where is my order {num}?", "Track order {num}, please."),
                         ("Has order {num} been sent?", "Status of order {num}?"),
                         ("Any news on order {num}?", "Is order {num} on its way?",
                          "Could you tell me where order {num} is?")),
    "cancel_order": (("I want to cancel my order.", "Please cancel my order.", "Can I cancel an order?",
                      "I changed my mind, cancel my order please.", "I don't want my order any more.",
                      "Cancel my order, please.", "I need to cancel my order.", "Can you cancel my order?",
                      "Stop my order, please.", "I wish to cancel my order.", "Cancel my purchase, please."),
                     ("I'd like to cancel my order.", "Can my order be cancelled?"),
                     ("How do I cancel my order?", "I would like to cancel an order.",
                      "Is it possible to cancel my order?")),
    "cancel_order_num": (("Please cancel order {num}.", "Cancel order {num}, please.", "I want to cancel order {num}.",
                          "Can you cancel order {num}?", "I don't want order {num} any more.",
                          "Stop order {num}, please.", "I need to cancel order {num}.", "Cancel my order {num}."),
                         ("I'd like to cancel order {num}.", "Can order {num} be cancelled?"),
                         ("I need order {num} cancelled.", "Could you cancel order {num}?",
                          "Is it possible to cancel order {num}?")),
    "give_number": (("It is {num}.", "The number is {num}.", "{num}", "Sure, it's {num}.", "It's {num}.",
                     "Order {num}.", "My order number is {num}.", "{num}, thanks.", "Yes, {num}.",
                     "That would be {num}."),
                    ("Number {num}.", "It should be {num}."),
                    ("Order number {num}.", "Here it is: {num}", "I think it is {num}.")),
    "return_item": (("I want to return the {item}.", "How do I return my {item}?",
                     "The {item} is broken, can I send it back?", "Can I return my {item}?",
                     "The {item} I bought is too small.", "I need to return a {item}.", "Can I send back the {item}?",
                     "The {item} arrived damaged.", "I don't like the {item}, can I return it?",
                     "How can I return the {item}?", "I want my money back for the {item}."),
                    ("Is it possible to return the {item}?", "The {item} doesn't fit, I want to return it."),
                    ("I'd like to send back the {item}.", "My {item} does not work, I want a refund.",
                     "Can the {item} be returned?")),
    "opening_hours": (("When are you open?", "What are your opening hours?", "Are you open on Saturday?",
                       "What time do you close today?", "Is the shop open on Sunday?", "What time do you open?",
                       "Are you open tomorrow morning?", "What are your hours?", "When do you close?",
                       "Are you open today?", "When does the shop open?", "Is the store open now?"),
                      ("What time does the shop close?", "Are you open on Monday?"),
                      ("When does the store open?", "Until what time are you open?", "Are you open this weekend?")),
    "delivery_cost": (("How much is delivery?", "Do you charge for shipping?", "What does shipping cost?",
                       "Is delivery free?", "How much do you charge for delivery?", "Is shipping free?",
                       "What is the delivery fee?", "How much is shipping?", "Do I have to pay for delivery?",
                       "What does delivery cost?", "Is there a delivery charge?", "How much is postage?"),
                      ("How much will shipping be?", "Do you deliver for free?"),
                      ("How much do you charge to deliver?", "What are the postage costs?",
                       "Is there a fee for shipping?")),
    "payment": (("Can I pay with PayPal?", "Which payment methods do you accept?", "Do you take credit cards?",
                 "Can I pay by bank transfer?", "What payment options are there?", "Can I pay by card?",
                 "How do I pay?", "Do you accept PayPal?", "Can I pay with a credit card?", "What ways can I pay?",
                 "Do you take debit cards?"),
                ("Can I use PayPal?", "What methods of payment are there?"),
                ("How can I pay?", "Which cards do you accept?", "Is paying by card possible?")),
    "set_reminder": (("Remind me to {task} at {time}.", "Please remind me at {time} to {task}.",
                      "Set a reminder to {task} at {time}.", "Can you remind me to {task} at {time}?",
                      "At {time}, remind me to {task}.", "I need to {task} at {time}, remind me.",
                      "Remind me at {time} to {task}, please.", "Make a reminder to {task} at {time}.",
                      "Please set a reminder at {time} to {task}."),
                     ("Could you remind me to {task} at {time}?", "Add a reminder: {task} at {time}."),
                     ("Don't let me forget to {task} at {time}.", "I need a reminder at {time} to {task}.",
                      "Give me a reminder to {task} at {time}.")),
    "set_alarm": (("Wake me up at {time}.", "Set an alarm for {time}.", "Please set my alarm to {time}.",
                   "I need to get up at {time}.", "Set my alarm for {time}, please.", "Alarm at {time}.",
                   "Can you wake me at {time}?", "Please set an alarm at {time}.", "I want an alarm at {time}."),
                  ("Wake me at {time}, please.", "Could you set an alarm for {time}?"),
                  ("Can you set an alarm at {time}?", "Alarm for {time}, please.", "I have to wake up at {time}.")),
    "add_to_list": (("Add {item} to my shopping list.", "Put {item} on the shopping list.",
                     "Please add {item} to my list.", "We need {item}, add it to the list.",
                     "Add {item} to the list, please.", "Put {item} on my list.", "We are out of {item}.",
                     "I need to buy {item}, add it to my list.", "Can you put {item} on my shopping list?",
                     "Shopping list: add {item}."),
                    ("Write {item} on my shopping list.", "Remember to add {item} to the list."),
                    ("Can you add {item} to the shopping list?", "Don't forget {item} on my shopping list.",
                     "We have run out of {item}, put it on the list.")),
}

# --- entities: every fifth value (index 2 mod 5) is the test split's, the next fifth (4 mod 5) the valid split's;
# 5 is prime to the 4 minutes per hour of TIMES, so every hour and every minute occurs in every split ------------
PRODUCTS = ("kettle", "toaster", "desk lamp", "blue jumper", "rain jacket", "coffee grinder", "bath towel",
            "wall clock", "garden chair", "phone case", "winter boots", "frying pan", "pillow", "backpack",
            "table lamp", "hair dryer", "yoga mat", "bread knife", "laundry basket", "reading glasses", "teapot",
            "doormat", "shower curtain", "umbrella", "water bottle", "picture frame", "cutting board", "alarm clock",
            "scarf", "wool socks", "duvet cover", "mirror", "salad bowl", "lunch box", "beach towel", "candle holder",
            "flower pot", "ironing board", "rug", "sunglasses")
GROCERIES = ("milk", "eggs", "bread", "butter", "apples", "rice", "coffee", "tea", "cheese", "tomatoes", "onions",
             "pasta", "orange juice", "olive oil", "bananas", "yoghurt", "carrots", "flour", "sugar", "chicken",
             "potatoes", "lemons", "honey", "salt", "cereal", "peanut butter", "garlic", "spinach", "grapes", "oats",
             "ham", "mushrooms", "cucumber", "jam", "beans", "pears", "sausages", "crisps", "biscuits", "soup")
TASKS = ("call the bank", "water the plants", "pay the rent", "take my medicine", "email the landlord",
         "book a haircut", "pick up the kids", "buy a birthday card", "call the dentist", "feed the cat",
         "take out the bins", "charge my phone", "send the report", "walk the dog", "phone my mother",
         "renew my passport", "check the oven", "pay the gas bill", "collect the parcel", "call the plumber",
         "book the train tickets", "water the garden", "pick up the dry cleaning", "text my sister",
         "clean the kitchen", "fill up the car", "visit grandma", "return the library books",
         "start the washing machine", "lock the back door", "order a pizza", "call the school", "pack my bag",
         "cook dinner", "go to the gym", "pay the phone bill", "check my email", "buy stamps", "meet Anna",
         "feed the fish")
TIMES = tuple(f"{h}{m} {p}" for p in ("am", "pm") for h in range(1, 13) for m in ("", ":15", ":30", ":45"))
OPENERS = ("Excuse me, ", "Sorry to bother you, ", "Quick question: ", "OK, ", "Hmm, ", "Hello again, ")
WRAPPED = ("order_status", "order_status_num", "cancel_order", "cancel_order_num", "return_item", "opening_hours",
           "delivery_cost", "payment", "set_reminder", "set_alarm", "add_to_list")  # requests, not chit-chat
MAIN_INTENTS = ("order_status", "cancel_order", "return_item", "opening_hours", "delivery_cost", "payment",
                "set_reminder", "set_alarm", "add_to_list")
SLOT_INTENTS = ("order_status", "cancel_order", "return_item", "set_reminder", "set_alarm", "add_to_list")


def split_values(values: tuple[str, ...], split: str) -> list[str]:
    """The values of one split: index 2 mod 5 for test, 4 mod 5 for valid, the other three fifths for train."""
    owner = {2: "test", 4: "valid"}
    return [v for i, v in enumerate(values) if owner.get(i % 5, "train") == split]


@dataclass
class Dialogue:
    """One chat: alternating user / assistant messages, and the intent of each assistant reply."""

    messages: list[dict]
    intents: list[str]

    def turns(self) -> list[tuple[list[dict], str, str]]:
        """(history before the reply, the reply, its intent) for every assistant turn."""
        out, k = [], 0
        for i, m in enumerate(self.messages):
            if m["role"] == "assistant":
                out.append((self.messages[:i], m["content"], self.intents[k]))
                k += 1
        return out


def made_up_words(text: str) -> list[str]:
    """The words a made-up detail is built from: every lower-case word of 3 to 10 letters in `text` (the course
    uses WikiText's train split), less the words of the valid and test splits' items and tasks."""
    held_out = {w for split in ("valid", "test") for pool in (PRODUCTS, GROCERIES, TASKS)
                for value in split_values(pool, split) for w in value.split()}
    words = sorted(set(re.findall(r"\b[a-z]{3,10}\b", text)) - held_out)
    if len(words) < 100:
        raise ValueError(f"only {len(words)} usable words in the text: made-up details need a real text "
                         "(e.g. gc.load_wikitext2('train'))")
    return words


class _Maker:
    def __init__(self, split: str, rng: random.Random, phrasings: str, made_up: float = 0.0,
                 words: Sequence[str] = ()):
        if split not in SPLITS or phrasings not in SPLITS:
            raise ValueError(f"split and phrasings must be one of {SPLITS}, got {split!r} and {phrasings!r}")
        if not 0.0 <= made_up <= 1.0:
            raise ValueError(f"made_up is a share of the details, between 0 and 1; got {made_up}")
        if made_up and split != "train":
            raise ValueError(f"made-up details are for training; the {split} split keeps its own real values")
        if made_up and not words:
            raise ValueError("made-up details need words to build them from: pass words=made_up_words(text)")
        self.split, self.phrasings, self.rng = split, phrasings, rng
        self.made_up, self.words = made_up, list(words)
        self.verbs = sorted({task.split()[0] for task in split_values(TASKS, split)})  # call, pay, water, ...
        self.entities = {"item_product": split_values(PRODUCTS, split),
                         "item_grocery": split_values(GROCERIES, split),
                         "task": split_values(TASKS, split), "time": split_values(TIMES, split)}

    def detail(self, kind: str) -> str:
        """A value of the split, or (with probability `made_up`) an invented item of 1-3 words or task of a
        verb and 1-3 words ("pay the harbour", "water my quiet songs"); times stay real."""
        rng = self.rng
        if kind == "time" or not self.made_up or rng.random() >= self.made_up:
            return rng.choice(self.entities[kind])
        if kind == "task":
            return (rng.choice(self.verbs) + " " + rng.choice(("the ", "my ", ""))
                    + " ".join(rng.choice(self.words) for _ in range(rng.choice((1, 2, 2, 3)))))
        return " ".join(rng.choice(self.words) for _ in range(rng.choice((1, 1, 2, 2, 3))))

    def user(self, kind: str, **slots) -> str:
        """A phrasing of the split, sometimes wrapped in an opener or typed in lower case (people do both)."""
        text = self.rng.choice(USER[kind][SPLITS.index(self.phrasings)]).format(**slots)
        if kind in WRAPPED and self.rng.random() < 0.3:
            text = self.rng.choice(OPENERS) + text[0].lower() + text[1:]
        if self.rng.random() < 0.15:
            text = text.lower()
        return text

    def number(self) -> str:
        while True:  # numbers divisible by 7 are the test split's, those 1 more the valid split's, the rest train's
            n = self.rng.randrange(10000, 100000)
            if {0: "test", 1: "valid"}.get(n % 7, "train") == self.split:
                return str(n)

    def exchange(self, intent: str) -> list[tuple[str, str, str]]:
        """(user text, reply, reply intent) for one request, which may take two exchanges."""
        rng = self.rng
        if intent in ("order_status", "cancel_order"):
            num = self.number()
            reply = REPLIES[intent].format(num=num)
            if rng.random() < 0.5:
                return [(self.user(intent + "_num", num=num), reply, intent)]
            return [(self.user(intent), REPLIES["ask_order_number"], "ask_order_number"),
                    (self.user("give_number", num=num), reply, intent)]
        slots = {"return_item": lambda: {"item": self.detail("item_product")},
                 "add_to_list": lambda: {"item": self.detail("item_grocery")},
                 "set_reminder": lambda: {"task": self.detail("task"), "time": self.detail("time")},
                 "set_alarm": lambda: {"time": self.detail("time")}}.get(intent, dict)()
        return [(self.user(intent, **slots), REPLIES[intent].format(**slots), intent)]

    def dialogue(self) -> Dialogue:
        rng = self.rng
        plan = ["greeting"] if rng.random() < 0.4 else []
        plan += ["small_talk"] if rng.random() < 0.2 else []
        plan += rng.sample(MAIN_INTENTS, 2 if rng.random() < 0.25 else 1)
        plan += ["goodbye"] if rng.random() < 0.4 else []
        messages, intents = [], []
        for intent in plan:
            for user_text, reply, reply_intent in self.exchange(intent):
                messages += [{"role": "user", "content": user_text}, {"role": "assistant", "content": reply}]
                intents.append(reply_intent)
        return Dialogue(messages, intents)


def make_dialogues(n: int, split: str = "train", seed: int = 0, phrasings: str | None = None,
                   made_up: float = 0.0, words: Sequence[str] = ()) -> list[Dialogue]:
    """`n` dialogues of the split: 1 or 2 requests, often with a greeting or small talk before and thanks after.

    The split decides the entity values (items, tasks, times, order numbers) and, unless `phrasings` says
    otherwise, the user phrasings: `make_dialogues(n, "test", phrasings="train")` gives new dialogues with
    held-out details in phrasings the train split uses. With `made_up` (train split only) that share of the
    items and tasks is invented from `words` (`made_up_words`). The same arguments always give the same
    dialogues."""
    phrasings = split if phrasings is None else phrasings
    name = f"{split}-{seed}" + ("" if phrasings == split else f"-{phrasings}") + (f"-made-up-{made_up}" if made_up else "")
    maker = _Maker(split, random.Random(name), phrasings, made_up, words)
    return [maker.dialogue() for _ in range(n)]


def _template_regex(template: str, values: dict[str, str], flags: int = 0) -> re.Pattern:
    """A template ("Order {num} is cancelled.") as a regex: its words literally, each {slot} as a group matching
    `values[slot]` (by default any text)."""
    return re.compile(re.sub(r"\\\{(\w+)\\\}", lambda m: f"({values.get(m.group(1), '.+?')})", re.escape(template)),
                      flags)


_PATTERNS = {intent: _template_regex(template, {"num": r"\d+"}) for intent, template in REPLIES.items()}


def reply_intent(text: str) -> str | None:
    """The intent whose reply template `text` follows (any slot values), or None if it follows none."""
    for intent, pattern in _PATTERNS.items():
        if pattern.fullmatch(text.strip()):
            return intent
    return None


def reply_slots(text: str, intent: str) -> tuple[str, ...] | None:
    """The slot values (order number, item, task, time) of a reply that follows `intent`'s template, else None."""
    match = _PATTERNS[intent].fullmatch(text.strip())
    return None if match is None else match.groups()


_USER_VALUES = {"num": r"\d+", "time": r"(?:1[0-2]|[1-9])(?::[0-5]\d)? [ap]m"}  # items and tasks: any text
_OPENER = re.compile("(?:" + "|".join(re.escape(o) for o in OPENERS) + ")?", re.IGNORECASE)
_PHRASINGS = [(template, _template_regex(template, _USER_VALUES, re.IGNORECASE))
              for kinds in USER.values() for split in kinds for template in split]


def user_phrasing(text: str) -> str | None:
    """The user phrasing (a template of `USER`, any split) that a user turn was written from, its opener and
    lower case undone: ``user_phrasing("ok, write jam on my shopping list.")`` is
    ``"Write {item} on my shopping list."``; None if the text follows no phrasing."""
    text = text.strip()
    for candidate in (text, _OPENER.sub("", text, count=1)):
        for template, pattern in _PHRASINGS:
            if pattern.fullmatch(candidate):
                return template
    return None
