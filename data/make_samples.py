"""Regenerate the embedded offline samples that ship inside `gpt_course/`.

    python data/make_samples.py            # rewrites gpt_course/{wikitext,sms,verse_drama}_sample.txt
    python data/make_samples.py --out DIR  # writes them into DIR instead (the tests compare the bytes)

Every sentence is composed by this script from its own templates and word lists, with a fixed seed,
about an invented world (towns, rivers, ships, people, birds, storms...): no text is copied from
WikiText, Wikipedia or any other source. The WikiText-style sample uses the raw WikiText-2 layout
(`` = Title = ``, `` = = Section = = ``, one paragraph per line, `` @,@ `` / `` @.@ `` / `` @-@ ``).
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

SEED = 20240611
OUT_DIR = Path(__file__).resolve().parent.parent / "gpt_course"

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


# ------------------------------------------------------------------------------------------------
# WikiText formatting
# ------------------------------------------------------------------------------------------------
def wikify(s: str) -> str:
    """Write a plain English sentence the way WikiText-2 raw stores it (tokens split by spaces)."""
    s = re.sub(r"(\d),(?=\d{3})", r"\1 @,@ ", s)  # 1,200 -> 1 @,@ 200
    s = re.sub(r"(\d)\.(?=\d)", r"\1 @.@ ", s)  # 3.5 -> 3 @.@ 5
    s = re.sub(r"(?<=\w)-(?=\w)", " @-@ ", s)  # north-east -> north @-@ east
    s = re.sub(r"(\w)'s\b", r"\1 's", s)  # the river's -> the river 's
    s = re.sub(r"(\w)s' ", r"\1s ' ", s)  # the sailors' -> the sailors '
    s = re.sub(r"(?<!@)([,;:()\"%?!])(?!@)", r" \1 ", s)
    s = re.sub(r"([$£])(?=\d)", r"\1 ", s)
    s = re.sub(r"\.(\s|$)", r" .\1", s)  # sentence-final full stops
    return re.sub(r" {2,}", " ", s).strip()


def para(sentences: list[str]) -> str:
    return " " + wikify(" ".join(s[0].upper() + s[1:] for s in sentences if s)) + " \n"


def title_case(s: str) -> str:
    small = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "the", "to"}
    words = s.split()
    return " ".join(x if (i and x in small) else x[0].upper() + x[1:] for i, x in enumerate(words))


def article(title: str, intro: list[list[str]], sections: list[tuple[str, list[list[str]]]]) -> str:
    """An article in WikiText raw layout; a section heading starting with '=' is a sub-section."""
    out = [f" = {wikify(title)} = \n", " \n"]
    out += [para(p) for p in intro] + [" \n"]
    for heading, paras in sections:
        if heading.startswith("="):
            out.append(f" = = = {wikify(heading[1:])} = = = \n")
        else:
            out.append(f" = = {wikify(heading)} = = \n")
        out.append(" \n")
        if paras:  # a section made only of sub-sections has no text of its own
            out += [para(p) for p in paras] + [" \n"]
    out.append(" \n")
    return "".join(out)


# ------------------------------------------------------------------------------------------------
# The invented world
# ------------------------------------------------------------------------------------------------
ONSETS = ["Ash", "Bram", "Cal", "Dun", "Eld", "Fen", "Gar", "Hol", "Kel", "Lor", "Mar", "Nor", "Orr",
          "Pel", "Ros", "Sel", "Tam", "Var", "Wen", "Yar", "Brae", "Cor", "Dra", "Eskel", "Fal", "Glen",
          "Hart", "Lin", "Mor", "Nes", "Pen", "Rav", "Stan", "Thor", "Wick", "Alder", "Birch", "Cress",
          "Duns", "Ember", "Frith", "Gull", "Heth", "Ivel", "Jard", "Kirr", "Lark", "Mallow", "Nettle",
          "Oak", "Quarr", "Rook", "Sorrel", "Teal", "Umber", "Vell", "Wyn", "Yew"]
CODAS = ["ford", "mere", "wick", "by", "stead", "holm", "ton", "dale", "brook", "field", "haven",
         "moor", "gate", "ley", "worth", "combe", "stow", "minster", "well", "bridge", "thorpe", "cliff",
         "hurst", "shaw", "wold", "mouth", "ness", "burn"]
REGIONS = ["Veldmark", "Carrow", "Istrenne", "Tarnland", "Ardencia", "Kessary", "Lumenor", "Sovrin",
           "Halvia", "Osterwald"]
REGION_ADJ = {"Veldmark": "Veldish", "Carrow": "Carrovian", "Istrenne": "Istrennic",
              "Tarnland": "Tarnish", "Ardencia": "Ardencian", "Kessary": "Kessarian",
              "Lumenor": "Lumenorian", "Sovrin": "Sovrinese", "Halvia": "Halvian",
              "Osterwald": "Osterwaldian"}
FEMALE = {"Maren", "Ilse", "Agathe", "Hester", "Linnea", "Rosalind", "Greta", "Sabine", "Clara", "Ingrid",
          "Beatrix", "Odile", "Wilhelmina", "Mirela", "Tamsin", "Petra", "Verena", "Lotte", "Noemi"}
FIRST = ["Elias", "Maren", "Tobias", "Ilse", "Corin", "Agathe", "Bertram", "Hester", "Osric", "Linnea",
         "Piers", "Rosalind", "Anselm", "Greta", "Leopold", "Sabine", "Ewan", "Clara", "Matthias",
         "Ingrid", "Felix", "Beatrix", "Hugo", "Odile", "Casimir", "Wilhelmina", "Jory", "Mirela",
         "Tamsin", "Aurel", "Petra", "Silas", "Verena", "Edwin", "Lotte", "Ambrose", "Noemi", "Rufus"]
SURNAMES = ["Halloway", "Vance", "Marlow", "Kestrel", "Thorne", "Abernath", "Quillon", "Rudd",
            "Sallow", "Whitcombe", "Lindqvar", "Pemberly", "Ostrander", "Carrick", "Dunmore", "Feld",
            "Garrow", "Hask", "Imrie", "Jessop", "Brannock", "Clovis", "Dray", "Everild", "Fairweather",
            "Gessner", "Holt", "Iversen", "Kettering", "Loxley", "Merriden", "Nordahl", "Orchard",
            "Penhallow", "Rainsford", "Strand", "Tulliver", "Umberfield", "Wexley"]
FIELDS = {
    "botany": ("botanist", ["the pollination of marsh orchids", "the seed banks of upland meadows",
                            "the spread of lichens on coastal rock", "the growth rings of alpine willows"]),
    "astronomy": ("astronomer", ["the orbits of short-period comets", "variable stars in the southern sky",
                                 "the dust lanes of nearby galaxies", "the rotation of the outer planets"]),
    "chemistry": ("chemist", ["the salts of rare earth metals", "dyes made from coal tar",
                              "the fermentation of grain", "the corrosion of ship hulls in salt water"]),
    "geology": ("geologist", ["the folded limestone of the northern ranges", "the age of river terraces",
                              "volcanic ash layers in lake beds", "the movement of glaciers"]),
    "mathematics": ("mathematician", ["prime numbers in arithmetic progressions", "the geometry of curved surfaces",
                                      "the theory of probability", "the stability of rotating fluids"]),
    "medicine": ("physician", ["fevers carried by river water", "the treatment of burns",
                               "the nutrition of children in mill towns", "the spread of infection in hospitals"]),
    "zoology": ("zoologist", ["the migration of eels", "the song of marsh birds",
                              "the social life of bees", "the breeding of freshwater crayfish"]),
}
BIRD_ADJ = ["grey", "rufous", "spotted", "pale", "crested", "black-throated", "olive", "lesser", "greater",
            "marsh", "mountain", "dusky", "golden-winged", "white-browed", "long-tailed", "sooty"]
BIRD_NOUN = ["warbler", "finch", "plover", "shrike", "wren", "thrush", "pipit", "heron", "tern",
             "kingfisher", "lark", "bunting", "flycatcher", "sandpiper", "owl", "swift"]
BIRD_GENUS = ["Calidris", "Orthavis", "Pellornis", "Sylvora", "Merulina", "Ardella", "Ptenora", "Larivox"]
BIRD_EPITHET = ["pallida", "montana", "vellensis", "rufa", "minor", "maculata", "borealis", "sordida",
                "aurea", "littoralis", "caudata", "nigra"]
FOODS = ["insects", "beetles", "spiders", "seeds", "small fish", "snails", "berries", "worms",
         "caterpillars", "flies"]
HABITATS = ["reed beds", "open moorland", "coastal marshes", "mixed woodland", "river valleys",
            "rocky hillsides", "farmland hedgerows", "mountain forests", "sand dunes", "lake shores"]
FISH = ["trout", "grayling", "pike", "perch", "salmon", "eel", "roach", "minnow", "bream"]
INDUSTRIES = ["wool", "timber", "fishing", "brewing", "paper", "pottery", "salt", "glass", "tanning",
              "shipbuilding", "quarrying", "clockmaking", "lace", "rope"]
CROPS = ["barley", "oats", "apples", "flax", "hops", "potatoes", "rye", "pears"]
EVENTS = ["a boat race on the river", "a lantern procession", "a market of local crafts", "a choir competition",
          "a sheepdog trial", "a bread baking contest", "an evening of fireworks", "a parade of horses",
          "a chess tournament", "a storytelling night", "a kite flying contest", "a rowing regatta"]
SHIP_PREFIX = ["Star", "Queen", "Spirit", "Pride", "Maid", "Lady", "Dawn", "Swift", "Heron", "Crown"]
SHIP_TYPES = ["cargo steamer", "passenger ferry", "fishing trawler", "survey ship", "lighthouse tender",
              "coastal schooner", "paddle steamer", "icebreaker"]
BOOK_WORDS = ["Glass", "Orchard", "Winter", "Harbour", "Lantern", "Silent", "Salt", "River", "Iron",
              "Summer", "Hollow", "Crow", "Garden", "Bell", "Paper", "Tide", "Ember", "Northern"]
GENRES = ["novel", "detective novel", "historical novel", "adventure novel", "novel for children",
          "family saga"]
THEMES = ["memory and loss", "the price of ambition", "friendship across class", "the pull of the sea",
          "life in a small town", "the coming of the railway", "a family secret", "the end of a war"]
ROCKS = ["granite", "sandstone", "limestone", "basalt", "slate", "gneiss", "schist", "quartzite"]
TREES = ["pine", "birch", "beech", "larch", "oak", "spruce", "alder", "rowan"]
COLOURS = ["blue and white", "red and black", "green and gold", "amber and black", "white and navy",
           "claret and sky blue", "yellow and green"]


class World:
    """Named places and people shared by all articles, so that facts link up across the sample."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        names = {a + b for a in ONSETS for b in CODAS}
        pool = sorted(names)
        rng.shuffle(pool)
        self.town_names = pool[:90]
        self.river_names = [n for n in ONSETS]
        rng.shuffle(self.river_names)
        self.used_people: set[str] = set()
        self.towns = [{"name": t, "region": rng.choice(REGIONS)} for t in self.town_names]
        self.rivers = []
        for r in self.river_names[:30]:
            towns = rng.sample(self.towns, 3)
            self.rivers.append({"name": f"River {r}", "towns": towns})
            for t in towns:
                t.setdefault("river", f"River {r}")
        for t in self.towns:
            t.setdefault("river", rng.choice(self.rivers)["name"])

    def person(self) -> str:
        while True:
            p = f"{self.rng.choice(FIRST)} {self.rng.choice(SURNAMES)}"
            if p not in self.used_people:
                self.used_people.add(p)
                return p

    def town(self) -> dict:
        return self.rng.choice(self.towns)


