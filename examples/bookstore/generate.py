"""Make the bookstore's 3000 science-fiction books, deterministically.

``python -m examples.bookstore.generate`` rewrites ``books.json`` next to this file. The data
comes from word lists and ``random.Random(SEED)`` only (no network, no other dependency), so
the same script always writes the same bytes; a test regenerates it in memory and compares
it with the shipped file. Descriptions are kept short so that the file stays small.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

SEED = 20150420
COUNT = 3000
BOOKS_JSON = Path(__file__).resolve().parent / "books.json"

_ADJECTIVES = (
    "Silent",
    "Last",
    "Hollow",
    "Burning",
    "Frozen",
    "Distant",
    "Broken",
    "Hidden",
    "Iron",
    "Crimson",
    "Endless",
    "Quantum",
    "Drifting",
    "Forgotten",
    "Shattered",
    "Electric",
    "Pale",
    "Infinite",
    "Dark",
    "Golden",
    "Ancient",
    "Restless",
    "Hungry",
    "Sleeping",
    "Orbital",
    "Feral",
    "Glass",
    "Neon",
    "Obsidian",
    "Wandering",
)
_NOUNS = (
    "Star",
    "Engine",
    "Horizon",
    "Colony",
    "Signal",
    "Machine",
    "Nebula",
    "Frontier",
    "Empire",
    "Station",
    "Ocean",
    "Archive",
    "Garden",
    "Harvest",
    "Moon",
    "Reactor",
    "Citadel",
    "Drift",
    "Protocol",
    "Orbit",
    "Singularity",
    "Comet",
    "Beacon",
    "Labyrinth",
    "Storm",
    "Voyage",
    "Exile",
    "Relay",
    "Swarm",
    "Tide",
)
_PLACES = (
    "Titan",
    "Europa",
    "Andromeda",
    "Kepler-22",
    "Proxima",
    "Ganymede",
    "the Outer Rim",
    "Vega",
    "Tau Ceti",
    "the Belt",
    "Enceladus",
    "Sirius",
    "Callisto",
    "the Void",
    "New Eden",
    "Arcturus",
    "Mars",
    "Trappist",
)
_FIRST = (
    "Ada",
    "Isaac",
    "Ursula",
    "Arthur",
    "Octavia",
    "Philip",
    "Frank",
    "Ray",
    "Lena",
    "Kim",
    "Iain",
    "Nnedi",
    "Liu",
    "Ted",
    "Becky",
    "Martha",
    "Vernor",
    "Connie",
    "Samuel",
    "Joanna",
    "Greg",
    "Anne",
    "Hugo",
    "Mira",
    "Tomas",
    "Yoko",
    "Ravi",
    "Elena",
    "Olu",
    "Sven",
)
_LAST = (
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Hale",
    "Varga",
    "Brennan",
    "Castell",
    "Ibarra",
    "Novak",
    "Quill",
    "Sorensen",
    "Achebe",
    "Whitlock",
    "Marsh",
    "Petrov",
    "Delgado",
    "Huang",
    "Kowalski",
    "Ferro",
    "Nakamura",
    "Ashby",
    "Rourke",
    "Valdez",
    "Kerrigan",
    "Osei",
    "Lund",
    "Pereira",
    "Dubois",
    "Stroud",
)
_HEROES = (
    "a salvage pilot",
    "an android archivist",
    "a disgraced admiral",
    "two rival engineers",
    "a colony doctor",
    "a smuggler",
    "the last linguist",
    "a rogue AI",
    "a teenage navigator",
    "a retired terraformer",
    "a ship's cook",
    "a cartographer",
)
_VERBS = (
    "uncovers",
    "must outrun",
    "bargains with",
    "awakens",
    "chases",
    "decodes",
    "defends",
    "betrays",
    "falls for",
    "escapes",
)
_THINGS = (
    "a derelict generation ship",
    "an alien signal",
    "a dying sun",
    "a mutiny",
    "a time loop",
    "a plague of memory",
    "a sentient storm",
    "a war fleet",
    "a lost colony",
    "a machine god",
    "a stolen star map",
    "a black hole",
)
_ENDINGS = (
    "before the air runs out.",
    "on the edge of known space.",
    "while the empire collapses.",
    "with nothing but a broken radio.",
    "and learns what home means.",
    "a thousand years too late.",
    "as the stars go dark.",
    "in a city that never sleeps.",
)


def _title(rng: random.Random) -> str:
    shape = rng.randrange(5)
    adjective, noun, place = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_PLACES)
    if shape == 0:
        return f"The {adjective} {noun}"
    if shape == 1:
        return f"{noun} of {place}"
    if shape == 2:
        return f"The {noun}s of {place}"
    if shape == 3:
        return f"{adjective} {noun}"
    return f"Beyond the {adjective} {noun}"


def generate_books(seed: int = SEED, count: int = COUNT) -> list[dict[str, Any]]:
    """``count`` books with ids 1..count; the same seed always gives the same books."""
    rng = random.Random(seed)
    books = []
    for book_id in range(1, count + 1):
        hero = rng.choice(_HEROES)
        description = f"{hero[0].upper()}{hero[1:]} {rng.choice(_VERBS)} {rng.choice(_THINGS)} {rng.choice(_ENDINGS)}"
        books.append(
            {
                "id": book_id,
                "title": _title(rng),
                "author": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                "year": rng.randint(1950, 2024),
                "rating": rng.randint(10, 50) / 10,
                "pages": rng.randint(120, 900),
                "description": description,
                "cover": f"#{rng.randrange(0x1000000):06x}",
            }
        )
    return books


def to_json(books: list[dict[str, Any]]) -> str:
    """One book per line: a small file whose diffs stay readable."""
    lines = ",\n".join(json.dumps(book, ensure_ascii=False, separators=(",", ":")) for book in books)
    return f"[\n{lines}\n]\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=BOOKS_JSON, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text = to_json(generate_books())
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {COUNT} books ({len(text.encode()):,} bytes) to {args.output}")


if __name__ == "__main__":
    main()
