"""Seeded synthetic customer books and typo'd lookup queries whose intended customer is known."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from nlp.customer_index import IndexedCustomer


def _words(text: str) -> list[str]:
    """A word list written as wrapped text, which reads better than a long list literal."""
    return text.split()


FIRST_NAMES = _words(
    """
James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa Matthew Betty
Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua
Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald
Rebecca Edward Sharon Jason Laura Jeffrey Cynthia Ryan Kathleen Jacob Amy Gary Angela Nicholas
Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott Helen Brandon
Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn
Patrick Janet Raymond Catherine Jack Maria Dennis Heather Jerry Diane Tyler Ruth Aaron Julie
Jose Olivia Adam Joyce Nathan Virginia Henry Victoria Douglas Kelly Zachary Lauren Peter
Christina Kyle Joan Ethan Evelyn Walter Judith Noah Megan Jeremy Andrea Christian Cheryl Keith
Hannah Roger Jacqueline Terry Martha Gerald Gloria Harold Teresa Sean Ann Austin Sara Carl
Madison Arthur Frances Lawrence Kathryn Dylan Janice Jesse Jean Jordan Abigail Bryan Alice Billy
Judy Joe Sophia Bruce Grace Gabriel Denise Logan Amber Albert Doris Willie Marilyn Alan Danielle
Juan Beverly Wayne Isabella Elijah Theresa Randy Diana Roy Natalie Vincent Brittany Ralph
Charlotte Eugene Marie Russell Kayla Bobby Alexis Mason Lori Philip Louis José François Zoë
Łukasz Søren Renée Jürgen Agnieszka Björn Inés Chloé Maël Dagný Ångström Élodie Søs Åsa Ørjan
Małgorzata Žofie Tomáš Jiří Mátyás Gaël Anaïs Noémie Ícaro Joaquín Sebastián Núria Iñaki
Frédéric Hélène Stéphane Thérèse Günther Jörg Käthe Sönke Ævar Þóra Ömer Çağla Şükrü Gülşen Dóra
Zsófia Ágnes Léa Raphaël Benoît Loïc Cécile Désirée Mónica
"""
)

LAST_NAMES = _words(
    """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips
Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson
Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina
Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner Black
Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt García Müller Núñez Øster
Dvořák Łopatka Söderström Håkansson Ødegård Françoise Bélanger Gagné Côté Lévesque Pérez Sánchez
Jiménez Gómez Martín Fernández Gutiérrez Vázquez Domínguez Ibáñez Schäfer Schröder Krämer Köhler
Weiß Groß Jäger Böhm Nowak Wiśniewski Wójcik Kamiński Lewandowski Zieliński Szymański Woźniak
Dąbrowski Kozłowski Novák Svoboda Dvořáková Černý Procházka Kučera Veselý Horák Němec Pokorný
Marek Pospíšil Hájek Jelínek Král Růžička Beneš Fiala Sedláček Doležal Zeman Kolář Navrátil
Čermák Vaněk Urban Blažek Kříž Kovář Bartoš Vlček Polák Kopecký Yılmaz Kaya Demir Şahin Çelik
Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin Kara Koç Kurt Özkan Şimşek
Nagy Kovács Tóth Szabó Horváth Varga Kiss Molnár Németh Farkas Balogh Papp Takács Juhász Lakatos
Mészáros Oláh Simon Rácz Fekete Szilágyi Török Fehér Balázs Gál Kis Szűcs Kocsis Orsós Pintér
Fodor Szalai Sipos Magyar Lukács Gulyás Bíró
"""
)

# Syllables for coined surnames: the real lists alone would make a million-customer book
# mostly duplicates, and then "the customer the person meant" is not well defined.
_ONSETS = _words("b br c ch d dr f g gr h j k kr l m n p pr r s st sh t tr v w z")
_VOWELS = _words("a e i o u ai ea oa ie ou")
_CODAS = _words("l n r s t m nd rt ll ck ng")
_ENDINGS = _words(
    """
son sen man berg ez ski ov ini ard ley ton well field stein wood ford worth dale more holm
strand by gaard lund quist
"""
)

ADJECTIVES = _words(
    """
Blue Red Green Black White Silver Golden Bright Clear Rapid Swift Prime Noble Royal Grand North
South East West Pacific Atlantic Alpine Coastal Urban Rural Global Local United Allied First
Second Modern Classic Future Smart Quick Solid True Open Free Bold Brave Calm Quiet Happy Lucky
Sunny Misty Stormy Frozen Wild Little Big Tall Deep High Lone Twin Triple Iron Stone Crystal
Copper Cedar Maple Oak Pine Willow Amber Ivory Scarlet Azure Emerald Ruby Sapphire Onyx Jade
Coral Orchid Violet Crimson Indigo Cobalt Lunar Solar Stellar Cosmic Polar Tropical Arctic
Desert Valley River Ocean Harbor Summit Canyon Meadow Prairie Forest Island Mountain Lake Bay
Delta Metro Central Pioneer Heritage Liberty Patriot Frontier Vintage Nordic Celtic Roman Aztec
Atlas Titan Apex Vertex Zenith Vector Quantum Digital Hyper Ultra
"""
)

NOUNS = _words(
    """