def num(n: int) -> str:
    return f"{n:,}"


def km_mi(km: float) -> str:
    return f"{km:,.0f} kilometres ({km * 0.621371:,.0f} mi)" if km >= 10 else \
        f"{km:.1f} kilometres ({km * 0.621371:.1f} mi)"


def m_ft(m: float) -> str:
    return f"{m:,.0f} metres ({m * 3.28084:,.0f} ft)"


def date(rng: random.Random, year: int) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def century(year: int) -> str:
    return f"{ordinal(year // 100 + 1)} century"


def maybe(rng: random.Random, p: float, s: str) -> str:
    return s if rng.random() < p else ""


# ------------------------------------------------------------------------------------------------
# Article kinds
# ------------------------------------------------------------------------------------------------
def town_article(w: World, t: dict) -> str:
    r = w.rng
    name, region, river = t["name"], t["region"], t["river"]
    adj = REGION_ADJ[region]
    pop = r.randint(800, 60000)
    founded = r.randint(900, 1600)
    elev = r.randint(5, 900)
    other = w.town()
    dist = r.uniform(8, 140)
    ind1, ind2 = r.sample(INDUSTRIES, 2)
    crop = r.choice(CROPS)
    founder = w.person()
    mayor = w.person()
    landmark = r.choice(["the Old Market Hall", "St Aldric's Church", "the Weavers' Bridge",
                         "the Corn Exchange", "the Tide Mill", "the Clock House", "the Stone Granary"])
    intro = [[
        r.choice([f"{name} is a market town in the {adj} region of {region}, on the banks of the {river}.",
                  f"{name} is a small town in {region}, standing where the {river} leaves the hills.",
                  f"{name} is a town and former trading post on the {river} in northern {region}."]),
        f"At the census of {r.randint(1995, 2021)} it had a population of {num(pop)}.",
        r.choice([f"The town grew up around the {ind1} trade in the {century(founded + 200)}, and {ind2} later became its main industry.",
                  f"For most of its history its wealth came from {ind1}, and later from {ind2}.",
                  f"It is known for its {ind1} and for {landmark}, which dates from the {century(founded + 150)}."]),
        maybe(r, 0.6, f"{name} lies {km_mi(dist)} from {other['name']}, the nearest large town."),
    ]]
    history = [[
        r.choice([f"The first record of a settlement at {name} dates from {founded}, when a ford across the {river} is mentioned in a charter.",
                  f"A village at {name} is first recorded in {founded}, as a group of farms around a wooden chapel.",
                  f"According to local tradition the town was founded in {founded} by a group of families from {other['name']}."]),
        r.choice([f"In {founded + r.randint(60, 200)} it was granted the right to hold a weekly market, which helped it grow quickly.",
                  f"A stone bridge was built in {founded + r.randint(80, 250)}, and the town became a stopping place for traders.",
                  f"By {founded + r.randint(100, 300)} it had a mill, a tannery and a small harbour for river boats."]),
        maybe(r, 0.7, r.choice([
            f"A great fire in {founded + r.randint(250, 400)} destroyed most of the timber houses near the river, and the centre was rebuilt in stone.",
            f"The town suffered badly from floods in {founded + r.randint(250, 450)}, when the {river} rose more than {r.randint(2, 5)} metres in a single night.",
            f"During the {century(founded + 300)} the population fell by almost half after a series of poor harvests."])),
    ], [
        r.choice([f"The railway reached {name} in {r.randint(1840, 1900)}, linking it to {other['name']} and the coast.",
                  f"The arrival of the railway in {r.randint(1840, 1900)} brought new industry, and the {ind2} works opened soon afterwards.",
                  f"In the {century(r.randint(1800, 1899))} the town was known across {region} for its {ind2}."]),
        maybe(r, 0.6, f"{founder} opened the first school in the town in {r.randint(1780, 1880)}."),
        r.choice(["The last mill closed in the 1970s, and many of its buildings have since been turned into flats.",
                  "The town centre was declared a conservation area in the 1980s.",
                  "After the decline of its traditional industries, tourism became an important source of income."]),
    ]]
    geography = [[
        f"{name} lies at an elevation of about {m_ft(elev)}.",
        r.choice([f"The {river} flows through the town from north to south, and is crossed by three bridges.",
                  f"The old town stands on a low hill on the east bank of the {river}.",
                  f"Most of the town is built on the flat land between the {river} and a line of low hills."]),
        r.choice([f"The surrounding countryside is mostly farmland, where {crop} and {r.choice(CROPS)} are grown.",
                  f"To the west are areas of {r.choice(TREES)} forest and open moorland.",
                  f"The land around the town is low and wet, and much of it was drained in the {century(founded + 400)}."]),
        r.choice([f"The climate is mild, with an average July temperature of {r.randint(15, 22)} °C and about {r.randint(600, 1400)} mm of rain a year.",
                  f"Winters are cold, and snow lies on the hills for {r.randint(20, 70)} days in an average year.",
                  "Fog is common in autumn, when cold air collects in the valley."]),
    ]]
    economy = [[
        r.choice([f"The largest employer is a {ind2} company founded in {r.randint(1850, 1960)}, which has about {num(r.randint(120, 2400))} workers.",
                  f"Today the economy depends on small businesses, farming and tourism, although some {ind1} is still produced.",
                  f"A weekly market is still held in the main square every {r.choice(['Tuesday', 'Thursday', 'Saturday'])}."]),
        maybe(r, 0.7, f"{landmark} is the most visited building in the town, with around {num(r.randint(8, 90) * 1000)} visitors a year."),
        maybe(r, 0.5, f"The current mayor, {mayor}, was elected in {r.randint(2005, 2022)}."),
    ]]
    culture = [[
        r.choice([f"Every {r.choice(MONTHS)} the town holds a festival with {r.choice(EVENTS)} and {r.choice(EVENTS)}.",
                  f"The town museum, housed in a former {ind1} warehouse, tells the story of the local {ind1} industry.",
                  f"{name} has a brass band, founded in {r.randint(1860, 1930)}, which plays in the square on summer evenings."]),
        r.choice([f"The local football club, {name} Rovers, plays at a ground beside the river.",
                  f"A long-distance footpath follows the {river} through the town.",
                  f"The writer {w.person()} lived in the town for many years and described it in several books."]),
    ]]
    sections = [("History", history), ("Geography", geography), ("Economy", economy), ("Culture", culture)]
    return article(name, intro, sections)


