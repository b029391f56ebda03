"""Watch-list screening: does a visitor possibly match a banned or restricted person?

Pure: no database, no clock. A *possible match* never decides alone: the sign-in is held for
the front desk, who admits, refuses or marks it a false match (remembered per person).

How names are compared (documented for the front office in ``docs/visitors.md``):

1. **Normalise**: Unicode compatibility decomposition, accents dropped (``José`` = ``Jose``),
   case folded (``ß`` = ``ss``), apostrophes and full stops removed (``O'Brien`` = ``OBrien``),
   every other non-letter (hyphen, space, comma) splits words.
2. **Surname forms**: the whole surname run together (``Garcia-Lopez`` -> ``garcialopez``)
   plus each of its words of three letters or more (``garcia``, ``lopez``), so a double-barrelled
   name matches either half.
3. **Given-name roots**: the first given name (whole, and its first word if hyphenated) mapped
   through :data:`NICKNAMES`; a name in no group is its own root. ``Bill``, ``Billy``, ``Will``
   and ``William`` share one root; a name in several groups (``Al``) has several roots.
4. **Date of birth**: when both the visitor and the entry have one they must agree, day and
   month swapped counting as agreement (a US/European mix-up); when either lacks one, the
   name alone makes a possible match (the desk checks the ID).

The same keys, hashed with a per-issue secret, are what the kiosk's offline cache carries
(:func:`cache_entries`), so the kiosk screens the same way without holding anyone's name.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from link import watchkeys
from link.watchkeys import (MIN_SURNAME_PART, dob_forms, dob_keys, hash_key, nickname_roots, normalise,
                            surname_forms)

#: Given names that are the same person's name. Each group is one root.
NICKNAMES: tuple[tuple[str, ...], ...] = (
    ("william", "bill", "billy", "will", "willy", "willie", "liam"),
    ("robert", "bob", "bobby", "rob", "robbie", "bert"),
    ("richard", "rick", "ricky", "dick", "rich", "richie"),
    ("james", "jim", "jimmy", "jamie"),
    ("john", "jack", "johnny", "jon"),
    ("jonathan", "jon", "jonny", "nathan"),
    ("joseph", "joe", "joey", "jose", "pepe"),
    ("michael", "mike", "mikey", "mick", "micky"),
    ("thomas", "tom", "tommy"),
    ("charles", "charlie", "chuck", "chas"),
    ("christopher", "chris", "kit", "topher"),
    ("daniel", "dan", "danny"),
    ("david", "dave", "davey"),
    ("edward", "ed", "eddie", "ted", "ned", "eduardo", "edu", "lalo"),
    ("anthony", "tony", "antonio", "antonio", "toninho", "toni"),
    ("alexander", "alex", "alec", "sandy", "alejandro", "alexandre", "xander"),
    ("albert", "al", "bert", "alberto", "beto"),
    ("alfred", "al", "alf", "fred", "freddie"),
    ("alan", "al", "allan", "allen"),
    ("andrew", "andy", "drew", "andres", "andre"),
    ("benjamin", "ben", "benny", "benji"),
    ("matthew", "matt", "matty", "mateo", "mateus"),
    ("nicholas", "nick", "nicky", "nico", "nicolas"),
    ("patrick", "pat", "paddy"),
    ("peter", "pete", "pedro"),
    ("samuel", "sam", "sammy"),
    ("stephen", "steven", "steve", "stevie", "esteban"),
    ("timothy", "tim", "timmy"),
    ("frederick", "fred", "freddie", "fritz"),
    ("gregory", "greg"),
    ("kenneth", "ken", "kenny"),
    ("lawrence", "larry", "laurence"),
    ("leonard", "leo", "len", "lenny"),
    ("raymond", "ray"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donnie"),
    ("gerald", "gerry", "jerry"),
    ("francisco", "frank", "paco", "pancho", "chico", "cisco"),
    ("francis", "frank", "frankie", "fran"),
    ("guillermo", "memo", "guille"),
    ("enrique", "kike", "henry", "hank", "harry", "henrique"),
    ("ignacio", "nacho"),
    ("jesus", "chuy"),
    ("manuel", "manolo", "manny", "manu"),
    ("roberto", "beto", "robert"),
    ("margaret", "maggie", "meg", "peggy", "marge", "margarita", "rita"),
    ("elizabeth", "liz", "lizzie", "beth", "betty", "betsy", "eliza", "isabel", "isabella", "bela"),
    ("katherine", "catherine", "kathryn", "kate", "katie", "kathy", "cathy", "kat", "catarina"),
    ("jennifer", "jen", "jenny"),
    ("patricia", "pat", "patty", "trish", "tricia"),
    ("susan", "sue", "susie", "suzanne"),
    ("deborah", "debra", "deb", "debbie"),
    ("rebecca", "becky", "becca"),
    ("victoria", "vicky", "tori"),
    ("christine", "christina", "chris", "tina", "cristina"),
    ("abigail", "abby", "gail"),
    ("alexandra", "alex", "sandra", "sandy", "lexi", "alejandra"),
    ("dorothy", "dot", "dottie"),
    ("josephine", "jo", "josie"),
    ("maria", "mary", "mari", "marie", "mariah"),
    ("anne", "ann", "anna", "ana", "annie", "nancy", "hannah"),
    ("joao", "john", "joaozinho"),
    ("luis", "luiz", "lou", "louis", "lucho"),
)

_DEFAULT_ROOTS = nickname_roots(NICKNAMES)


def given_roots(first: str, roots: dict[str, frozenset[str]] | None = None) -> frozenset[str]:
    """The roots of the first given name, with the district's nickname table by default."""
    return watchkeys.given_roots(first, _DEFAULT_ROOTS if roots is None else roots)


