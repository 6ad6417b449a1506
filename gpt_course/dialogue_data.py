"""A small chat data set for notebook 16: a shop's customer service plus a personal assistant's errands,
with greetings, small talk and thanks around them.

Everything is made from templates by seeded code; the shop (Brightwater, a household-goods shop) and its
rules are invented. A user says things in many ways; the assistant answers each intent with one fixed
template, so a reply can be checked word for word. The test split uses user phrasings and entity values
(items, tasks, times, order numbers) that the train split never contains, so a test dialogue is never a
copy of a training one: a model passes only by recognising the intent and copying the details.

    >>> train = make_dialogues(600, "train")
    >>> train[0].messages          # [{"role": "user", "content": ...}, {"role": "assistant", ...}, ...]
    >>> train[0].turns()           # [(history, reply, intent), ...] one per assistant turn
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

SPLITS = ("train", "test")

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

# --- what the user says: (train phrasings, test phrasings) per intent -----------------------------
USER: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "greeting": (("Hi!", "Hello there.", "Good morning!", "Hey, how are you?", "Hi, is anyone there?",
                  "Good evening.", "Hey!", "Hi there, how is it going?", "Morning!"),
                 ("Hello!", "Hey there, good afternoon.")),
    "small_talk": (("Who are you?", "Are you a robot?", "What is your name?", "What can you do?",
                    "Am I talking to a real person?", "Tell me about yourself.", "Who am I chatting with?"),
                   ("Are you a human?", "What sort of things can you help with?")),
    "goodbye": (("Thanks, bye!", "Thank you, that is all.", "Great, thanks a lot.", "Perfect, goodbye!",
                 "Cheers, have a good day.", "Thank you so much!", "OK, thanks. Bye.", "That helps, thank you."),
                ("Thanks for your help!", "That's all, thank you.")),
    "order_status": (("Where is my order?", "My parcel has not arrived yet.", "Can you check the status of my order?",
                      "I am still waiting for my package.", "Has my order shipped?", "When will my order arrive?",
                      "Can you track my parcel?"),
                     ("What happened to my order?", "Could you tell me where my delivery is?")),
    "order_status_num": (("Where is order {num}?", "Can you track order {num} for me?",
                          "What is the status of order {num}?", "Order {num} has not arrived yet."),
                         ("Any news on order {num}?", "Is order {num} on its way?")),
    "cancel_order": (("I want to cancel my order.", "Please cancel my order.", "Can I cancel an order?",
                      "I changed my mind, cancel my order please.", "I don't want my order any more.",
                      "Cancel my order, please."),
                     ("How do I cancel my order?", "I would like to cancel an order.")),
    "cancel_order_num": (("Please cancel order {num}.", "Cancel order {num}, please.",
                          "I want to cancel order {num}."),
                         ("I need order {num} cancelled.", "Could you cancel order {num}?")),
    "give_number": (("It is {num}.", "The number is {num}.", "{num}", "Sure, it's {num}."),
                    ("Order number {num}.", "Here it is: {num}")),
    "return_item": (("I want to return the {item}.", "How do I return my {item}?",
                     "The {item} is broken, can I send it back?", "Can I return my {item}?",
                     "The {item} I bought is too small."),
                    ("I'd like to send back the {item}.", "My {item} does not work, I want a refund.")),
    "opening_hours": (("When are you open?", "What are your opening hours?", "Are you open on Saturday?",
                       "What time do you close today?", "Is the shop open on Sunday?", "What time do you open?",
                       "Are you open tomorrow morning?"),
                      ("When does the store open?", "Until what time are you open?")),
    "delivery_cost": (("How much is delivery?", "Do you charge for shipping?", "What does shipping cost?",
                       "Is delivery free?", "How much do you charge for delivery?", "Is shipping free?"),
                      ("How much do you charge to deliver?", "What are the postage costs?")),
    "payment": (("Can I pay with PayPal?", "Which payment methods do you accept?", "Do you take credit cards?",
                 "Can I pay by bank transfer?", "What payment options are there?", "Can I pay by card?"),
                ("How can I pay?", "Do you accept debit cards?")),
    "set_reminder": (("Remind me to {task} at {time}.", "Please remind me at {time} to {task}.",
                      "Set a reminder to {task} at {time}.", "Can you remind me to {task} at {time}?"),
                     ("Don't let me forget to {task} at {time}.", "I need a reminder at {time} to {task}.")),
    "set_alarm": (("Wake me up at {time}.", "Set an alarm for {time}.", "Please set my alarm to {time}.",
                   "I need to get up at {time}.", "Set my alarm for {time}, please."),
                  ("Can you set an alarm at {time}?", "Alarm for {time}, please.")),
    "add_to_list": (("Add {item} to my shopping list.", "Put {item} on the shopping list.",
                     "Please add {item} to my list.", "We need {item}, add it to the list.",
                     "Add {item} to the list, please."),
                    ("Can you add {item} to the shopping list?", "Don't forget {item} on my shopping list.")),
}

# --- entities: every fifth value is kept for the test split (prime to the 4 minutes per hour of TIMES) ---
PRODUCTS = ("kettle", "toaster", "desk lamp", "blue jumper", "rain jacket", "coffee grinder", "bath towel",
            "wall clock", "garden chair", "phone case", "winter boots", "frying pan", "pillow", "backpack",
            "table lamp", "hair dryer", "yoga mat", "bread knife", "laundry basket", "reading glasses")
GROCERIES = ("milk", "eggs", "bread", "butter", "apples", "rice", "coffee", "tea", "cheese", "tomatoes", "onions",
             "pasta", "orange juice", "olive oil", "bananas", "yoghurt", "carrots", "flour", "sugar", "chicken")
TASKS = ("call the bank", "water the plants", "pay the rent", "take my medicine", "email the landlord",
         "book a haircut", "pick up the kids", "buy a birthday card", "call the dentist", "feed the cat",
         "take out the bins", "charge my phone", "send the report", "walk the dog", "phone my mother",
         "renew my passport")
TIMES = tuple(f"{h}{m} {p}" for p in ("am", "pm") for h in range(1, 13) for m in ("", ":15", ":30", ":45"))
OPENERS = ("Excuse me, ", "Sorry to bother you, ", "Quick question: ", "OK, ", "Hmm, ", "Hello again, ")
WRAPPED = ("order_status", "order_status_num", "cancel_order", "cancel_order_num", "return_item", "opening_hours",
           "delivery_cost", "payment", "set_reminder", "set_alarm", "add_to_list")  # requests, not chit-chat
MAIN_INTENTS = ("order_status", "cancel_order", "return_item", "opening_hours", "delivery_cost", "payment",
                "set_reminder", "set_alarm", "add_to_list")


def _held_out(values: tuple[str, ...], split: str) -> list[str]:
    return [v for i, v in enumerate(values) if (i % 5 == 2) == (split == "test")]


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


class _Maker:
    def __init__(self, split: str, rng: random.Random, phrasings: str):
        if split not in SPLITS or phrasings not in SPLITS:
            raise ValueError(f"split and phrasings must be one of {SPLITS}, got {split!r} and {phrasings!r}")
        self.split, self.phrasings, self.rng = split, phrasings, rng
        self.entities = {"item_product": _held_out(PRODUCTS, split), "item_grocery": _held_out(GROCERIES, split),
                         "task": _held_out(TASKS, split), "time": _held_out(TIMES, split)}

    def user(self, kind: str, **slots) -> str:
        """A phrasing of the split, sometimes wrapped in an opener or typed in lower case (people do both)."""
        train, test = USER[kind]
        text = self.rng.choice(test if self.phrasings == "test" else train).format(**slots)
        if kind in WRAPPED and self.rng.random() < 0.3:
            text = self.rng.choice(OPENERS) + text[0].lower() + text[1:]
        if self.rng.random() < 0.15:
            text = text.lower()
        return text

    def number(self) -> str:
        while True:  # numbers divisible by 4 are the test split's
            n = self.rng.randrange(10000, 100000)
            if (n % 4 == 0) == (self.split == "test"):
                return str(n)

    def exchange(self, intent: str) -> list[tuple[str, str, str]]:
        """(user text, reply, reply intent) for one request, which may take two exchanges."""
        rng, pick = self.rng, self.rng.choice
        if intent in ("order_status", "cancel_order"):
            num = self.number()
            reply = REPLIES[intent].format(num=num)
            if rng.random() < 0.5:
                return [(self.user(intent + "_num", num=num), reply, intent)]
            return [(self.user(intent), REPLIES["ask_order_number"], "ask_order_number"),
                    (self.user("give_number", num=num), reply, intent)]
        slots = {"return_item": lambda: {"item": pick(self.entities["item_product"])},
                 "add_to_list": lambda: {"item": pick(self.entities["item_grocery"])},
                 "set_reminder": lambda: {"task": pick(self.entities["task"]), "time": pick(self.entities["time"])},
                 "set_alarm": lambda: {"time": pick(self.entities["time"])}}.get(intent, dict)()
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


def make_dialogues(n: int, split: str = "train", seed: int = 0, phrasings: str | None = None) -> list[Dialogue]:
    """`n` dialogues of the split: 1 or 2 requests, often with a greeting or small talk before and thanks after.

    The split decides the entity values (items, tasks, times, order numbers) and, unless `phrasings` says
    otherwise, the user phrasings: `make_dialogues(n, "test", phrasings="train")` gives new dialogues with
    held-out details in phrasings the train split uses. The same arguments always give the same dialogues."""
    phrasings = split if phrasings is None else phrasings
    maker = _Maker(split, random.Random(f"{split}-{seed}" + ("" if phrasings == split else f"-{phrasings}")),
                   phrasings)
    return [maker.dialogue() for _ in range(n)]


_PATTERNS = {intent: re.compile(re.sub(r"\\\{(\w+)\\\}", lambda m: r"(\d+)" if m.group(1) == "num" else "(.+?)",
                                       re.escape(template)))
             for intent, template in REPLIES.items()}


def reply_intent(text: str) -> str | None:
    """The intent whose reply template `text` follows (any slot values), or None if it follows none."""
    for intent, pattern in _PATTERNS.items():
        if pattern.fullmatch(text.strip()):
            return intent
    return None