def river_article(w: World, rv: dict) -> str:
    r = w.rng
    name = rv["name"]
    towns = rv["towns"]
    region = towns[0]["region"]
    length = r.uniform(25, 420)
    src = r.randint(300, 1900)
    flow = r.uniform(2, 240)
    trib1, trib2 = r.sample([x for x in w.river_names[30:]], 2)
    fish1, fish2 = r.sample(FISH, 2)
    sea = r.choice(["the Gannet Sea", "the Bay of Orrin", "the Northern Channel", "Lake Vessen",
                    "the Saltway Estuary", "the Grey Sound"])
    intro = [[
        f"The {name} is a river in {region}. It is {km_mi(length)} long and flows into {sea}.",
        r.choice([f"Its largest tributaries are the {trib1} and the {trib2}.",
                  f"It is joined by the {trib1} at {towns[1]['name']} and by the {trib2} further downstream.",
                  f"Along its course it receives many small streams, of which the {trib1} is the longest."]),
        r.choice([f"The towns of {towns[0]['name']}, {towns[1]['name']} and {towns[2]['name']} stand on its banks.",
                  f"{towns[2]['name']} is the largest town on the river."]),
    ]]
    course = [[
        r.choice([f"The river rises on the slopes of the {r.choice(ONSETS)} Hills at a height of {m_ft(src)}.",
                  f"Its source is a small lake in a {r.choice(ROCKS)} basin, {m_ft(src)} above sea level.",
                  f"The {name} begins as several springs in a wet upland bog at about {m_ft(src)}."]),
        r.choice([f"For the first few kilometres it runs through a narrow, steep valley with many small waterfalls.",
                  f"It first flows east across open moorland, then turns south into a wooded gorge.",
                  f"In its upper course the river is fast and shallow, and its bed is covered with large stones."]),
        f"It then passes {towns[0]['name']} and {towns[1]['name']}, where the valley becomes wide and flat.",
        r.choice([f"Below {towns[2]['name']} the river is tidal, and it reaches the sea through a broad estuary.",
                  f"After {towns[2]['name']} it meanders across a plain of farmland before reaching {sea}.",
                  f"Its lower course was straightened in the {ordinal(r.randint(18, 19))} century to reduce flooding."]),
    ]]
    hydrology = [[
        f"The average flow at {towns[2]['name']} is {flow:.1f} cubic metres per second.",
        r.choice([f"Flow is highest in {r.choice(['March', 'April', 'November', 'December'])}, when rain and melting snow raise the water level.",
                  f"In dry summers the upper river can almost stop flowing.",
                  f"The river floods most years, and the worst recorded flood was in {r.randint(1850, 2010)}."]),
        maybe(r, 0.6, f"A dam built in {r.randint(1920, 1975)} above {towns[0]['name']} forms a reservoir that supplies drinking water to {num(r.randint(20, 400) * 1000)} people."),
    ]]
    ecology = [[
        r.choice([f"The {name} is known for its {fish1}, and fishing is popular along most of its length.",
                  f"The river supports populations of {fish1} and {fish2}, and otters have returned to its lower reaches.",
                  f"Water quality has improved since the 1990s, and {fish1} can again be found as far upstream as {towns[1]['name']}."]),
        r.choice([f"The wet meadows along the valley are an important breeding ground for waders.",
                  f"Its banks are lined with {r.choice(TREES)} and willow trees.",
                  f"Part of the estuary is a nature reserve, where thousands of geese spend the winter."]),
    ]]
    history = [[
        r.choice([f"The river was an important trade route, and boats carried {r.choice(INDUSTRIES)} and grain down to the coast.",
                  f"A canal joining the {name} to the {trib1} was opened in {r.randint(1760, 1840)}, but it closed to traffic a century later.",
                  f"Many water mills were built along the river; at the height of the industry there were more than {r.randint(20, 80)} of them."]),
        maybe(r, 0.6, f"The engineer {w.person()} surveyed the river in {r.randint(1780, 1880)} and proposed a series of locks."),
    ]]
    return article(name, intro, [("Course", course), ("Hydrology", hydrology), ("Ecology", ecology),
                                 ("History", history)])


