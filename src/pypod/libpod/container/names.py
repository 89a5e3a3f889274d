"""Random container names in podman's "adjective_surname" style."""

from __future__ import annotations

from pypod.libpod.osutil import random_choice

ADJECTIVES = (
    "admiring", "adoring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring",
    "brave", "busy", "charming", "clever", "cool", "compassionate", "competent", "confident",
    "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic",
    "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
    "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy",
    "gracious", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring",
    "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice",
    "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive",
    "practical", "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad",
    "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious",
    "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant",
    "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
)  # fmt: skip

SURNAMES = (
    "albattani", "allen", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik",
    "bell", "bhabha", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta", "brattain",
    "brown", "carson", "cerf", "chandrasekhar", "chatelet", "clarke", "colden", "cori", "curie",
    "darwin", "davinci", "dijkstra", "dubinsky", "easley", "einstein", "elion", "engelbart",
    "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg",
    "goldstine", "goldwasser", "goodall", "hamilton", "hawking", "heisenberg", "hermann",
    "hodgkin", "hoover", "hopper", "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson",
    "joliot", "kalam", "kapitsa", "kare", "keller", "kepler", "khorana", "kilby", "knuth",
    "lalande", "lamarr", "leakey", "leavitt", "lehmann", "lewin", "liskov", "lovelace",
    "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle",
    "minsky", "mirzakhani", "morse", "napier", "nash", "newton", "nobel", "noether", "payne",
    "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "rosalind",
    "sammet", "shannon", "shockley", "sinoussi", "stonebraker", "swanson", "tesla", "thompson",
    "torvalds", "turing", "varahamihira", "visvesvaraya", "wescoff", "wiles", "williams",
    "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
)  # fmt: skip


def random_name() -> str:
    """A name like ``happy_turing`` (callers retry on a clash)."""
    return f"{random_choice(ADJECTIVES)}_{random_choice(SURNAMES)}"