Harbor Bridge Tower Gate Field Stone River Ridge Peak Point Crest Grove Garden Forge Mill Works
Anchor Arrow Beacon Compass Falcon Eagle Hawk Raven Wolf Fox Bear Lion Tiger Otter Heron Crane
Swan Dove Sparrow Lantern Lighthouse Castle Crown Shield Sword Hammer Anvil Wheel Gear Spring
Brook Creek Lagoon Reef Shore Coast Cliff Hollow Glen Dale Haven Port Wharf Pier Dock Key Lock
Vault Chest Barrel Basket Orchard Vineyard Meadow Prairie Canyon Mesa Butte Summit Trail Path
Road Street Avenue Square Plaza Market Bazaar Depot Station Terminal Hub Nexus Node Circuit
Signal Pulse Wave Spark Flame Ember Blaze Frost Snow Rain Cloud Storm Thunder Lightning Star
Moon Sun Comet Orbit Galaxy Nova Nebula Planet Atlas Oak Pine Cedar Birch Maple Elm Ash Rose
Lily Iris Lotus Daisy Tulip Fern Ivy Moss Sage Thyme Mint Pepper Salt Honey Sugar Maple Acorn
Pebble Boulder Quarry Foundry Refinery Smithy Kiln Loom Spindle Needle Thread Canvas Paper Quill
Ink Scroll Tablet Ledger Archive Library Museum Gallery Studio Theater Arena Stadium Pavilion
Atrium Citadel Fortress Bastion Rampart Keystone Cornerstone Milestone
"""
)

INDUSTRIES = _words(
    """
Media Digital Logistics Foods Health Capital Energy Software Consulting Systems Analytics
Robotics Pharma Biotech Textiles Motors Aviation Marine Freight Realty Properties Construction
Engineering Design Marketing Advertising Publishing Records Films Studios Games Learning
Education Insurance Finance Ventures Investments Trading Imports Exports Farms Dairy Bakery
Brewing Coffee Tea Wines Spirits Fitness Wellness Dental Clinic Labs Security Networks Telecom
Cloud Data Mobile Solar Wind Water Mining Metals Plastics Chemicals Paper Packaging Furniture
"""
)

SUFFIXES = _words(
    """
Group Inc LLC Ltd GmbH Holdings Partners Co AG SA Corp Media Company Enterprises International
"""
)
COINED_ENDINGS = _words("ify ly io ia ix era ora able hub lab")
FREE_MAIL = _words("gmail.com outlook.com yahoo.com proton.me icloud.com gmx.de web.de")

# Neighbouring keys on a QWERTY keyboard: substitutions people actually make.
_KEYBOARD = {
    ch: near
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i, ch in enumerate(row)
    for near in [row[max(0, i - 1) : i] + row[i + 1 : i + 2]]
}


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query as a person might type it, the customer they meant and what was done to it."""

    text: str
    customer_id: int
    field: str
    kinds: tuple[str, ...]


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def ascii_slug(text: str) -> str:
    bare = strip_accents(text).casefold()
    return "".join(ch for ch in bare if ch.isascii() and ch.isalnum())


def coined_surnames(rng: random.Random, count: int) -> list[str]:
    """Distinct pronounceable surnames ("Brailndberg"), capitalised."""
    found: set[str] = set()
    while len(found) < count:
        stem = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + (rng.choice(_CODAS) if rng.random() < 0.4 else "")
            for _ in range(rng.choice((1, 2, 2)))
        )
        if rng.random() < 0.5:
            stem += rng.choice(_ENDINGS)
        if 4 <= len(stem) <= 12:
            found.add(stem.capitalize())
    return sorted(found)