def ship_article(w: World) -> str:
    r = w.rng
    port = w.town()
    name = f"{port['name']} {r.choice(SHIP_PREFIX)}"
    kind = r.choice(SHIP_TYPES)
    year = r.randint(1860, 1975)
    length = r.uniform(28, 140)
    tons = r.randint(180, 9000)
    crew = r.randint(8, 160)
    knots = r.uniform(8, 24)
    builder = f"the {w.town()['name']} Shipyard"
    captain = w.person()
    fate_year = year + r.randint(12, 55)
    intro = [[
        f"{name} was a {kind} built in {year} for the {REGION_ADJ[port['region']]} coastal trade.",
        r.choice([f"She served the port of {port['name']} for most of her career.",
                  f"She was one of the fastest ships of her type on the coast of {port['region']}.",
                  f"She is remembered for a rescue at sea during a storm in {year + r.randint(2, 10)}."]),
    ]]
    design = [[
        f"{name} was built by {builder} and launched on {date(r, year)}.",
        f"She was {length:.1f} metres ({length * 3.28084:.0f} ft) long, with a gross tonnage of {num(tons)}.",
        r.choice([f"Her engines gave a top speed of {knots:.1f} knots ({knots * 1.852:.1f} km/h).",
                  f"She was driven by a single screw and could reach {knots:.1f} knots ({knots * 1.852:.1f} km/h).",
                  f"She carried a crew of {crew}, and had cabins for {r.randint(12, 300)} passengers."]),
        maybe(r, 0.5, f"Her hull was strengthened for work in ice."),
    ]]
    service = [[
        r.choice([f"She entered service in {year + 1} on the route between {port['name']} and {w.town()['name']}.",
                  f"Her first voyage, in {year + 1}, took her along the coast to {w.town()['name']} with a cargo of {r.choice(INDUSTRIES)}.",
                  f"For her first years she carried mail and passengers between the islands and {port['name']}."]),
        r.choice([f"In {year + r.randint(3, 12)} she ran aground in fog near {w.town()['name']}, but was refloated two days later.",
                  f"During a storm in {year + r.randint(3, 12)} her crew rescued {r.randint(6, 40)} sailors from a sinking schooner.",
                  f"In {year + r.randint(3, 12)} she was lengthened by {r.randint(4, 12)} metres to carry more cargo."]),
        f"Her best-known master was {captain}, who commanded her for {r.randint(5, 20)} years.",
    ]]
    fate = [[
        r.choice([f"She was sold in {fate_year} and broken up for scrap the following year.",
                  f"She sank after a collision in {fate_year}; all of her crew were saved.",
                  f"She was withdrawn in {fate_year} and is now preserved as a museum ship at {port['name']}."]),
        maybe(r, 0.5, f"A model of the ship can be seen in the maritime museum of {port['name']}."),
    ]]
    return article(name, intro, [("Design and construction", design), ("Service history", service),
                                 ("Fate", fate)])


def scientist_article(w: World) -> str:
    r = w.rng
    name = w.person()
    surname = name.split()[-1]
    pron = "her" if name.split()[0] in FEMALE else "his"
    field = r.choice(sorted(FIELDS))
    role, topics = FIELDS[field]
    topic = r.choice(topics)
    born = r.randint(1760, 1940)
    died = born + r.randint(48, 92)
    home = w.town()
    uni_town = w.town()
    univ = f"the University of {uni_town['name']}"
    mentor = w.person()
    book = title_case(f"{r.choice(['On', 'Notes on', 'A Study of', 'Observations on'])} {topic}")
    intro = [[
        f"{name} ({born} – {died}) was a {REGION_ADJ[home['region']]} {role} known for work on {topic}.",
        r.choice([f"{surname} spent most of {pron} career at {univ}.",
                  f"{surname} was one of the first scientists in {home['region']} to use careful field measurements.",
                  f"{surname}'s book {book} was used as a textbook for many years."]),
    ]]
    early = [[
        f"{surname} was born on {date(r, born)} in {home['name']}, {home['region']}.",
        r.choice([f"The family ran a small {r.choice(INDUSTRIES)} business, and money was often short.",
                  f"Both parents were teachers, and the house was full of books.",
                  f"As a child {surname} collected stones, plants and insects from the banks of the {home['river']}."]),
        f"{surname} studied {field} at {univ} under {mentor}, graduating in {born + r.randint(20, 25)}.",
    ]]
    career = [[
        r.choice([f"After graduating, {surname} worked for {r.randint(2, 9)} years as a junior researcher at the city observatory and museum.",
                  f"In {born + r.randint(26, 34)} {surname} was appointed lecturer at {univ}, and became professor {r.randint(6, 14)} years later.",
                  f"{surname} first worked as a schoolteacher in {w.town()['name']}, carrying out research in the evenings."]),
        r.choice([f"{surname}'s most important paper, published in {born + r.randint(30, 45)}, showed that earlier measurements of {topic} had been wrong.",
                  f"Over {r.randint(10, 30)} years {surname} collected more than {num(r.randint(2, 40) * 1000)} specimens and records.",
                  f"An expedition to the {r.choice(ONSETS)} Mountains in {born + r.randint(28, 45)} provided much of the data for {surname}'s later work."]),
        f"The results were summarised in {book}, published in {born + r.randint(40, 55)}.",
    ]]
    later = [[
        r.choice([f"{surname} retired in {died - r.randint(3, 20)} and returned to {home['name']}.",
                  f"In later life {surname} wrote popular books about science for young readers.",
                  f"{surname} remained active in research until a few months before dying in {died}."]),
        r.choice([f"A crater on the Moon and a species of {r.choice(BIRD_NOUN)} are named after {surname}.",
                  f"{univ[0].upper() + univ[1:]} awards the {surname} Medal each year to a young researcher.",
                  f"A street in {home['name']} and a school in {uni_town['name']} carry {surname}'s name."]),
    ]]
    return article(name, intro, [("Early life", early), ("Career", career), ("Later life and legacy", later)])


def bird_article(w: World) -> str:
    r = w.rng
    adj, noun = r.choice(BIRD_ADJ), r.choice(BIRD_NOUN)
    common = f"{adj} {noun}"
    genus, epithet = r.choice(BIRD_GENUS), r.choice(BIRD_EPITHET)
    length = r.randint(9, 70)
    weight = max(6, int(0.01 * length ** 3 * r.uniform(0.7, 1.3)))
    wingspan = int(length * r.uniform(1.4, 2.1))
    habitat1, habitat2 = r.sample(HABITATS, 2)
    food1, food2 = r.sample(FOODS, 2)
    regions = r.sample(REGIONS, 3)
    describer = w.person()
    year = r.randint(1780, 1910)
    clutch = r.randint(2, 7)
    status = r.choice(["least concern", "near threatened", "vulnerable", "endangered"])
    intro = [[
        f"The {common} ({genus} {epithet}) is a species of {noun} found in {regions[0]}, {regions[1]} and {regions[2]}.",
        f"It lives in {habitat1} and {habitat2}, and feeds mainly on {food1}.",
        r.choice([f"Its population is stable, and it is listed as a species of {status}.",
                  f"It is listed as {status}, mainly because of the loss of {habitat1}.",
                  f"It has been listed as {status} since {r.randint(1990, 2020)}."]),
    ]]
    taxonomy = [[
        f"The {common} was first described by {describer} in {year}.",
        r.choice([f"The name {epithet} comes from a Latin word describing its colour.",
                  f"It was once placed in a different genus, but was moved to {genus} after studies of its song and anatomy.",
                  f"Two subspecies are recognised, which differ slightly in size and in the colour of the back."]),
    ]]
    description = [[
        f"The adult is {length} cm ({length / 2.54:.1f} in) long, with a wingspan of {wingspan} cm, and weighs about {weight} g.",
        r.choice([f"The upperparts are {r.choice(['brown', 'grey', 'olive green', 'dark brown'])} and the underparts are {r.choice(['white', 'pale buff', 'cream', 'light grey'])}.",
                  f"Males and females look alike, but young birds are duller and have streaked breasts.",
                  f"The male has a bright patch on the throat, which it shows during courtship."]),
        r.choice([f"Its song is a short, fast series of clear notes, often given from a high perch.",
                  f"The call is a sharp, dry ticking sound.",
                  f"It is a quiet bird, and is more often seen than heard."]),
    ]]
    behaviour = [[
        r.choice([f"The {common} feeds on {food1} and {food2}, which it takes from the ground or from low plants.",
                  f"It catches {food1} in flight, and in winter also eats {food2}.",
                  f"Its diet changes with the seasons: {food1} in summer and {food2} in autumn and winter."]),
    ], [
        f"The breeding season lasts from {r.choice(MONTHS[2:5])} to {r.choice(MONTHS[5:8])}.",
        r.choice([f"The nest is a neat cup of grass and moss, hidden low in thick vegetation.",
                  f"It nests in holes in trees or banks, and sometimes uses old nests of other birds.",
                  f"The nest is a shallow scrape on the ground, lined with a few small stones."]),
        f"The female lays {clutch} eggs, which hatch after about {r.randint(11, 30)} days.",
    ]]
    status_p = [[
        r.choice([f"The total population is estimated at {num(r.randint(2, 900) * 1000)} pairs.",
                  f"Numbers fell sharply in the {r.choice(['1960s', '1970s', '1980s'])} but have partly recovered.",
                  f"It is common in suitable habitat, but has disappeared from parts of {regions[1]}."]),
        r.choice([f"The main threats are the drainage of {habitat1} and the use of pesticides.",
                  f"It is protected by law in {regions[0]}.",
                  f"Conservation work has focused on restoring {habitat2}."]),
    ]]
    sections = [("Taxonomy", taxonomy), ("Description", description), ("Behaviour", []),
                ("=Diet", behaviour[:1]), ("=Breeding", behaviour[1:]), ("Status", status_p)]
    return article(common[0].upper() + common[1:], intro, sections)


