"""Where the demo's people work and how they are reached: UK addresses and telephone numbers.

Telephone numbers come only from Ofcom's ranges reserved for drama (never allocated to a real
line), and towns are given postcodes of their own area, so that the estate reads like a UK
company's records without naming anyone's real number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Town, then the postcode districts the town's addresses are drawn from.
TOWNS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (town, tuple(districts.split()))
    for town, districts in (
        ("London", "EC1A EC2M EC3V EC4A WC1B WC2H SE1 E1 E14 N1 NW1 W1T W2 SW1A SW11"),
        ("Luton", "LU1 LU2 LU3 LU4"),
        ("Bedford", "MK40 MK41 MK42"),
        ("Milton Keynes", "MK5 MK9 MK10 MK14"),
        ("St Albans", "AL1 AL3 AL4"),
        ("Stevenage", "SG1 SG2"),
        ("Watford", "WD17 WD18 WD24"),
        ("Cambridge", "CB1 CB2 CB4"),
        ("Oxford", "OX1 OX2 OX4"),
        ("Reading", "RG1 RG2 RG30"),
        ("Guildford", "GU1 GU2"),
        ("Brighton", "BN1 BN2 BN3"),
        ("Southampton", "SO14 SO15 SO16"),
        ("Bristol", "BS1 BS2 BS8 BS16"),
        ("Exeter", "EX1 EX2 EX4"),
        ("Plymouth", "PL1 PL4 PL6"),
        ("Swindon", "SN1 SN2 SN5"),
        ("Birmingham", "B1 B2 B3 B15 B37"),
        ("Coventry", "CV1 CV3 CV4"),
        ("Leicester", "LE1 LE2 LE4"),
        ("Nottingham", "NG1 NG2 NG7"),
        ("Derby", "DE1 DE21 DE24"),
        ("Northampton", "NN1 NN3 NN4"),
        ("Peterborough", "PE1 PE2"),
        ("Norwich", "NR1 NR3 NR7"),
        ("Chelmsford", "CM1 CM2"),
        ("Manchester", "M1 M2 M3 M4 M15 M50"),
        ("Liverpool", "L1 L2 L3 L24"),
        ("Preston", "PR1 PR2"),
        ("Leeds", "LS1 LS2 LS11 LS27"),
        ("Sheffield", "S1 S2 S9"),
        ("York", "YO1 YO10 YO30"),
        ("Hull", "HU1 HU2 HU7"),
        ("Newcastle upon Tyne", "NE1 NE4 NE6"),
        ("Cardiff", "CF10 CF11 CF24"),
        ("Swansea", "SA1 SA6"),
        ("Edinburgh", "EH1 EH2 EH3 EH12"),
        ("Glasgow", "G1 G2 G3 G51"),
        ("Aberdeen", "AB10 AB11 AB21"),
        ("Belfast", "BT1 BT2 BT3 BT7"),
    )
)
# The letters a postcode's last two characters use (never C, I, K, M, O or V).
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
STREET_STEMS = (
    "High", "Station", "Church", "Mill", "Park", "Victoria", "Queen's", "King's", "London",
    "Manor", "Bridge", "Market", "Castle", "Riverside", "Chapel", "Green", "North", "South",
    "Albert", "George", "York", "Windsor", "Meadow", "Orchard", "Canal", "Harbour", "Abbey",
)  # fmt: skip
STREET_KINDS = (
    "Street", "Road", "Lane", "Avenue", "Way", "Close", "Drive", "Place", "Court", "Row",
    "Square", "Crescent", "Terrace", "Gardens", "Parade",
)  # fmt: skip
BUSINESS_PARKS = (
    "Business Park", "Enterprise Centre", "Innovation Centre", "Trading Estate",
    "Industrial Estate", "Technology Park", "House", "Court", "Point", "Exchange",
)  # fmt: skip
FLOORS = ("Ground", "First", "Second", "Third", "Fourth", "Fifth")

# Ofcom's drama numbers, as (dialling code, the subscriber number's fixed start); each range
# holds the thousand numbers made by adding three digits.
DRAMA_RANGES = (
    ("0113", "4960"), ("0114", "4960"), ("0115", "4960"), ("0116", "4960"),
    ("0117", "4960"), ("0118", "4960"), ("0121", "4960"), ("0131", "4960"),
    ("0141", "4960"), ("0151", "4960"), ("0161", "4960"), ("020", "79460"),
    ("0191", "4980"), ("028", "96496"), ("029", "20180"), ("01632", "960"),
    ("07700", "900"),
)  # fmt: skip


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    postcode: str

    @property
    def line(self) -> str:
        return f"{self.street}, {self.city}, {self.postcode}"

    def as_json(self) -> dict[str, str]:
        return {"street": self.street, "city": self.city, "postcode": self.postcode}


@dataclass(frozen=True)
class Phone:
    code: str  # the dialling code, with its leading 0: "07700", "020"
    number: str  # the subscriber number: "900123"

    @property
    def _grouped(self) -> str:
        n = self.number
        if len(n) == 8:
            return f"{n[:4]} {n[4:]}"
        if len(n) == 7:
            return f"{n[:3]} {n[3:]}"
        return n

    @property
    def national(self) -> str:
        return f"{self.code} {self._grouped}"

    @property
    def international(self) -> str:
        return f"+44 {self.code[1:]} {self._grouped}"

    @property
    def compact(self) -> str:
        return f"{self.code}{self.number}"

    def as_typed(self, rng: random.Random) -> str:
        """The number as someone might type it into a form: any of the usual spellings."""
        return rng.choice((self.national, self.national, self.international, self.compact))


class PhoneBook:
    """Hands out drama numbers, each once until all are used, then again in a new order.

    Numbers are identities (the CRM finds a person by phone), so two people share one only
    when a very large estate has used up the seventeen thousand.
    """

    def __init__(self, rng: random.Random, *, reserved: frozenset[Phone] = frozenset()) -> None:
        self._rng = rng
        self._all = [
            phone
            for code, start in DRAMA_RANGES
            for tail in range(1000)
            if (phone := Phone(code, f"{start}{tail:03d}")) not in reserved
        ]
        self._left: list[Phone] = []

    def next(self) -> Phone:
        if not self._left:
            self._left = self._all.copy()
            self._rng.shuffle(self._left)
        return self._left.pop()


def postcode(rng: random.Random, districts: tuple[str, ...]) -> str:
    letters = rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
    return f"{rng.choice(districts)} {rng.randint(1, 9)}{letters}"


def street(rng: random.Random, *, business: bool) -> str:
    road = f"{rng.randint(1, 250)} {rng.choice(STREET_STEMS)} {rng.choice(STREET_KINDS)}"
    if not business:
        return road
    roll = rng.random()
    if roll < 0.3:
        return f"Unit {rng.randint(1, 40)}, {rng.choice(STREET_STEMS)} {rng.choice(BUSINESS_PARKS)}"
    if roll < 0.5:
        return f"Suite {rng.randint(1, 30)}, {road}"
    if roll < 0.65:
        return f"{rng.choice(FLOORS)} Floor, {road}"
    return road


def address(rng: random.Random, *, business: bool) -> Address:
    town, districts = rng.choice(TOWNS)
    return Address(street(rng, business=business), town, postcode(rng, districts))