def name_keys(first: str, last: str, roots: dict[str, frozenset[str]] | None = None) -> frozenset[str]:
    """Every ``surname|root`` pair of a person, with the district's nickname table by default."""
    return watchkeys.name_keys(first, last, _DEFAULT_ROOTS if roots is None else roots)


@dataclass(frozen=True)
class WatchEntry:
    """One watch-list person as the matcher sees them."""

    id: int
    first: str
    last: str
    dob: date | None = None


@dataclass(frozen=True)
class Screening:
    """The outcome: entry ids the visitor possibly matches (empty: clear)."""

    hits: tuple[int, ...] = ()
    dismissed: tuple[int, ...] = ()

    @property
    def is_clear(self) -> bool:
        """No possible match left after dismissed false matches."""
        return not self.hits


@dataclass
class WatchIndex:
    """The watch list indexed by match keys; built once, screened many times."""

    by_name: dict[str, set[int]] = field(default_factory=dict)
    by_dob: dict[str, set[int]] = field(default_factory=dict)
    without_dob: set[int] = field(default_factory=set)
    roots: dict[str, frozenset[str]] = field(default_factory=lambda: _DEFAULT_ROOTS)

    @classmethod
    def build(cls, entries: Iterable[WatchEntry], nicknames: Iterable[Sequence[str]] = NICKNAMES) -> "WatchIndex":
        """Index ``entries`` with the given nickname table."""
        index = cls(roots=nickname_roots(nicknames))
        for entry in entries:
            index.add(entry)
        return index

    def add(self, entry: WatchEntry) -> None:
        """Index one more entry."""
        names = name_keys(entry.first, entry.last, self.roots)
        for key in names:
            self.by_name.setdefault(key, set()).add(entry.id)
        if entry.dob is None:
            self.without_dob.add(entry.id)
        else:
            for key in dob_keys(names, entry.dob):
                self.by_dob.setdefault(key, set()).add(entry.id)

    def screen(self, first: str, last: str, dob: date | None, *, dismissed: Iterable[int] = ()) -> Screening:
        """Possible matches for a visitor, minus entries already dismissed for this person."""
        names = name_keys(first, last, self.roots)
        hits: set[int] = set()
        for key in names:
            ids = self.by_name.get(key, ())
            # Name alone matches when either side has no date of birth.
            hits.update(ids if dob is None else (i for i in ids if i in self.without_dob))
        if dob is not None:
            for key in dob_keys(names, dob):
                hits.update(self.by_dob.get(key, ()))
        gone = set(dismissed) & hits
        return Screening(hits=tuple(sorted(hits - gone)), dismissed=tuple(sorted(gone)))


def cache_entries(entries: Iterable[WatchEntry], secret: bytes,
                  nicknames: Iterable[Sequence[str]] = NICKNAMES) -> list[list]:
    """``[id, [name keys], [dob keys]]`` per entry, hashed: the kiosk's offline watch list.

    An entry without a date of birth has an empty dob-key list and matches on name alone.
    """
    roots = nickname_roots(nicknames)
    out: list[list] = []
    for entry in entries:
        names = name_keys(entry.first, entry.last, roots)
        dobs = dob_keys(names, entry.dob) if entry.dob else frozenset()
        out.append([entry.id, sorted(hash_key(secret, k) for k in names),
                    sorted(hash_key(secret, k) for k in dobs)])
    return out


def person_fingerprint(secret: bytes, first: str, last: str, dob: date | None) -> str:
    """A keyed hash naming one visitor across visits, for remembering dismissed false matches.

    The hub keeps this, never the date of birth itself.
    """
    names = sorted(name_keys(first, last))
    material = "\x1f".join([*names, dob.isoformat() if dob else "-"])
    return hmac.new(secret, material.encode("utf-8"), hashlib.sha256).hexdigest()