def festival_article(w: World) -> str:
    r = w.rng
    t = w.town()
    thing = r.choice(["Lantern", "Harvest", "Kite", "Boat", "Music", "Bread", "Winter Light", "Apple",
                      "Folk", "Book", "River"])
    name = f"{t['name']} {thing} Festival"
    first = r.randint(1870, 2005)
    month = r.choice(MONTHS)
    days = r.randint(2, 9)
    founder = w.person()
    visitors = r.randint(3, 150) * 1000
    e1, e2, e3 = r.sample(EVENTS, 3)
    intro = [[
        f"The {name} is an annual festival held in {t['name']}, {t['region']}, every {month}.",
        f"It lasts {days} days and includes {e1}, {e2} and {e3}.",
        f"In recent years it has attracted about {num(visitors)} visitors.",
    ]]
    origins = [[
        r.choice([f"The festival was started in {first} by {founder}, a local teacher, to raise money for the town hospital.",
                  f"It grew out of an older market fair and was first held in its present form in {first}.",
                  f"The first festival, in {first}, was a single evening of music organised by {founder}."]),
        r.choice([f"It was not held during the war years, and was revived in {max(first + 5, 1946)}.",
                  f"It was small at first, with only a few hundred people attending.",
                  f"In its early years it took place on the frozen {t['river']}."]),
    ]]
    events = [[
        r.choice([f"The main event is {e1}, which takes place on the last evening.",
                  f"The festival opens with {e2} through the old town.",
                  f"Each day has a theme, and local schools prepare performances for the opening day."]),
        f"Other events include {e3} and concerts in the main square.",
        maybe(r, 0.6, f"Since {first + r.randint(10, 40)} a prize has been awarded for the best {r.choice(['lantern', 'song', 'story', 'costume', 'loaf', 'kite'])}."),
    ]]
    reception = [[
        r.choice([f"The festival is one of the largest events of its kind in {t['region']}.",
                  f"Local businesses estimate that it brings several million in income to the town each year.",
                  f"Some residents have complained about noise and crowds, and the number of evening events was reduced in {r.randint(2005, 2022)}."]),
    ]]
    return article(name, intro, [("Origins", origins), ("Events", events), ("Reception", reception)])


def storm_article(w: World) -> str:
    r = w.rng
    first = w.person().split()[0]
    year = r.randint(1950, 2020)
    kind = r.choice(["Tropical Storm", "Hurricane", "Cyclone", "Typhoon"])
    title = f"{kind} {first} ({year})"
    winds = r.randint(65, 260)
    pressure = r.randint(905, 1002)
    landfall = w.town()
    deaths = r.randint(0, 140)
    damage = r.uniform(0.5, 900)
    start_month = r.choice(["June", "July", "August", "September", "October"])
    day = r.randint(1, 20)
    intro = [[
        f"{kind} {first} was a {r.choice(['short-lived', 'long-lived', 'slow-moving', 'powerful', 'destructive'])} storm that struck {landfall['region']} in {start_month} {year}.",
        f"It reached peak winds of {winds} km/h ({winds * 0.621371:.0f} mph) and a lowest pressure of {pressure} hPa.",
        (f"The storm caused {deaths} deaths and about ${damage:.1f} million in damage." if deaths
         else f"No deaths were reported, but damage reached ${damage:.1f} million."),
    ]]
    met = [[
        f"The storm formed from an area of low pressure on {day} {start_month}.",
        r.choice([f"It moved slowly to the north-west and strengthened over warm water.",
                  f"Strong wind shear at first kept it weak, but it intensified quickly two days later.",
                  f"It drifted for several days before turning towards the coast."]),
        f"It made landfall near {landfall['name']} on {day + r.randint(2, 7)} {start_month}, and weakened rapidly over land.",
    ]]
    prep = [[
        r.choice([f"Officials ordered the evacuation of {num(r.randint(2, 90) * 1000)} people from low-lying areas.",
                  f"Schools and ports along the coast were closed a day before the storm arrived.",
                  f"Warnings were issued for the whole coast of {landfall['region']} three days in advance."]),
    ]]
    impact = [[
        r.choice([f"Heavy rain caused the {landfall['river']} to flood, and {num(r.randint(1, 30) * 100)} homes were damaged.",
                  f"Winds tore roofs from buildings in {landfall['name']} and brought down power lines.",
                  f"The highest rainfall total was {r.randint(120, 800)} mm, recorded in the hills above {landfall['name']}."]),
        r.choice([f"About {num(r.randint(5, 300) * 1000)} people lost electricity.",
                  f"Crops of {r.choice(CROPS)} were badly damaged.",
                  f"Several bridges were washed away, cutting off villages for days."]),
    ]]
    after = [[
        r.choice([f"The name {first} was retired after the season.",
                  f"The government released emergency funds to rebuild roads and bridges.",
                  f"Flood defences in {landfall['name']} were raised after the storm."]),
    ]]
    return article(title, intro, [("Meteorological history", met), ("Preparations", prep),
                                  ("Impact", impact), ("Aftermath", after)])


def book_article(w: World) -> str:
    r = w.rng
    title = "The {} {}".format(*r.sample(BOOK_WORDS, 2))
    author = w.person()
    year = r.randint(1850, 2015)
    genre = r.choice(GENRES)
    theme = r.choice(THEMES)
    place = w.town()
    hero = w.person()
    rival = w.person()
    pages = r.randint(180, 720)
    copies = r.randint(10, 900) * 1000
    intro = [[
        f"{title} is a {genre} by {author}, first published in {year}.",
        f"Set in {place['name']}, it deals with {theme}.",
        r.choice([f"It sold more than {num(copies)} copies in its first ten years.",
                  f"It was {author.split()[-1]}'s first book, and made the author's name.",
                  f"It was adapted for radio in {year + r.randint(5, 30)}."]),
    ]]
    plot = [[
        r.choice([f"The story follows {hero}, a young clerk who arrives in {place['name']} to take up a post at the harbour.",
                  f"{hero}, the daughter of a ferryman, finds a bundle of old letters hidden in the family boat.",
                  f"After the death of an uncle, {hero} inherits a failing {r.choice(INDUSTRIES)} business in {place['name']}."]),
        r.choice([f"{hero.split()[0]} soon comes into conflict with {rival}, who wants the land for a new railway.",
                  f"With the help of {rival}, an old sailor, {hero.split()[0]} begins to uncover what happened twenty years earlier.",
                  f"As the winter closes in, {hero.split()[0]} must decide whether to stay or to leave for the city."]),
        r.choice(["The novel ends with a flood that destroys the old quarter of the town.",
                  "In the final chapter the secret is revealed at a public meeting.",
                  "The ending is left open, and critics have long argued about its meaning."]),
    ]]
    background = [[
        r.choice([f"{author.split()[-1]} began writing the book in {year - r.randint(1, 6)}, while working as a journalist.",
                  f"The town in the novel is based on {place['name']}, where {author.split()[-1]} grew up.",
                  f"{author.split()[-1]} said that the idea came from a story told by a neighbour."]),
    ]]
    reception = [[
        f"The first edition ran to {pages} pages.",
        r.choice([f"Early reviews were mixed: critics praised the descriptions of the sea but found the plot slow.",
                  f"It was well received, and one reviewer called it the best {genre} of the year.",
                  f"It was little noticed at first, and only became popular after a new edition in {year + r.randint(10, 40)}."]),
    ]]
    return article(title, intro, [("Plot", plot), ("Background", background),
                                  ("Publication and reception", reception)])