class BookMaker:
    """Makes customers from a seed; the same seed and size always give the same book."""

    def __init__(self, seed: int = 7, surnames: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.surnames = LAST_NAMES + coined_surnames(self.rng, surnames)

    def person(self) -> tuple[str, str, str]:
        """(full name, first name, last name)."""
        rng = self.rng
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(self.surnames)
        if rng.random() < 0.08:
            last = f"{last}-{rng.choice(self.surnames)}"
        roll = rng.random()
        if roll < 0.15:
            return f"{first} {rng.choice(FIRST_NAMES)} {last}", first, last
        if roll < 0.25:
            return f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}", first, last
        return f"{first} {last}", first, last

    def company(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            words = [rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(INDUSTRIES), rng.choice(SUFFIXES)]
        elif roll < 0.60:
            words = [rng.choice(self.surnames), rng.choice(INDUSTRIES), rng.choice(SUFFIXES)]
        elif roll < 0.80:
            words = [rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(SUFFIXES)]
        elif roll < 0.90:
            words = [rng.choice(self.surnames), "&", rng.choice(self.surnames)]
        else:
            words = [rng.choice(NOUNS) + rng.choice(COINED_ENDINGS), rng.choice(INDUSTRIES)]
        return " ".join(words)

    def phone(self) -> str:
        rng = self.rng

        def d(count: int) -> str:
            return "".join(rng.choice("0123456789") for _ in range(count))

        style = rng.random()
        if style < 0.4:
            return f"+1 ({rng.randint(201, 989)}) {d(3)}-{d(4)}"
        if style < 0.6:
            return f"+44 {rng.randint(20, 79)} {d(4)} {d(4)}"
        if style < 0.8:
            return f"+49 {rng.randint(30, 89)} {d(7)}"
        return f"0{rng.randint(100, 999)} {d(3)} {d(4)}"

    def customer(self, customer_id: int) -> IndexedCustomer:
        rng = self.rng
        name, first, last = self.person()
        company = self.company() if rng.random() < 0.85 else ""
        if company and rng.random() < 0.6:
            domain = ascii_slug("".join(company.split()[:2]))[:20] + ".com"
        else:
            domain = rng.choice(FREE_MAIL)
        given, family = ascii_slug(first), ascii_slug(last)
        local = rng.choice(
            (f"{given}.{family}", f"{given[:1]}{family}", f"{given}{rng.randint(1, 99)}", f"{family}.{given}")
        )
        email = f"{local}@{domain}"
        phone = self.phone() if rng.random() < 0.9 else ""
        return IndexedCustomer(customer_id, name, company, email, phone)


def make_book(size: int, seed: int = 7) -> list[IndexedCustomer]:
    """`size` customers with ids 1..size; reproducible for a given seed."""
    maker = BookMaker(seed, surnames=max(300, min(20_000, size // 20)))
    return [maker.customer(i + 1) for i in range(size)]


def _typo(word: str, rng: random.Random) -> tuple[str, str]:
    """One deletion, adjacent transposition or keyboard substitution inside a word."""
    pos = rng.randrange(len(word))
    kind = rng.choice(("delete", "transpose", "substitute")) if len(word) >= 2 else "substitute"
    if kind == "delete":
        return word[:pos] + word[pos + 1 :], kind
    if kind == "transpose":
        pos = min(pos, len(word) - 2)
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :], kind
    near = _KEYBOARD.get(word[pos].lower(), "aeiou")
    return word[:pos] + rng.choice(near) + word[pos + 1 :], kind


def _drop_word(words: list[str], person: bool) -> list[str] | None:
    """The words without one that people really leave out, or None if there is none."""
    if person:
        # Middle names and initials; dropping a first or last name leaves someone else.
        return [words[0], words[-1]] if len(words) == 3 else None
    if len(words) >= 3 and words[-1] in SUFFIXES:
        return words[:-1]  # "Blue Harbor Media Group" -> "Blue Harbor Media"
    if len(words) >= 4:
        return words[:2] + words[3:]  # the industry word: "Blue Harbor Group"
    return None


def perturb(text: str, rng: random.Random, *, person: bool) -> tuple[str, tuple[str, ...]]:
    """What a hurried person types for `text`: 1-2 typos, maybe reordered or a word short."""
    kinds: list[str] = []
    words = [w for w in text.split() if w != "&"]
    roll = rng.random()
    shorter = _drop_word(words, person) if roll < 0.3 else None
    if shorter is not None:
        words = shorter
        kinds.append("missing_word")
    elif roll >= 0.6 and len(words) >= 2:
        if person:
            words = [words[-1], *words[:-1]]  # "Smith John"
        else:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        kinds.append("reorder")
    typeable = [i for i, w in enumerate(words) if len(w) >= 4]
    if not typeable:
        typeable = [max(range(len(words)), key=lambda i: len(words[i]))]
    letters = sum(len(w) for w in words)
    for _ in range(2 if letters >= 10 and rng.random() < 0.35 else 1):
        i = rng.choice(typeable)
        words[i], kind = _typo(words[i], rng)
        kinds.append(kind)
    query = " ".join(words)
    if not query.isascii() and rng.random() < 0.6:
        query = strip_accents(query)
        kinds.append("accents")
    case: Callable[[str], str] | None = rng.choice((None, None, str.lower, str.upper))
    if case is not None:
        query = case(query)
        kinds.append("case")
    return query, tuple(kinds)


def make_queries(
    book: list[IndexedCustomer], count: int, seed: int = 11, name_share: float = 0.55
) -> list[LabelledQuery]:
    """Typo'd queries for random customers' names or companies, with the intended customer."""
    rng = random.Random(seed)
    queries: list[LabelledQuery] = []
    while len(queries) < count:
        customer = rng.choice(book)
        person = rng.random() < name_share or not customer.company
        field = "name" if person else "company"
        text, kinds = perturb(customer.name if person else customer.company, rng, person=person)
        if text.strip():
            queries.append(LabelledQuery(text, customer.id, field, kinds))
    return queries