def bridge_article(w: World) -> str:
    r = w.rng
    t = w.town()
    kind = r.choice(["Viaduct", "Bridge", "Lighthouse", "Tunnel"])
    name = f"{t['name']} {kind}"
    engineer = w.person()
    opened = r.randint(1780, 1990)
    length = r.randint(40, 2400)
    height = r.randint(8, 80)
    cost = r.randint(12, 900) * 1000
    intro = [[
        f"The {name} is a {r.choice(['stone', 'iron', 'steel', 'brick', 'concrete'])} structure near {t['name']} in {t['region']}, opened in {opened}.",
        r.choice([f"It was designed by the engineer {engineer}.",
                  f"It is a listed building and a well-known local landmark.",
                  f"At the time of its opening it was the largest structure of its kind in {t['region']}."]),
    ]]
    history = [[
        r.choice([f"Plans for a crossing at this point were first made in {opened - r.randint(10, 60)}, but were delayed by a lack of money.",
                  f"It was built to replace an older structure that was damaged by floods on the {t['river']}.",
                  f"The project was paid for by a company of local merchants."]),
        f"Construction began in {opened - r.randint(2, 6)} and cost £{num(cost)}.",
        maybe(r, 0.5, f"{r.randint(2, 14)} workers died during the construction."),
    ]]
    design = [[
        (f"The structure is {m_ft(length)} long and rises {m_ft(height)} above the water." if kind != "Lighthouse"
         else f"The tower is {m_ft(height)} tall, and its light can be seen from {r.randint(12, 40)} nautical miles."),
        r.choice([f"It has {r.randint(3, 40)} arches of local {r.choice(ROCKS)}.",
                  f"{engineer} used a new method of building in which each section was lifted into place by cranes.",
                  f"Its design was copied for several later structures in {r.choice(REGIONS)}."]),
    ]]
    later = [[
        r.choice([f"It was restored between {r.randint(1960, 2000)} and {r.randint(2001, 2020)}.",
                  f"It was closed to traffic in {r.randint(1960, 2015)} and is now used by walkers and cyclists.",
                  f"It still carries about {num(r.randint(2, 40) * 1000)} vehicles a day."]),
    ]]
    return article(name, intro, [("History", history), ("Design", design), ("Later history", later)])


def mountain_article(w: World) -> str:
    r = w.rng
    name = f"Mount {r.choice(ONSETS)}{r.choice(['a', 'ar', 'en', 'ik', 'or', 'ith', 'ane'])}"
    region = r.choice(REGIONS)
    elev = r.randint(900, 5200)
    prom = int(elev * r.uniform(0.2, 0.8))
    rock = r.choice(ROCKS)
    climber = w.person()
    ascent = r.randint(1790, 1960)
    near = w.town()
    intro = [[
        f"{name} is a mountain in {region}, with a summit {m_ft(elev)} above sea level.",
        r.choice([f"It is the highest point of the {r.choice(ONSETS)} Range.",
                  f"It can be seen from {near['name']}, {r.randint(10, 60)} km to the south.",
                  f"Its topographic prominence is {m_ft(prom)}."]),
    ]]
    geology = [[
        f"The mountain is made mostly of {rock}, with bands of {r.choice([x for x in ROCKS if x != rock])} on its northern side.",
        r.choice([f"Glaciers shaped its steep eastern face during the last ice age.",
                  f"It is the remains of an ancient volcano, worn down over millions of years.",
                  f"Small deposits of copper were mined on its lower slopes in the {century(r.randint(1500, 1899))}."]),
    ]]
    climbing = [[
        f"The first recorded ascent was made in {ascent} by {climber} and two local guides.",
        r.choice([f"The usual route follows the south ridge and takes about {r.randint(5, 12)} hours from the valley.",
                  f"A mountain hut stands at {m_ft(int(elev * 0.7))} on the normal route.",
                  f"The north face was not climbed until {ascent + r.randint(20, 70)}."]),
    ]]
    climate = [[
        r.choice([f"Snow covers the summit for most of the year.",
                  f"The summit is often in cloud, and strong winds are common.",
                  f"Below {m_ft(int(elev * 0.5))} the slopes are covered by {r.choice(TREES)} forest."]),
    ]]
    return article(name, intro, [("Geology", geology), ("Climbing history", climbing), ("Climate", climate)])


def club_article(w: World) -> str:
    r = w.rng
    t = w.town()
    name = f"{t['name']} {r.choice(['Rovers', 'Athletic', 'United', 'Wanderers', 'Town', 'Albion'])}"
    founded = r.randint(1870, 1960)
    ground = f"{r.choice(['Mill', 'River', 'Station', 'Church', 'Park', 'Quarry'])} Lane"
    capacity = r.randint(800, 32000)
    colours = r.choice(COLOURS)
    manager = w.person()
    home_since = founded + r.randint(0, 40)
    intro = [[
        f"{name} is a football club based in {t['name']}, {t['region']}.",
        f"Founded in {founded}, the club plays its home games at {ground}, which holds {num(capacity)} people.",
        f"The team plays in {colours} shirts.",
    ]]
    history = [[
        r.choice([f"The club was formed by workers from the town's {r.choice(INDUSTRIES)} factories.",
                  f"It began as the football section of a cricket club, and became independent in {founded + r.randint(3, 20)}.",
                  f"In its early years the team played on a field beside the {t['river']}."]),
        r.choice([f"Its most successful period came in the {r.choice(['1920s', '1950s', '1970s', '1990s'])}, when it won the regional cup twice.",
                  f"The club was promoted in {founded + r.randint(30, 90)}, but was relegated again after one season.",
                  f"Money problems almost closed the club in {r.randint(1980, 2015)}, but supporters raised funds to save it."]),
        maybe(r, 0.6, f"{manager} was appointed manager in {r.randint(2005, 2023)}."),
    ]]
    stadium = [[
        f"{ground} has been the club's home since {home_since}.",
        f"The record attendance of {num(int(capacity * r.uniform(0.9, 1.4)))} was set in a cup match in {r.randint(home_since + 1, 2015)}.",
    ]]
    return article(name, intro, [("History", history), ("Stadium", stadium)])


KINDS = [ship_article, scientist_article, bird_article, festival_article, storm_article, book_article,
         bridge_article, mountain_article, club_article]


# ------------------------------------------------------------------------------------------------
# Hand-written articles (the first part of the sample)
# ------------------------------------------------------------------------------------------------
HANDWRITTEN = [
    ("Harrowmere Clock Tower", [[
        "The Harrowmere Clock Tower is a brick tower with a mechanical clock in the centre of Harrowmere, a town in the Veldish region of Veldmark.",
        "It was completed in 1861 and stands 34 metres (112 ft) high.",
        "Its four faces were lit by gas until 1924, when electric lamps were fitted.",
    ]], [
        ("History", [[
            "Before the tower was built, the town depended on a sundial on the church wall and on a bell rung by the market keeper.",
            "In 1853 a group of traders complained that farmers arriving from the hills could not agree on the time, and that buyers and sellers missed each other as a result.",
            "The town council collected money from a special tax on market stalls, and a design by the architect Piers Halloway was chosen from five entries.",
            "Work began in the spring of 1858.",
            "The foundations had to be dug deeper than planned because the ground near the old river channel was soft, and the cost rose from £1,900 to almost £3,400.",
        ], [
            "The clock mechanism was made by the workshop of Ilse Marlow in Calderford, who delivered it in pieces on six carts.",
            "On the day of the opening, 2 October 1861, the clock stopped after forty minutes because a pigeon had become trapped in the gears.",
            "The story became a local joke, and a carved stone pigeon was later added above the west door.",
        ]]),
        ("Design", [[
            "The tower is square in plan, with walls of red brick and bands of pale sandstone.",
            "Each face is 3.2 metres across, and the minute hands are 1.5 metres long.",
            "The mechanism is wound by hand once a week; the weights drop through a shaft that runs the full height of the tower.",
            "A narrow stair of 146 steps leads to a viewing gallery below the clock room.",
        ]]),
        ("Later history", [[
            "During a storm in 1907 the weather vane was struck by lightning and fell into the square, but nobody was hurt.",
            "The clock was restored between 1988 and 1991 by volunteers, who replaced worn parts using drawings found in the town archive.",
            "Today the tower is open to visitors on summer weekends, and the bell still strikes every hour.",
        ]]),
    ]),
    ("Oriel Fenwick", [[
        "Oriel Fenwick (1838 – 1911) was a Carrovian naturalist and illustrator, remembered for her careful paintings of river insects and for a long study of mayflies.",
        "She had no university training, but her notebooks were later used by several professional zoologists.",
    ]], [
        ("Early life", [[
            "Fenwick was born in Dunsmouth, a fishing town on the coast of Carrow, the youngest of five children of a boat builder.",
            "Her mother taught her to draw, and as a girl she filled small books with pictures of shells, crabs and the insects she found in rock pools.",
            "When she was fourteen the family moved inland to Thornbrook, on the River Eskel, where her father found work repairing barges.",
        ]]),
        ("Work", [[
            "From 1860 Fenwick spent every spring and summer on the banks of the Eskel, recording when each kind of mayfly appeared and how long the adults lived.",
            "She kept the larvae in glass jars on her kitchen table and drew each stage of their growth, often working by candlelight.",
            "Her records showed that the insects hatched earlier in warm years, and that they disappeared from parts of the river below the new paper mills.",
        ], [
            "In 1874 she sent a set of drawings to the natural history society in Carrow, which published them with a short text under the title Insects of a Northern River.",
            "The book sold only 300 copies, but it was read by the zoologist Anselm Rudd, who wrote to her and began a correspondence that lasted thirty years.",
        ]]),
        ("Later life and legacy", [[
            "Fenwick never married.",
            "In her sixties her eyesight began to fail, and she gave her notebooks and more than 2,000 paintings to the town library of Thornbrook.",
            "She died there in 1911.",
            "A short stretch of the river path is named Fenwick Walk, and a small exhibition of her work is shown in the library each spring.",
        ]]),
    ]),
    ("Saltmarsh Lantern Walk", [[
        "The Saltmarsh Lantern Walk is a yearly procession held on the last Saturday of November in the village of Gullness, on the estuary of the River Teal.",
        "Several hundred people walk along the sea wall after dark carrying paper lanterns, ending at the old boathouse, where soup and bread are served.",
    ]], [
        ("Origins", [[
            "The walk began in 1952 as a way to remember the night of a great tide, when the sea broke through the wall and the families of the village carried lamps along the bank to guide the boats home.",
            "For the first twenty years only a few dozen villagers took part.",
            "Numbers grew after a photograph of the procession appeared in a national newspaper in 1979.",
        ]]),
        ("The lanterns", [[
            "Most lanterns are made by hand in the weeks before the walk, from willow sticks, paper and glue.",
            "Each year the village school chooses a theme, such as birds of the marsh, boats or the stars, and the largest lanterns are built by teams of families.",
            "Candles were replaced by small battery lights in 2009, after a lantern caught fire in a strong wind.",
        ]]),
        ("Today", [[
            "In recent years between 800 and 1,200 people have attended.",
            "The route is about 3.5 kilometres (2.2 mi) long and takes an hour to walk.",
            "The event is run by volunteers and is free, but money is collected for the local lifeboat station.",
        ]]),
    ]),
]


def make_wikitext_sample(seed: int = SEED) -> str:
    rng = random.Random(seed)
    w = World(rng)
    parts = [" \n"]
    for title, intro, sections in HANDWRITTEN:
        parts.append(article(title, intro, sections))
    generated = []
    for t in w.towns[:40]:
        generated.append(town_article(w, t))
    for rv in w.rivers[:26]:
        generated.append(river_article(w, rv))
    for i in range(15 * len(KINDS)):
        generated.append(KINDS[i % len(KINDS)](w))
    rng.shuffle(generated)
    parts += generated
    return "".join(parts)


# ------------------------------------------------------------------------------------------------
# SMS messages (ham / spam)
# ------------------------------------------------------------------------------------------------
HAM_TEMPLATES = [
    "Are you coming to the {place} tonight? {name} is bringing {food}",
    "Running about {n} mins late, sorry! Save me a seat",
    "Can you pick up {food} on the way home? We're out",
    "Happy birthday {name}!! Hope you have a lovely day x",
    "ok see you at {time} then",
    "Did you finish the {task}? I'm stuck on the last part",
    "Mum says dinner at {time}, don't be late again lol",
    "I left my {thing} at yours, can I grab it tomorrow?",
    "Good luck with the {task} today, you'll be fine",
    "Just got home. That was a long day. Speak tomorrow?",
    "Is the {place} open on Sundays or should we go Saturday",
    "Thanks for {food} last night, it was really good",
    "Where are you? I'm outside the {place}",
    "Can't talk now, in a meeting. Call you after {time}",
    "The bus is cancelled so I'm walking, be there in {n}",
    "Do you want to watch the match at the {place} on {day}?",
    "Haha that's brilliant. Send me the photo",
    "Remember to feed the cat before you leave",
    "I'll be at the {place} till {time} if you want to meet",
    "Sorry I missed your call, was driving. What's up?",
    "Yes please! One {food} for me",
    "How did the {task} go? Tell me everything",
    "Train's delayed again. Home around {time}",
    "We're at table {n}, come find us",
    "Can you send me {name}'s number? Lost my old phone",
    "Not feeling great today, staying in. Rain check?",
    "Lovely to see you {day}, let's do it again soon",
    "Have you seen my {thing}? Can't find it anywhere",
    "Meeting moved to {time}, same room",
    "Just landed! Will text when I'm through security",
    "Don't forget {name}'s party on {day}",
    "That {food} place on the corner has closed down :(",
    "Gonna be a bit late, traffic is awful",
    "Fancy a walk by the river on {day}? Weather looks ok",
    "Got the tickets! Row {n}, seats next to each other",
]
SPAM_TEMPLATES = [
    "WINNER! Your number was picked for a £{money} cash reward. Ring {phone} today to collect. T&Cs apply",
    "URGENT: your account has been suspended. Verify your details at {url} within 24 hours",
    "Congratulations! You've won a FREE {prize}. Text CLAIM to {short} to get yours today",
    "Final notice: you are owed £{money} in unpaid refunds. Reply YES to {short} to receive it",
    "Get {n}% off all {goods} this weekend only! Visit {url} now. Reply STOP to opt out",
    "A voice message is waiting for you. To hear it ring {phone}. Costs £{small}/min",
    "Your parcel could not be delivered. Pay the £{small} fee at {url} to rebook",
    "Enter our weekly prize draw for nothing and take home a {prize}! Text WIN to {short}. 18+ only",
    "Hot singles in your area want to chat! Text {word} to {short} now, £{small} per msg",
    "Claim your guaranteed £{money} loan today, no credit checks! Call {phone}",
    "Your mobile number has won our monthly draw! Call {phone} from a landline to claim your {prize}",
    "LAST CHANCE: upgrade to the latest {prize} for FREE. Call {phone} before midnight",
]
PLACES = ["pub", "cinema", "library", "station", "park", "gym", "cafe", "market", "beach", "office"]
FOODS_SMS = ["pizza", "milk", "bread", "curry", "cake", "chips", "coffee", "noodles", "ice cream"]
TASKS = ["exam", "interview", "essay", "report", "presentation", "driving test", "homework"]
THINGS = ["keys", "charger", "umbrella", "jacket", "headphones", "book", "scarf", "wallet"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PRIZES = ["holiday for two", "new phone", "£500 voucher", "tablet", "cruise", "smart watch", "laptop"]
GOODS = ["shoes", "phones", "sofas", "watches", "perfume", "jackets"]
WORDS = ["DATE", "MEET", "CHAT", "FLIRT"]


def make_sms_sample(seed: int = SEED, n_ham: int = 240, n_spam: int = 60) -> str:
    rng = random.Random(seed + 1)

    def fill(t: str) -> str:
        return t.format(
            place=rng.choice(PLACES), name=rng.choice(FIRST), food=rng.choice(FOODS_SMS),
            n=rng.randint(2, 40), time=f"{rng.randint(1, 11)}{rng.choice(['', '.30', 'pm', 'am'])}",
            task=rng.choice(TASKS), thing=rng.choice(THINGS), day=rng.choice(DAYS),
            money=f"{rng.choice([250, 500, 900, 1000, 1500, 2000, 5000]):,}", phone=f"0{rng.randint(800, 909)}{rng.randint(1000000, 9999999)}",
            url=f"www.{rng.choice(['claim', 'secure', 'win', 'deal', 'refund'])}-{rng.choice(['now', 'today', 'fast', 'uk'])}.example",
            prize=rng.choice(PRIZES), short=rng.randint(80000, 89999), small=f"{rng.choice([1, 1.5, 2, 2.99, 3])}",
            goods=rng.choice(GOODS), word=rng.choice(WORDS),
        )

    def make(templates: list[str], n: int) -> list[str]:
        seen: set[str] = set()
        out = []
        while len(out) < n:
            m = fill(rng.choice(templates))
            if m not in seen:
                seen.add(m)
                out.append(m)
        return out

    rows = [("ham", m) for m in make(HAM_TEMPLATES, n_ham)] + [("spam", m) for m in make(SPAM_TEMPLATES, n_spam)]
    rng.shuffle(rows)
    return "".join(f"{label}\t{text}\n" for label, text in rows)


# ------------------------------------------------------------------------------------------------
# Verse drama (the stand-in for tiny-shakespeare)
# ------------------------------------------------------------------------------------------------
SPEAKERS = ["DUKE ORSANDER", "MARELLA", "FIRST WATCHMAN", "SECOND WATCHMAN", "LADY VESPERINE",
            "CALLIX", "OLD TOBIN", "BRISEIS", "LORD HALVERN", "A MESSENGER", "NURSE", "FENWICK"]
NOUNS = ["night", "crown", "sea", "heart", "tower", "moon", "river", "sword", "grief", "storm",
         "letter", "gate", "lantern", "honour", "winter", "field", "bell", "harbour", "silence", "dawn"]
ADJS = ["cold", "bright", "bitter", "gentle", "restless", "silent", "proud", "weary", "false",
        "faithful", "distant", "heavy", "golden", "hollow", "sweet", "wild"]
VERBS = ["wakes", "weeps", "burns", "waits", "turns", "breaks", "sleeps", "calls", "fades", "climbs"]
OPENINGS = ["O {adj} {noun},", "My lord,", "Good {who},", "Alas,", "Nay,", "Hark,", "Come,", "Fie,",
            "Sweet {who},", "By this {noun},", "Madam,", "Why,", "Look you,", "I pray you,", "Now,", "Then,"]
CLAUSES = [
    "the {noun} {verb} upon the {noun2}.", "I hear the {noun} beyond the {noun2}.",
    "the {noun} is taken and the {noun2} lost.", "let the {noun} be witness to my word.",
    "there is {noun} yet in this {adj} world.", "the hour is late, the {noun} {verb}.",
    "thy {noun} was ever {adj}.", "a stranger waits upon the {noun}.", "bring lights, the {noun2} is dark.",
    "I will not leave thee till the {noun} {verb}.", "this is {adj} counsel, and I thank thee.",
    "he that would keep the {noun} must watch the {noun2}.", "what {adj} {noun} hath brought thee here?",
    "I know not whether it be {noun} or {noun2}.", "the king is {adj}, and the {noun} {verb}.",
    "speak, and let thy {noun} be {adj}.", "we ride at {noun}, and rest not till the {noun2}.",
    "my {noun} is {adj} as the {noun2} in winter.", "the bells of {town} ring for the {noun}.",
    "the {adj} {noun} shall answer for the {noun2}.", "remember me, when all the {noun} {verb}.",
    "thou hast a {adj} tongue and a {adj2} heart.", "the gates are shut, the {noun} {verb} without.",
    "we are but {noun}, and to the {noun2} we go.", "who goes there, in the {noun} of the {noun2}?",
    "I had a {noun} once, and it was {adj}.", "the road to {town} is long and {adj}.",
]
LINES = [
    "What news, good {who}? the {noun} {verb} upon the {noun2}.",
    "I swear it by this {adj} {noun} and by the {noun2}:",
    "Go, bid them come; the {noun} is {adj} tonight.",
    "Thou art too {adj}, and I too {adj2} to speak.",
    "O {adj} {noun}, why dost thou mock me so?",
    "Here is my hand; and with it all my {noun}.",
    "If I must go, then let me go by {noun}.",
    "The {noun} {verb}, and still the {noun2} will not come.",
    "Speak softly, for the {noun} hath many ears.",
    "Was ever {noun} so {adj}, or {noun2} so {adj2}?",
    "Your grace, a stranger waits upon the {noun}.",
    "Then farewell, {who}; remember me at {noun}.",
    "Ho, there! who keeps the {noun} tonight?",
    "Away, away! the {noun2} is at the door.",
    "So {adj} a {noun} I never saw before.",
]
TOWNS_VERSE = ["Halvern", "Orsand", "Vesper Hill", "the north", "the sea gate", "Marwick"]


def make_verse_sample(seed: int = SEED, target_chars: int = 50_000) -> str:
    rng = random.Random(seed + 2)
    out: list[str] = []
    size = 0
    last = None
    while size < target_chars:
        speaker = rng.choice([s for s in SPEAKERS if s != last])
        last = speaker
        lines = []
        for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 5])):
            adj, adj2 = rng.sample(ADJS, 2)
            noun, noun2 = rng.sample(NOUNS, 2)
            who = rng.choice([s for s in SPEAKERS if s != speaker and " " not in s])
            line = (rng.choice(LINES) if rng.random() < 0.3
                    else rng.choice(OPENINGS) + " " + rng.choice(CLAUSES))
            lines.append(line.format(who=who.capitalize(), noun=noun, noun2=noun2, adj=adj, adj2=adj2,
                                     verb=rng.choice(VERBS), town=rng.choice(TOWNS_VERSE)))
        block = f"{speaker}:\n" + "\n".join(lines) + "\n\n"
        out.append(block)
        size += len(block)
    return "".join(out)


SAMPLES = {
    "wikitext_sample.txt": make_wikitext_sample,
    "sms_sample.txt": make_sms_sample,
    "verse_drama_sample.txt": make_verse_sample,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write the samples into")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        text = make()
        (args.out / name).write_bytes(text.encode("utf-8"))
        print(f"{args.out / name}: {len(text.encode('utf-8')):,} bytes")


if __name__ == "__main__":
    main()
