"""Synthetic demo data: `manage.py seed_demo [--families N] [--seed S]`.

Realistic families for demos and benchmarks, built to show the failures serious case reviews keep
finding: fathers and new partners living elsewhere (sometimes with no way to reach them, sometimes
not recorded at all), children not brought to appointments, engagement that declines, families
with no lead professional, anonymous referrals.

Deterministic: every family draws from its own `random.Random(f"{seed}:{index}")`, and every date
is an offset from the `as_of` anchor (today unless given), so the same seed, count and anchor give
the same names, dates and statuses whatever the batch size. Names come from Faker (en_GB) pools
built once per seed. Phone numbers are from Ofcom's ranges reserved for drama (07700 900xxx,
01632 960xxx) and e-mail domains end in `.example`, so nothing points at a real person.

Fast (100,000 families, about 2 million visits and appointments, in a few minutes on 2 cores):
rows are built in memory with their ids drawn up front (from the tables' sequences on PostgreSQL),
then written one atomic transaction per batch of families: streamed with COPY on PostgreSQL, by two
writer threads while the next batch is built; with `bulk_create` elsewhere (SQLite in development).
No per-row saves, services, signals or audit events: this is synthetic data, not a practitioner's
change to a record.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, TextIO

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone
from faker import Faker

from referrals.models import Concern, Referral, ReferralDecision, ReferralSource
from visits.models import Appointment, AppointmentKind, AppointmentStatus, Visit, VisitStatus

from .models import (
    Agency,
    AgencyKind,
    Family,
    FamilyLevel,
    FamilyStatus,
    GapReason,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    MemberRole,
    Relationship,
    RelationshipKind,
    Role,
    Team,
    User,
)

DEFAULT_FAMILIES = 200
DEFAULT_SEED = 1
DEFAULT_BATCH = 2_000  # families per transaction
ROWS_PER_INSERT = 1_000
WRITERS = 2  # batches written at once on PostgreSQL, each by its own thread and connection
LOCAL_AUTHORITY = "Northshire"
COUNCIL = "Northshire Children's Services"
HISTORY_DAYS = 548  # about 18 months
FUTURE_DAYS = 28
RECENT_DAYS = 90


class DemoDataExists(Exception):
    """Demo data for this seed is already in the database."""


def reference_prefix(seed: int) -> str:
    return f"DEMO-{seed}-"


# --- fixed cast: agencies and teams -----------------------------------------------------------

AGENCIES: tuple[tuple[str, str], ...] = (
    (COUNCIL, AgencyKind.SOCIAL_CARE),
    ("Northshire Early Help", AgencyKind.EARLY_HELP),
    ("Northshire Health Visiting", AgencyKind.HEALTH_VISITING),
    ("Northshire Midwifery Service", AgencyKind.MIDWIFERY),
    ("Northtown Medical Practice", AgencyKind.GP),
    ("Riverside Surgery", AgencyKind.GP),
    ("Castlegate Health Centre", AgencyKind.GP),
    ("Northshire General Hospital", AgencyKind.HOSPITAL),
    ("Northshire CAMHS", AgencyKind.OTHER),
    ("Northshire Community Dental Service", AgencyKind.OTHER),
    ("Northtown Primary School", AgencyKind.SCHOOL),
    ("Riverside Primary School", AgencyKind.SCHOOL),
    ("St Anne's C of E Primary School", AgencyKind.SCHOOL),
    ("Northshire Academy", AgencyKind.SCHOOL),
    ("Castlegate High School", AgencyKind.SCHOOL),
    ("Northshire College", AgencyKind.SCHOOL),
    ("Northshire Police", AgencyKind.POLICE),
    ("Northshire Homes", AgencyKind.HOUSING),
    ("Northshire Youth Justice Service", AgencyKind.YOUTH_JUSTICE),
)
GP_PRACTICES = ("Northtown Medical Practice", "Riverside Surgery", "Castlegate Health Centre")
PRIMARY_SCHOOLS = ("Northtown Primary School", "Riverside Primary School", "St Anne's C of E Primary School")
SECONDARY_SCHOOLS = ("Northshire Academy", "Castlegate High School")
COLLEGE = "Northshire College"

TEAM_NAMES = (
    "Assessment Team North",
    "Assessment Team South",
    "Child in Need Team East",
    "Child in Need Team West",
    "Child Protection Team Central",
    "Family Support Team North",
    "Family Support Team South",
    "Children in Care Team",
    "Early Help Team Riverside",
    "Early Help Team Castlegate",
)
PRACTITIONER_TITLES = ("Social worker", "Senior social worker", "Family support worker", "Early help practitioner")


# About 1,000 families a team (issue 7: 100,000 families, 1,000 practitioners, ~10 per team).
FAMILIES_PER_TEAM = 1_000


def team_count(families: int) -> int:
    return max(3, math.ceil(families / FAMILIES_PER_TEAM))


def team_names(count: int) -> list[str]:
    """The named teams first, then numbered ones ("Assessment Team North 2") for a large county."""
    return [
        TEAM_NAMES[i % len(TEAM_NAMES)] + (f" {i // len(TEAM_NAMES) + 1}" if i >= len(TEAM_NAMES) else "")
        for i in range(count)
    ]


def practitioners_per_team(families: int) -> int:
    return max(3, math.ceil(families / 100 / team_count(families)))


# --- word lists --------------------------------------------------------------------------------

GIRLS = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace", "Freya",
    "Willow", "Florence", "Emily", "Ella", "Poppy", "Evie", "Elsie", "Charlotte", "Evelyn", "Sienna", "Daisy",
    "Phoebe", "Sofia", "Alice", "Harper", "Matilda", "Ruby", "Emilia", "Maya", "Millie", "Isabelle", "Jessica",
    "Chloe", "Leah", "Lea", "Kayleigh", "Kayley", "Zoe", "Zoey", "Aaliyah", "Amira", "Nevaeh", "Lacey", "Skye",
)  # fmt: skip
BOYS = (
    "Noah", "Muhammad", "Mohammed", "George", "Oliver", "Leo", "Arthur", "Oscar", "Theodore", "Freddie", "Jack",
    "Charlie", "Archie", "Henry", "Alfie", "Jacob", "Finley", "Tommy", "Harry", "Lucas", "Teddy", "Reggie",
    "Riley", "Mason", "Ethan", "Kai", "Kye", "Tyler", "Jayden", "Jaden", "Callum", "Calum", "Aiden", "Aidan",
    "Logan", "Dylan", "Kian", "Rory", "Reece", "Ronnie", "Lewis", "Brandon", "Ashton", "Bobby", "Frankie",
)  # fmt: skip
# Alternative spellings in use for the same child (seed 004: "check the exact spelling of names").
SPELLINGS = {
    "Kai": "Kye", "Kye": "Kai", "Leah": "Lea", "Lea": "Leah", "Kayleigh": "Kayley", "Kayley": "Kayleigh",
    "Zoe": "Zoey", "Zoey": "Zoe", "Jayden": "Jaden", "Jaden": "Jayden", "Callum": "Calum", "Calum": "Callum",
    "Aiden": "Aidan", "Aidan": "Aiden", "Mohammed": "Muhammad", "Muhammad": "Mohammed", "Isabelle": "Isabel",
    "Sofia": "Sophia", "Sophia": "Sofia", "Reece": "Rhys", "Lacey": "Lacie", "Kian": "Keiran",
}  # fmt: skip
STREET_KINDS = ("Road", "Street", "Close", "Avenue", "Way", "Lane", "Crescent", "Drive", "Gardens", "Court", "Walk")
TOWNS = ("Northtown", "Riverside", "Castlegate", "Millbrook", "Eastfield", "Westholme", "Ashby Moor")
ELSEWHERE_ADDRESSES = ("HMP Northshire", "No fixed abode (sofa-surfing)", "Northshire Foyer, Station Road, Northtown")

DISABILITIES = (
    "Cerebral palsy; PEG fed",
    "Autism; non-verbal",
    "Epilepsy; rescue medication (buccal midazolam)",
    "Global developmental delay",
    "Type 1 diabetes; insulin pump",
    "Hearing impairment; cochlear implant",
    "Down's syndrome; heart condition under cardiology",
    "Spina bifida; wheelchair user",
)
MILD_NEEDS = ("Speech and language delay", "ADHD", "Dyslexia", "Autism (awaiting assessment)", "Asthma")

PURPOSES = {
    FamilyLevel.EARLY_HELP: (
        ("Early help review of the family plan", "Progress against the plan reviewed and next actions agreed"),
        ("Support with school attendance and morning routines", "A morning routine agreed with mother"),
        ("Talk through housing and money worries", "Referral to housing options and a debt adviser made"),
        ("Check progress on the parenting programme", "Parent's view of the programme recorded"),
    ),
    FamilyLevel.CHILD_IN_NEED: (
        ("Child in need visit: review the plan", "Children seen; plan reviewed with the family"),
        ("See the children and look at home conditions", "Home conditions assessed; any concerns escalated"),
        ("Talk about the children's missed health appointments", "Parents agree how appointments will be kept"),
        ("Review support for the children's additional needs", "Support in place and parents' views recorded"),
    ),
    FamilyLevel.CHILD_PROTECTION: (
        ("Statutory child protection visit: see the children, alone if possible", "Children seen and spoken to alone"),
        ("Review the safety plan with the family", "Safety plan updated and agreed with parents"),
        ("Check sleeping arrangements and home conditions", "Every child has a safe place to sleep"),
        ("Core group follow-up: review actions with parents", "Actions reviewed; outstanding ones have owners"),
    ),
    FamilyLevel.LOOKED_AFTER: (
        ("Statutory looked-after child visit", "Child seen alone; views recorded for the review"),
        ("Review the care plan with the child and carers", "Care plan reviewed; changes recorded"),
        ("Review contact arrangements with birth family", "Contact arrangements agreed"),
    ),
}  # fmt: skip
HV_PURPOSE = ("Health visitor home visit: growth and development review", "Growth and development recorded")
UNPLANNED_PURPOSES = ("Drop-in after a call from school", "Passing: checking in after the police call-out", "")
OUTCOMES = {
    VisitStatus.COMPLETED: (
        "Children seen; home warm and tidy; mother engaged well.",
        "Children seen together; plan reviewed; mother agreed to book the GP.",
        "Home cluttered but safe; little food in the cupboards; food bank voucher given.",
        "Father present; discussed the arguments neighbours reported; both agreed to the plan.",
        "Mother tired and low; agreed to see the GP about her mood.",
        "Strong smell of damp; mould in the children's bedroom; housing contacted.",
    ),
    VisitStatus.NO_ACCESS: (
        "No answer at the door; card left.",
        "Mother spoke through the window and refused entry.",
        "Curtains drawn; voices heard inside but nobody answered.",
    ),
    VisitStatus.CANCELLED_BY_FAMILY: ("Mother rang the day before to cancel: child unwell.", "Family away; rebooked."),
    VisitStatus.CANCELLED_LATE: ("Mother texted an hour before to cancel.", "Father rang on the morning to cancel."),
    VisitStatus.RESCHEDULED: ("Moved at the family's request.", "Moved to fit around a hospital appointment."),
    VisitStatus.CANCELLED_BY_SERVICE: ("Practitioner off sick; visit rebooked.", "Court attendance; visit rebooked."),
}
NEXT_STEPS = (
    "Next visit booked in two weeks.",
    "Chase GP for a health update.",
    "Refer to the food bank.",
    "Raise at the next core group.",
    "Ask school for attendance figures.",
    "Discuss with the team manager in supervision.",
)
VOICES = (
    "{name} said they like their new teacher.",
    "{name} said they are sometimes hungry in the mornings.",
    "{name} was quiet and did not want to talk today.",
    "{name} showed me their bedroom and said they share a bed with a sibling.",
    "{name} said mum and her boyfriend shout at night.",
    "{name} said they miss their dad.",
)
HOME_CONDITIONS = (
    "Warm, clean and tidy.",
    "Cluttered but safe.",
    "Mould in the children's bedroom.",
    "Little food in the kitchen.",
    "Dog mess on the kitchen floor.",
    "No working heating.",
)
APPOINTMENT_NOTES = {
    AppointmentStatus.WAS_NOT_BROUGHT: ("Mother said she forgot.", "No reply when the clinic phoned.", ""),
    AppointmentStatus.DID_NOT_ATTEND: ("No reply when the surgery phoned.", ""),
}
REFERRAL_TEXT = {
    Concern.NEGLECT: "School report {child} arriving hungry and in unwashed clothes most days.",
    Concern.PHYSICAL_ABUSE: "{child} had bruising to the upper arm that they could not explain.",
    Concern.EMOTIONAL_ABUSE: "Neighbour hears {child} being shouted at and called names most evenings.",
    Concern.SEXUAL_ABUSE: "{child} disclosed something to a teacher that worried them.",
    Concern.DOMESTIC_ABUSE: "Police attended a domestic incident at the home; the children were present.",
    Concern.EXPLOITATION: "{child} is going missing overnight and has new clothes and a second phone.",
    Concern.HOME_CONDITIONS: "Home described as dirty and cold, with rubbish piled in the garden.",
    Concern.MENTAL_HEALTH: "Mother says she is struggling to cope and is not sleeping.",
    Concern.SUBSTANCE_MISUSE: "Parents thought to be drinking heavily while caring for the children.",
    Concern.OTHER: "Family recently moved into the area and has no GP registered.",
}
CONCERN_WEIGHTS = {
    Concern.NEGLECT: 30,
    Concern.PHYSICAL_ABUSE: 8,
    Concern.EMOTIONAL_ABUSE: 10,
    Concern.SEXUAL_ABUSE: 2,
    Concern.DOMESTIC_ABUSE: 15,
    Concern.EXPLOITATION: 4,
    Concern.HOME_CONDITIONS: 10,
    Concern.MENTAL_HEALTH: 10,
    Concern.SUBSTANCE_MISUSE: 8,
    Concern.OTHER: 3,
}
PROFESSIONALS = (
    ("health visitor", "health.northshire.example"),
    ("designated safeguarding lead", "schools.northshire.example"),
    ("GP", "gp.northshire.example"),
    ("police officer", "police.northshire.example"),
    ("midwife", "health.northshire.example"),
    ("housing officer", "homes.northshire.example"),
)
RELATIVES = ("maternal grandmother", "paternal grandmother", "aunt", "uncle", "father")
SUPPORTERS = (
    "Family support worker, Castlegate Children's Centre",
    "Citizens Advice adviser, Northtown",
    "Church youth leader, St Anne's",
)

ARCHETYPES = (
    "father_elsewhere",  # lone mother; the children's father lives elsewhere
    "no_father",  # lone mother; no father recorded at all
    "two_parents",
    "blended",  # mother, step-parent, the children's father living elsewhere
    "partner_elsewhere",  # mother with a new partner who lives elsewhere
    "grandparent_carers",
    "disabled_child",
)
ARCHETYPE_WEIGHTS = (24, 12, 26, 12, 11, 6, 9)
# The first referral of the first families shows each kind of referrer: (source, with extra details).
SHOWCASE_REFERRALS = {
    0: (ReferralSource.ANONYMOUS, True),
    1: (ReferralSource.ANONYMOUS, False),
    2: (ReferralSource.PUBLIC, True),
    3: (ReferralSource.CHILD, None),
    4: (ReferralSource.FAMILY, None),
    5: (ReferralSource.PROFESSIONAL, None),
}
LEVELS = (FamilyLevel.EARLY_HELP, FamilyLevel.CHILD_IN_NEED, FamilyLevel.CHILD_PROTECTION, FamilyLevel.LOOKED_AFTER)
LEVEL_WEIGHTS = (40, 36, 18, 6)
VISITS_PER_MONTH = {
    FamilyLevel.EARLY_HELP: 0.85,
    FamilyLevel.CHILD_IN_NEED: 1.2,
    FamilyLevel.CHILD_PROTECTION: 2.1,
    FamilyLevel.LOOKED_AFTER: 1.0,
}
VISIT_FAILURES = (
    VisitStatus.NO_ACCESS,
    VisitStatus.CANCELLED_BY_FAMILY,
    VisitStatus.CANCELLED_LATE,
    VisitStatus.RESCHEDULED,
)
VISIT_FAILURE_WEIGHTS = (40, 25, 15, 20)
# (kind, agency name or a role-specific marker, weight); "@gp" / "@school" mean the member's own.
CHILD_APPOINTMENTS = {
    "baby": (
        (AppointmentKind.HEALTH_REVIEW, "Northshire Health Visiting", 30),
        (AppointmentKind.DEVELOPMENT_CHECK, "Northshire Health Visiting", 20),
        (AppointmentKind.IMMUNISATION, "@gp", 20),
        (AppointmentKind.GP, "@gp", 20),
        (AppointmentKind.HOSPITAL, "Northshire General Hospital", 5),
        (AppointmentKind.DENTAL, "Northshire Community Dental Service", 5),
    ),
    "primary": (
        (AppointmentKind.GP, "@gp", 35),
        (AppointmentKind.DENTAL, "Northshire Community Dental Service", 25),
        (AppointmentKind.SCHOOL_MEETING, "@school", 25),
        (AppointmentKind.IMMUNISATION, "@gp", 8),
        (AppointmentKind.HOSPITAL, "Northshire General Hospital", 7),
    ),
    "secondary": (
        (AppointmentKind.GP, "@gp", 30),
        (AppointmentKind.DENTAL, "Northshire Community Dental Service", 20),
        (AppointmentKind.SCHOOL_MEETING, "@school", 30),
        (AppointmentKind.CAMHS, "Northshire CAMHS", 14),
        (AppointmentKind.HOSPITAL, "Northshire General Hospital", 6),
    ),
}
SPECIALIST_APPOINTMENTS = (
    (AppointmentKind.PAEDIATRIC_REVIEW, "Northshire General Hospital", 40),
    (AppointmentKind.THERAPY, "Northshire General Hospital", 35),
    (AppointmentKind.HOSPITAL, "Northshire General Hospital", 25),
)
ADULT_APPOINTMENTS = (
    (AppointmentKind.GP, "@gp", 60),
    (AppointmentKind.HOSPITAL, "Northshire General Hospital", 25),
    (AppointmentKind.OTHER, "Northshire Homes", 15),
)


def _weighted(table: Sequence[tuple[Any, str, int]]) -> tuple[list[tuple[Any, str]], list[int]]:
    cumulative, total = [], 0
    for _kind, _agency, weight in table:
        total += weight
        cumulative.append(total)
    return [(kind, agency) for kind, agency, _w in table], cumulative


# --- helpers -----------------------------------------------------------------------------------


def _unique(make: Callable[[], str], count: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(count * 20):
        seen.setdefault(make(), None)
        if len(seen) >= count:
            break
    return list(seen)


def _phone(rng: random.Random) -> str:
    return f"07700 900{rng.randrange(1000):03d}"


@dataclass
class _Staff:
    team: Team
    manager: User
    practitioners: list[User]


@dataclass
class _Plan:
    """One family being built: its unsaved rows and what phase 2 needs to know."""

    index: int
    rng: random.Random
    family: Family
    staff: _Staff
    start: int  # day offsets from as_of (negative = past)
    end: int  # last day with activity: 0 for open families, the closing day for closed ones
    engagement: float  # the family's usual share of unsuccessful contacts
    deteriorating: bool
    wnb_two_agencies: bool
    members: list[Member] = field(default_factory=list)
    children: list[Member] = field(default_factory=list)
    ages: dict[int, int] = field(default_factory=dict)  # id(member) -> age in years at as_of
    parents: list[Member] = field(default_factory=list)
    couples: list[tuple[Member, Member]] = field(default_factory=list)
    gaps: list[tuple[Member | None, str, str, str]] = field(default_factory=list)
    gp: str = ""
    disabled: Member | None = None
    # (member, agency, kind, time) already given: an exact duplicate appointment is refused by the
    # database (visits.Appointment), so a second draw of the same slot moves on 15 minutes.
    appointment_slots: set = field(default_factory=set)


# The high-volume rows are plain tuples in these column orders (see `_write`).
RELATIONSHIP_COLUMNS = ("family_id", "from_member_id", "to_member_id", "kind", "created_at")
VISIT_COLUMNS = (
    "family_id",
    "practitioner_id",
    "agency_id",
    "planned",
    "purpose",
    "expected_outcome",
    "purpose_shared_with_family",
    "scheduled_for",
    "status",
    "outcome",
    "next_steps",
    "voice_of_child",
    "home_conditions",
    "created_by_id",
    "created_at",
    "updated_at",
)
APPOINTMENT_COLUMNS = (
    "member_id",
    "family_id",
    "for_child",
    "agency_id",
    "kind",
    "scheduled_for",
    "critical",
    "status",
    "notes",
    "created_by_id",
    "created_at",
    "updated_at",
)


@dataclass
class _Rows:
    relationships: list[tuple] = field(default_factory=list)
    leads: list[LeadProfessionalAssignment] = field(default_factory=list)
    gaps: list[InformationGap] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    visits: list[tuple] = field(default_factory=list)
    appointments: list[tuple] = field(default_factory=list)
    seen: list[tuple[int, int]] = field(default_factory=list)  # (index in visits, child id)
    seen_alone: list[tuple[int, int]] = field(default_factory=list)


class _Builder:
    def __init__(self, *, seed: int, as_of: dt.date, staff: list[_Staff], agencies: dict[str, Agency]) -> None:
        self.seed = seed
        self.as_of = as_of
        self.staff = staff
        self.agency_ids = {name: agency.pk for name, agency in agencies.items()}
        self.council_id = self.agency_ids[COUNCIL]
        self.hv_id = self.agency_ids["Northshire Health Visiting"]
        self.now = timezone.now()
        tz = timezone.get_current_timezone()
        # Midnight (local time) of every day from 19 months back to 5 weeks ahead; offset 0 is as_of.
        self.first_offset = -(HISTORY_DAYS + 60)
        self.day_starts = [
            dt.datetime.combine(as_of + dt.timedelta(days=offset), dt.time(), tzinfo=tz)
            for offset in range(self.first_offset, FUTURE_DAYS + 8)
        ]
        self.as_of_start = self.day_starts[-self.first_offset]
        self.as_of_weekday = as_of.weekday()
        fake = Faker("en_GB")
        fake.seed_instance(seed)
        self.women = _unique(fake.first_name_female, 150)
        self.men = _unique(fake.first_name_male, 150)
        self.surnames = _unique(fake.last_name, 400)
        self.adult_names = self.women + self.men
        self.streets = [f"{name} {kind}" for name in _unique(fake.last_name, 120) for kind in STREET_KINDS[:4]]
        self.postcodes = _unique(fake.postcode, 800)
        self.child_tables = {band: _weighted(table) for band, table in CHILD_APPOINTMENTS.items()}
        self.specialist_table = _weighted(SPECIALIST_APPOINTMENTS)
        self.adult_table = _weighted(ADULT_APPOINTMENTS)

    # -- time ------------------------------------------------------------------------------------

    def at(self, offset: int, rng: random.Random) -> dt.datetime:
        """A working-hours moment on the day `offset` days from as_of (weekends move to the Friday)."""
        day = (self.as_of_weekday + offset) % 7
        if day >= 5:
            offset -= day - 4
        minutes = 9 * 60 + 15 * rng.randrange(32)  # 09:00 to 16:45
        return self.day_starts[offset - self.first_offset] + dt.timedelta(minutes=minutes)

    def dob(self, rng: random.Random, age: int) -> dt.date:
        return self.as_of - dt.timedelta(days=age * 365 + rng.randrange(365))

    # -- phase 1: the family and its members -----------------------------------------------------

    def family(self, index: int) -> _Plan:
        rng = random.Random(f"{self.seed}:{index}")
        r = rng.random
        # The first families are a showcase: one of each archetype and each failure mode.
        showcase = index < len(ARCHETYPES)
        archetype = ARCHETYPES[index] if showcase else rng.choices(ARCHETYPES, ARCHETYPE_WEIGHTS)[0]
        level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        age_days = rng.randint(14, HISTORY_DAYS)
        closed = r() < 0.10 and age_days > 60 and not showcase
        deteriorating = not closed and (r() < 0.10 or index == 2)
        if deteriorating:
            age_days = max(age_days, rng.randint(200, HISTORY_DAYS))
        wnb_two_agencies = not closed and (r() < 0.03 or index == 4)
        start = -age_days
        end = -rng.randint(7, min(150, age_days - 30)) if closed else 0
        staff = self.staff[rng.randrange(len(self.staff))]
        lead = None if (r() < 0.10 or index == 1) else rng.choice(staff.practitioners)
        engagement = rng.choices((0.06, 0.14, 0.28), (60, 30, 10))[0]
        surname = rng.choice(self.surnames)
        created_at = self.at(start, rng)
        confirmed = r() < 0.60
        family = Family(
            reference=f"{reference_prefix(self.seed)}{index:06d}",
            name=f"{surname} family",
            address=f"{rng.randint(1, 180)} {rng.choice(self.streets)}\n{rng.choice(TOWNS)}",
            postcode=rng.choice(self.postcodes),
            local_authority=LOCAL_AUTHORITY,
            level=level,
            status=FamilyStatus.CLOSED if closed else FamilyStatus.OPEN,
            team_id=staff.team.pk,
            lead_professional_id=lead.pk if lead else None,
            significant_adults_confirmed=confirmed,
            significant_adults_confirmed_at=(
                min(created_at + dt.timedelta(days=rng.randint(1, 20)), self.as_of_start) if confirmed else None
            ),
            created_by_id=lead.pk if lead else staff.manager.pk,
            created_at=created_at,
            updated_at=self.now,
        )
        plan = _Plan(
            index=index,
            rng=rng,
            family=family,
            staff=staff,
            start=start,
            end=end,
            engagement=engagement,
            deteriorating=deteriorating,
            wnb_two_agencies=wnb_two_agencies,
            gp=rng.choice(GP_PRACTICES),
        )
        self._household(plan, archetype, surname)
        if confirmed:
            partner = next((m for m in plan.members if m.role == MemberRole.PARTNER), None)
            family.significant_adults_note = (
                f"Mother told us about her partner {partner.given_name}, who lives elsewhere."
                if partner
                else "The family say no other adults are regularly involved with the children."
            )
        return plan

    def _adult(
        self,
        plan: _Plan,
        role: str,
        given: str,
        surname: str,
        age: int,
        *,
        lives: bool = True,
        pr: bool = False,
        dob_known: float = 0.97,
        created_at: dt.datetime | None = None,
    ) -> Member:
        rng = plan.rng
        r = rng.random
        phone = address = ""
        if lives:
            phone = _phone(rng) if r() < 0.85 else ""
        else:
            # Someone living elsewhere must be reachable; sometimes nobody found out how (a gap).
            roll = r()
            if roll < 0.70:
                phone, address = _phone(rng), self._address(rng)
            elif roll < 0.84:
                phone = _phone(rng)
            elif roll < 0.90:
                address = self._address(rng)
        aliases = [f"{given} {rng.choice(self.surnames)}"] if r() < 0.06 else []
        member = Member(
            given_name=given,
            family_name=surname,
            name_spelling_confirmed=r() < (0.88 if lives else 0.6),
            aliases=aliases,
            date_of_birth=self.dob(rng, age) if r() < dob_known else None,
            role=role,
            lives_in_household=lives,
            parental_responsibility=pr,
            contact_phone=phone,
            contact_address=address,
            gp_practice=(plan.gp if r() < 0.8 else "") if lives else "",
            created_at=created_at or plan.family.created_at,
            updated_at=self.now,
        )
        plan.members.append(member)
        if member.date_of_birth is None and r() < 0.4:
            reason = rng.choice((GapReason.DECLINED, GapReason.UNKNOWN, GapReason.NOT_ASKED))
            plan.gaps.append((member, "date_of_birth", reason, f"{given}'s date of birth not known yet."))
        return member

    def _address(self, rng: random.Random) -> str:
        if rng.random() < 0.05:
            return rng.choice(ELSEWHERE_ADDRESSES)
        return f"{rng.randint(1, 220)} {rng.choice(self.streets)}\n{rng.choice(TOWNS)}\n{rng.choice(self.postcodes)}"

    def _children(self, plan: _Plan, surname: str, *, count: int | None = None, max_age: int = 17) -> int:
        rng = plan.rng
        r = rng.random
        count = count or rng.choices((1, 2, 3, 4), (35, 32, 20, 13))[0]
        ages = sorted((rng.randint(0, max_age) for _ in range(count)), reverse=True)
        for age in ages:
            given = rng.choice(GIRLS if r() < 0.5 else BOYS)
            aliases = [f"{SPELLINGS[given]} {surname}"] if given in SPELLINGS and r() < 0.5 else []
            if age < 4:
                school = ""
            elif age < 11:
                school = rng.choice(PRIMARY_SCHOOLS)
            elif age < 16:
                school = rng.choice(SECONDARY_SCHOOLS)
            else:
                school = COLLEGE
            child = Member(
                given_name=given,
                family_name=surname,
                name_spelling_confirmed=r() < 0.85,
                aliases=aliases,
                date_of_birth=self.dob(rng, age),
                role=MemberRole.CHILD,
                lives_in_household=True,
                additional_needs=rng.choice(MILD_NEEDS) if r() < 0.05 else "",
                school=school,
                gp_practice=plan.gp if r() < 0.95 else "",
                created_at=plan.family.created_at,
                updated_at=self.now,
            )
            plan.members.append(child)
            plan.children.append(child)
            plan.ages[id(child)] = age
        return ages[0]

    def _household(self, plan: _Plan, archetype: str, surname: str) -> None:
        rng = plan.rng
        r = rng.random
        if archetype == "disabled_child":
            archetype = "two_parents" if r() < 0.5 else "father_elsewhere"
            disabled = True
        else:
            disabled = False
        if archetype == "grandparent_carers":
            oldest = self._children(plan, surname, max_age=15)
            mother_age = oldest + rng.randint(16, 30)
            grandmother_age = mother_age + rng.randint(18, 28)
            self._adult(plan, MemberRole.GRANDPARENT, rng.choice(self.women), surname, grandmother_age, pr=True)
            plan.parents = []
            if r() < 0.5:
                grandfather_age = grandmother_age + rng.randint(-2, 6)
                self._adult(plan, MemberRole.GRANDPARENT, rng.choice(self.men), surname, grandfather_age, pr=True)
            if r() < 0.7:
                plan.parents.append(
                    self._adult(
                        plan, MemberRole.MOTHER, rng.choice(self.women), surname, mother_age, lives=False, pr=True
                    )
                )
            if r() < 0.35:
                plan.parents.append(
                    self._adult(
                        plan,
                        MemberRole.FATHER,
                        rng.choice(self.men),
                        rng.choice(self.surnames),
                        mother_age + rng.randint(0, 8),
                        lives=False,
                        pr=r() < 0.5,
                        dob_known=0.85,
                    )
                )
            if len(plan.parents) < 2 and r() < 0.5:
                reason = rng.choice((GapReason.DECLINED, GapReason.UNKNOWN))
                plan.gaps.append((None, "parents", reason, "Grandmother does not know where the parents are living."))
        else:
            father_surname = surname if archetype == "two_parents" or r() < 0.6 else rng.choice(self.surnames)
            child_surname = father_surname if archetype in ("father_elsewhere", "blended") else surname
            oldest = self._children(plan, child_surname)
            mother_age = oldest + rng.randint(17, 38)
            mother = self._adult(plan, MemberRole.MOTHER, rng.choice(self.women), surname, mother_age, pr=True)
            plan.parents = [mother]
            if archetype in ("father_elsewhere", "blended") or (archetype == "partner_elsewhere" and r() < 0.5):
                father = self._adult(
                    plan,
                    MemberRole.FATHER,
                    rng.choice(self.men),
                    father_surname,
                    mother_age + rng.randint(-2, 10),
                    lives=False,
                    pr=r() < 0.8,
                    dob_known=0.88,
                )
                plan.parents.append(father)
            if archetype == "two_parents":
                father = self._adult(
                    plan, MemberRole.FATHER, rng.choice(self.men), surname, mother_age + rng.randint(-2, 8), pr=True
                )
                plan.parents.append(father)
                plan.couples.append((mother, father))
            elif archetype == "blended":
                step = self._adult(
                    plan,
                    MemberRole.STEP_PARENT,
                    rng.choice(self.men),
                    rng.choice(self.surnames),
                    mother_age + rng.randint(-5, 10),
                    pr=r() < 0.2,
                )
                plan.parents.append(step)
                plan.couples.append((mother, step))
                for child in plan.children:
                    if r() < 0.3:
                        child.aliases = [*child.aliases, f"{child.given_name} {step.family_name}"]
            elif archetype == "partner_elsewhere":
                # A new partner, recorded after the family was opened: a significant adult.
                joined = min(plan.start + rng.randint(20, 300), plan.end - 1)
                partner = self._adult(
                    plan,
                    MemberRole.PARTNER,
                    rng.choice(self.men),
                    rng.choice(self.surnames),
                    mother_age + rng.randint(-6, 12),
                    lives=False,
                    dob_known=0.85,
                    created_at=self.at(max(joined, plan.start), rng),
                )
                plan.couples.append((mother, partner))
            elif archetype == "no_father" and r() < 0.5:
                reason = rng.choice((GapReason.DECLINED, GapReason.UNKNOWN))
                note = (
                    "Mother declined to name the children's father."
                    if reason == GapReason.DECLINED
                    else "Mother says she does not know where the father is."
                )
                plan.gaps.append((None, "father", reason, note))
            if r() < 0.05:
                self._adult(plan, MemberRole.SIBLING, rng.choice(self.adult_names), surname, rng.randint(18, 22))
            if r() < 0.03:
                self._adult(
                    plan, MemberRole.OTHER_ADULT, rng.choice(self.men), surname, mother_age + rng.randint(-5, 15)
                )
        if disabled:
            child = rng.choice([c for c in plan.children if plan.ages[id(c)] >= 1] or plan.children)
            child.additional_needs = rng.choice(DISABILITIES)
            plan.disabled = child

    # -- phase 2: everything that points at a saved family or member -----------------------------

    def rest(self, plan: _Plan, rows: _Rows) -> None:
        family_id = plan.family.pk
        rng = plan.rng
        r = rng.random
        if r() < 0.70:
            for parent in plan.parents:
                for child in plan.children:
                    rows.relationships.append(
                        (family_id, parent.pk, child.pk, RelationshipKind.PARENT_OF, plan.family.created_at)
                    )
        for a, b in plan.couples:
            if r() < 0.85:
                rows.relationships.append((family_id, a.pk, b.pk, RelationshipKind.PARTNER_OF, b.created_at))
        self._lead_history(plan, rows)
        for member, subject, reason, note in plan.gaps:
            past = r() < 0.4
            revisit = self.as_of + dt.timedelta(days=-rng.randint(1, 60) if past else rng.randint(7, 90))
            resolved = r() < 0.15
            rows.gaps.append(
                InformationGap(
                    family_id=family_id,
                    member_id=member.pk if member else None,
                    subject=subject,
                    reason=reason,
                    note=note,
                    revisit_on=revisit,
                    resolved_at=max(self.at(-rng.randint(1, 30), rng), plan.family.created_at) if resolved else None,
                    recorded_by_id=plan.family.lead_professional_id,
                    created_at=plan.family.created_at,
                    updated_at=self.now,
                )
            )
        self._referrals(plan, rows)
        self._visits(plan, rows)
        self._appointments(plan, rows)

    def _lead_history(self, plan: _Plan, rows: _Rows) -> None:
        family = plan.family
        if family.lead_professional_id is None:
            return
        rng = plan.rng
        started = min(self.at(min(plan.start + rng.randint(0, 10), -1), rng), self.now)
        others = [u for u in plan.staff.practitioners if u.pk != family.lead_professional_id]
        if others and plan.end - plan.start > 90 and rng.random() < 0.2:
            handover = min(self.at(rng.randint(plan.start + 30, plan.end - 30), rng), self.now)
            if handover > started:
                rows.leads.append(
                    LeadProfessionalAssignment(
                        family_id=family.pk,
                        user_id=rng.choice(others).pk,
                        started_at=started,
                        ended_at=handover,
                        assigned_by_id=plan.staff.manager.pk,
                    )
                )
                started = handover
        rows.leads.append(
            LeadProfessionalAssignment(
                family_id=family.pk,
                user_id=family.lead_professional_id,
                started_at=started,
                assigned_by_id=plan.staff.manager.pk,
            )
        )

    def _referrals(self, plan: _Plan, rows: _Rows) -> None:
        rng = plan.rng
        r = rng.random
        first = plan.family.created_at - dt.timedelta(hours=rng.randint(2, 72))
        times = [first]
        if r() < 0.35 and plan.end - plan.start > 30:
            times.append(self.at(rng.randint(plan.start + 14, plan.end - 1), rng))
        level = plan.family.level
        for n, received in enumerate(times):
            showcase = SHOWCASE_REFERRALS.get(plan.index) if n == 0 else None
            source = showcase[0] if showcase else rng.choices(ReferralSource.values, (50, 15, 15, 5, 15))[0]
            # For the public: a supporting professional; for anonymous: details left for the worker.
            extra = showcase[1] if showcase else None
            concerns = _concerns(rng, level)
            child = rng.choice(plan.children).given_name
            summary = " ".join(REFERRAL_TEXT[c].format(child=child) for c in concerns[:2])
            name = contact = supporter = ""
            if source == ReferralSource.PROFESSIONAL:
                given, surname = rng.choice(self.adult_names), rng.choice(self.surnames)
                role, domain = rng.choice(PROFESSIONALS)
                name = f"{given} {surname} ({role})"
                contact = f"{given.lower()}.{surname.lower()}@{domain}; 01632 960{rng.randrange(1000):03d}"
            elif source == ReferralSource.FAMILY:
                name = f"{rng.choice(self.adult_names)} {plan.family.name.removesuffix(' family')} "
                name += f"({rng.choice(RELATIVES)})"
                contact = _phone(rng)
            elif source == ReferralSource.PUBLIC:
                if r() < 0.8:
                    name = f"{rng.choice(self.adult_names)} {rng.choice(self.surnames)} (neighbour)"
                    contact = _phone(rng)
                if extra if extra is not None else r() < 0.3:
                    supporter = f"{rng.choice(self.women)} {rng.choice(self.surnames)}, {rng.choice(SUPPORTERS)}"
            elif source == ReferralSource.CHILD:
                name = f"{child} (told a teacher)"
                contact = "Via the school's designated safeguarding lead"
            elif extra if extra is not None else r() < 0.4:
                # Anonymous to the family; the referrer agreed to leave details for the worker.
                name = f"{rng.choice(self.adult_names)} {rng.choice(self.surnames)}"
                contact = _phone(rng)
                if r() < 0.2:
                    supporter = f"{rng.choice(self.women)} {rng.choice(self.surnames)}, {rng.choice(SUPPORTERS)}"
            decision, decision_at = "", None
            age_hours = (self.as_of_start - received).total_seconds() / 3600
            if age_hours > 72 and r() < 0.95:
                decision = _decision(rng, level, repeat=n > 0)
                decision_at = received + dt.timedelta(hours=rng.randint(2, min(120, int(age_hours) - 1)))
            rows.referrals.append(
                Referral(
                    family_id=plan.family.pk,
                    received_at=received,
                    source=source,
                    referrer_name=name,
                    referrer_contact=contact,
                    supporting_professional=supporter,
                    concerns=list(concerns),
                    summary=summary,
                    decision=decision,
                    decision_at=decision_at,
                    recorded_by_id=plan.staff.manager.pk,
                    created_at=received,
                    updated_at=self.now,
                )
            )

    def _visits(self, plan: _Plan, rows: _Rows) -> None:
        rng = plan.rng
        r = rng.random
        family = plan.family
        level = family.level
        purposes = PURPOSES[level]
        has_baby = any(plan.ages[id(c)] < 5 for c in plan.children)
        protection = level == FamilyLevel.CHILD_PROTECTION
        practitioners = plan.staff.practitioners
        lead_id = family.lead_professional_id
        months = (plan.end - plan.start) / 30.4
        count = max(1, int(months * VISITS_PER_MONTH[level] * (0.75 + 0.5 * r()) + 0.5))
        offsets = [rng.randint(plan.start, plan.end - 1) for _ in range(count)]
        if plan.deteriorating:
            # More visits once the worry starts, and most of them fail.
            offsets += [rng.randint(-RECENT_DAYS, -1) for _ in range(3)]
        for offset in offsets:
            fail = plan.engagement
            if plan.deteriorating:
                fail = 0.65 if offset >= -RECENT_DAYS else 0.04
            planned = r() >= 0.2
            self._visit(plan, rows, offset, planned, fail, purposes, has_baby, protection, practitioners, lead_id)
        if family.status == FamilyStatus.OPEN and r() < 0.5:
            self._visit(
                plan, rows, rng.randint(1, FUTURE_DAYS), True, 0.0, purposes, False, protection, practitioners, lead_id
            )

    def _visit(self, plan, rows, offset, planned, fail, purposes, has_baby, protection, practitioners, lead_id):
        rng = plan.rng
        r = rng.random
        agency_id = self.council_id
        practitioner_id = lead_id if lead_id and r() < 0.8 else rng.choice(practitioners).pk
        purpose = expected = ""
        if planned:
            if has_baby and r() < 0.2:
                purpose, expected = HV_PURPOSE
                agency_id, practitioner_id = self.hv_id, None
            else:
                purpose, expected = rng.choice(purposes)
        else:
            purpose = rng.choice(UNPLANNED_PURPOSES)
        scheduled_for = self.at(offset, rng)
        outcome = next_steps = voice = home = ""
        if offset > 0:
            status = VisitStatus.SCHEDULED
        else:
            roll = r()
            if planned:
                if roll < 0.03:
                    status = VisitStatus.CANCELLED_BY_SERVICE
                elif roll < 0.03 + fail:
                    status = rng.choices(VISIT_FAILURES, VISIT_FAILURE_WEIGHTS)[0]
                elif roll > 0.99:
                    status = VisitStatus.SCHEDULED  # nobody recorded how it went
                else:
                    status = VisitStatus.COMPLETED
            else:
                status = VisitStatus.NO_ACCESS if roll < max(0.3, fail * 0.8) else VisitStatus.COMPLETED
            if status != VisitStatus.SCHEDULED and (status != VisitStatus.COMPLETED or r() < 0.97):
                outcome = rng.choice(OUTCOMES[status])
            if status == VisitStatus.COMPLETED:
                next_steps = rng.choice(NEXT_STEPS) if r() < 0.8 else ""
                home = rng.choice(HOME_CONDITIONS) if r() < 0.5 else ""
        shared = planned and r() < 0.9
        if status == VisitStatus.COMPLETED and plan.children and r() < (0.8 if protection else 0.35):
            seen = [c for c in plan.children if r() < 0.9] or plan.children[:1]
            alone = [c for c in seen if plan.ages[id(c)] >= 4 and r() < 0.6] if protection else []
            if r() < 0.6:
                voice = rng.choice(VOICES).format(name=seen[0].given_name)
            visit_index = len(rows.visits)
            rows.seen.extend((visit_index, c.pk) for c in seen)
            rows.seen_alone.extend((visit_index, c.pk) for c in alone)
        # In VISIT_COLUMNS order: plain tuples, as model instances would cost more than the rest.
        rows.visits.append(
            (
                plan.family.pk,
                practitioner_id,
                agency_id,
                planned,
                purpose,
                expected,
                shared,
                scheduled_for,
                status,
                outcome,
                next_steps,
                voice,
                home,
                practitioner_id,
                min(scheduled_for, self.as_of_start),
                self.now,
            )
        )

    def _appointments(self, plan: _Plan, rows: _Rows) -> None:
        rng = plan.rng
        r = rng.random
        months = (plan.end - plan.start) / 30.4
        for child in plan.children:
            age = plan.ages[id(child)]
            band = "baby" if age < 5 else "primary" if age < 11 else "secondary"
            rate = 0.8 if age < 1 else 0.42 if age < 5 else 0.26
            for _ in range(int(months * rate * (0.6 + 0.8 * r()) + 0.5)):
                offset = rng.randint(plan.start, plan.end - 1)
                self._appointment(plan, rows, child, self.child_tables[band], offset)
            if child is plan.disabled:
                for _ in range(int(months * (0.7 + 0.6 * r()) + 0.5)):
                    offset = rng.randint(plan.start, plan.end - 1)
                    self._appointment(plan, rows, child, self.specialist_table, offset, specialist=True)
        for member in plan.members:
            if member.role == MemberRole.CHILD or not member.lives_in_household:
                continue
            rate = 0.13 if member.role == MemberRole.MOTHER else 0.06
            for _ in range(int(months * rate * (0.5 + r()) + 0.5)):
                offset = rng.randint(plan.start, plan.end - 1)
                self._appointment(plan, rows, member, self.adult_table, offset)
        if plan.wnb_two_agencies and plan.children:
            # Two different agencies each saw a child not brought in the last 90 days.
            child = rng.choice(plan.children)
            band = "baby" if plan.ages[id(child)] < 5 else "primary"
            first = (AppointmentKind.HEALTH_REVIEW, "Northshire Health Visiting")
            if band != "baby":
                first = (AppointmentKind.DENTAL, "Northshire Community Dental Service")
            for kind, agency in (first, (AppointmentKind.GP, "@gp")):
                offset = rng.randint(-80, -2)
                self._appointment(
                    plan, rows, child, None, offset, fixed=(kind, agency), status=AppointmentStatus.WAS_NOT_BROUGHT
                )
        if plan.family.status == FamilyStatus.OPEN and r() < 0.4:
            for _ in range(rng.randint(1, 2)):
                member = rng.choice(plan.children)
                age = plan.ages[id(member)]
                band = "baby" if age < 5 else "primary" if age < 11 else "secondary"
                self._appointment(plan, rows, member, self.child_tables[band], rng.randint(1, FUTURE_DAYS))

    def _appointment(self, plan, rows, member, table, offset, *, specialist=False, fixed=None, status=None):
        rng = plan.rng
        r = rng.random
        if fixed is None:
            choices, cumulative = table
            kind, agency = rng.choices(choices, cum_weights=cumulative)[0]
        else:
            kind, agency = fixed
        if agency == "@gp":
            agency = member.gp_practice or plan.gp
        elif agency == "@school":
            agency = member.school or PRIMARY_SCHOOLS[0]
        child = member.role == MemberRole.CHILD
        # A disabled child's specialist reviews must not be missed; some therapy sessions too.
        critical = specialist and (kind != AppointmentKind.THERAPY or r() < 0.3)
        if status is None:
            if offset > 0:
                status = AppointmentStatus.BOOKED
            else:
                if plan.deteriorating and offset >= -RECENT_DAYS:
                    missed = 0.45
                else:
                    missed = plan.engagement * (0.6 if critical else 0.8)
                roll = r()
                if roll < missed:
                    status = AppointmentStatus.WAS_NOT_BROUGHT if child else AppointmentStatus.DID_NOT_ATTEND
                elif roll < missed + 0.04:
                    status = AppointmentStatus.CANCELLED_BY_FAMILY
                elif roll < missed + 0.07:
                    status = AppointmentStatus.RESCHEDULED
                elif roll < missed + 0.09:
                    status = AppointmentStatus.CANCELLED_BY_SERVICE
                else:
                    status = AppointmentStatus.ATTENDED
        notes = rng.choice(APPOINTMENT_NOTES[status]) if status in APPOINTMENT_NOTES else ""
        scheduled_for = self.at(offset, rng)
        while (slot := (id(member), agency, kind, scheduled_for)) in plan.appointment_slots:
            scheduled_for += dt.timedelta(minutes=15)
        plan.appointment_slots.add(slot)
        rows.appointments.append(
            (
                member.pk,
                plan.family.pk,
                child,
                self.agency_ids[agency],
                kind,
                scheduled_for,
                critical,
                status,
                notes,
                None,
                min(scheduled_for, self.as_of_start),
                self.now,
            )
        )


def _concerns(rng: random.Random, level: str) -> list[str]:
    k = 1 if rng.random() < 0.55 else 2 if rng.random() < 0.7 else 3
    if level in (FamilyLevel.CHILD_PROTECTION, FamilyLevel.LOOKED_AFTER):
        k = max(k, 2)
    picked: list[str] = []
    while len(picked) < k:
        concern = rng.choices(list(CONCERN_WEIGHTS), list(CONCERN_WEIGHTS.values()))[0]
        if concern not in picked:
            picked.append(concern)
    return picked


def _decision(rng: random.Random, level: str, *, repeat: bool) -> str:
    d = ReferralDecision
    if repeat:
        options = ((d.INFORMATION_AND_ADVICE, 40), (d.ASSESSMENT, 40), (d.NO_FURTHER_ACTION, 20))
    elif level == FamilyLevel.CHILD_PROTECTION:
        options = ((d.STRATEGY_DISCUSSION, 60), (d.ASSESSMENT, 40))
    elif level == FamilyLevel.LOOKED_AFTER:
        options = ((d.STRATEGY_DISCUSSION, 50), (d.ASSESSMENT, 50))
    elif level == FamilyLevel.CHILD_IN_NEED:
        options = ((d.ASSESSMENT, 80), (d.EARLY_HELP, 20))
    else:
        options = ((d.EARLY_HELP, 70), (d.INFORMATION_AND_ADVICE, 20), (d.ASSESSMENT, 10))
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


# --- the set-up: agencies, teams, staff -------------------------------------------------------


def _agencies() -> dict[str, Agency]:
    agencies = {}
    for name, kind in AGENCIES:
        agencies[name], _ = Agency.objects.get_or_create(name=name, defaults={"kind": kind})
    return agencies


def _staff(*, seed: int, families: int, council: Agency) -> list[_Staff]:
    fake = Faker("en_GB")
    fake.seed_instance(seed * 7919 + 17)
    per_team = practitioners_per_team(families)
    teams = [Team.objects.get_or_create(agency=council, name=name)[0] for name in team_names(team_count(families))]
    wanted: list[User] = []
    for t, team in enumerate(teams, start=1):
        for j in range(per_team + 1):
            manager = j == 0
            first, last = fake.first_name(), fake.last_name()
            username = f"demo{seed}-t{t:02d}-manager" if manager else f"demo{seed}-t{t:02d}-p{j:03d}"
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{first}.{last}@childrens.northshire.example".lower().replace(" ", "").replace("'", ""),
                role=Role.MANAGER if manager else Role.PRACTITIONER,
                agency=council,
                team=team,
                job_title="Team manager" if manager else PRACTITIONER_TITLES[j % len(PRACTITIONER_TITLES)],
            )
            user.set_unusable_password()
            wanted.append(user)
    # Staff survive a deleted demo data set; reuse them rather than fail on the usernames.
    User.objects.bulk_create(wanted, batch_size=ROWS_PER_INSERT, ignore_conflicts=True)
    saved = User.objects.in_bulk([u.username for u in wanted], field_name="username")
    staff = []
    for t, team in enumerate(teams, start=1):
        staff.append(
            _Staff(
                team=team,
                manager=saved[f"demo{seed}-t{t:02d}-manager"],
                practitioners=[saved[f"demo{seed}-t{t:02d}-p{j:03d}"] for j in range(1, per_team + 1)],
            )
        )
    return staff


# --- entry point -------------------------------------------------------------------------------


def seed_demo(
    *,
    families: int = DEFAULT_FAMILIES,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | None = None,
    stdout: TextIO | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> dict[str, int]:
    """Create `families` synthetic families for `seed`, dated relative to `as_of` (default today).

    Refuses (DemoDataExists) when this seed's families are already present. Each batch of families
    is written in its own transaction. Returns the number of rows created, by kind.

    On PostgreSQL, outside a transaction, the next batch is generated while the previous one is
    written by a second thread (its own connection), so Python and the database work at once.
    """
    if families < 1:
        raise ValueError("families must be at least 1")
    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    prefix = reference_prefix(seed)
    if Family.objects.filter(reference__startswith=prefix).exists():
        raise DemoDataExists(
            f"demo data for seed {seed} already present (families {prefix}*); use another --seed or delete them first."
        )
    with transaction.atomic():
        agencies = _agencies()
        staff = _staff(seed=seed, families=families, council=agencies[COUNCIL])
    builder = _Builder(seed=seed, as_of=as_of, staff=staff, agencies=agencies)
    ids = _Ids()
    counts = dict.fromkeys(COUNTED, 0)
    counts["users"] = sum(len(s.practitioners) + 1 for s in staff)
    batches = [range(first, min(first + batch_size, families)) for first in range(0, families, batch_size)]

    def report(batch: range) -> None:
        if progress and stdout is not None:
            stdout.write(f"  {batch.stop:,} of {families:,} families ({time.monotonic() - started:.1f} s)\n")

    pipelined = ids.postgres and len(batches) > 1 and not transaction.get_connection().in_atomic_block
    if pipelined:
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="seed-demo-writer") as pool:
            in_flight: deque[tuple[Future, range]] = deque()
            for batch in batches:
                tables = _build_batch(builder, ids, batch, counts)
                if len(in_flight) >= WRITERS:
                    done, done_batch = in_flight.popleft()
                    done.result()  # a failure stops the run (batches written so far stay)
                    report(done_batch)
                in_flight.append((pool.submit(_write_in_thread, tables), batch))
            while in_flight:
                done, done_batch = in_flight.popleft()
                done.result()
                report(done_batch)
    else:
        for batch in batches:
            tables = _build_batch(builder, ids, batch, counts)
            with transaction.atomic():
                _write(tables)
            report(batch)
    elapsed = time.monotonic() - started
    if stdout is not None:
        stdout.write(
            f"Seeded demo data (seed {seed}, as of {as_of.isoformat()}): {counts['families']:,} families, "
            f"{counts['members']:,} members, {counts['visits']:,} visits, {counts['appointments']:,} appointments, "
            f"{counts['referrals']:,} referrals in {elapsed:.1f} s\n"
        )
    return counts


COUNTED = (
    "families",
    "members",
    "relationships",
    "lead_assignments",
    "gaps",
    "referrals",
    "visits",
    "appointments",
    "children_seen",
)


@dataclass
class _Table:
    """Rows for one table: tuples of (id, *values of attnames)."""

    model: type[models.Model]
    attnames: tuple[str, ...]
    rows: list[tuple]


class _Ids:
    """Primary keys handed out before the rows are written, so a batch can be built in full first.

    On PostgreSQL they come from the table's own sequence (safe alongside other writers); elsewhere
    (SQLite in development, one writer) from the table's highest id.
    """

    def __init__(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        self.postgres = connection.vendor == "postgresql"
        self._next: dict[type[models.Model], int] = {}

    def take(self, model: type[models.Model], count: int) -> list[int]:
        if count == 0:
            return []
        meta = model._meta
        if self.postgres:
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, count],
                )
                return sorted(row[0] for row in cursor.fetchall())
        if model not in self._next:
            highest = model._default_manager.aggregate(highest=models.Max("pk"))["highest"]
            self._next[model] = (highest or 0) + 1
        first = self._next[model]
        self._next[model] = first + count
        return list(range(first, first + count))


def _from_instances(model: type[models.Model], objs: list[models.Model], ids: _Ids) -> _Table:
    """Give unsaved instances their ids and turn them into a table of tuples."""
    attnames = tuple(f.attname for f in _insertable(model))
    getter = attrgetter(*attnames)
    for obj, pk in zip(objs, ids.take(model, len(objs)), strict=True):
        obj.pk = pk
        obj._state.adding = False
    return _Table(model, attnames, [(obj.pk, *getter(obj)) for obj in objs])


def _with_ids(model: type[models.Model], attnames: tuple[str, ...], rows: list[tuple], ids: _Ids) -> _Table:
    return _Table(model, attnames, [(pk, *row) for pk, row in zip(ids.take(model, len(rows)), rows, strict=True)])


def _build_batch(builder: _Builder, ids: _Ids, indexes: range, counts: dict[str, int]) -> list[_Table]:
    plans = [builder.family(i) for i in indexes]
    families = _from_instances(Family, [p.family for p in plans], ids)
    members = []
    for plan in plans:
        family_id = plan.family.pk
        for member in plan.members:
            member.family_id = family_id
            members.append(member)
    members_table = _from_instances(Member, members, ids)
    rows = _Rows()
    for plan in plans:
        builder.rest(plan, rows)
    visits = _with_ids(Visit, VISIT_COLUMNS, rows.visits, ids)
    visit_ids = [row[0] for row in visits.rows]
    seen_model = Visit.children_seen.through
    alone_model = Visit.children_seen_alone.through
    seen = [(visit_ids[v], child_id) for v, child_id in rows.seen]
    alone = [(visit_ids[v], child_id) for v, child_id in rows.seen_alone]
    counts["families"] += len(plans)
    counts["members"] += len(members)
    counts["relationships"] += len(rows.relationships)
    counts["lead_assignments"] += len(rows.leads)
    counts["gaps"] += len(rows.gaps)
    counts["referrals"] += len(rows.referrals)
    counts["visits"] += len(rows.visits)
    counts["appointments"] += len(rows.appointments)
    counts["children_seen"] += len(seen)
    return [
        families,
        members_table,
        _with_ids(Relationship, RELATIONSHIP_COLUMNS, rows.relationships, ids),
        _from_instances(LeadProfessionalAssignment, rows.leads, ids),
        _from_instances(InformationGap, rows.gaps, ids),
        _from_instances(Referral, rows.referrals, ids),
        visits,
        _with_ids(Appointment, APPOINTMENT_COLUMNS, rows.appointments, ids),
        _with_ids(seen_model, ("visit_id", "member_id"), seen, ids),
        _with_ids(alone_model, ("visit_id", "member_id"), alone, ids),
    ]


def _write_in_thread(tables: list[_Table]) -> None:
    try:
        with transaction.atomic():
            _write(tables)
    finally:
        connections.close_all()  # this thread's connections only


def _write(tables: list[_Table]) -> None:
    """Write the tables in order (parents first).

    On PostgreSQL with psycopg 3 the rows are streamed with COPY: several times faster than
    `bulk_create`, which spends most of its time preparing each value in Python. Elsewhere they go
    through `bulk_create`. Fields the tuples leave out get their model default, so a field added
    to a model later cannot break seeding.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    copy = connection.vendor == "postgresql" and _has_copy(connection)
    for table in tables:
        if not table.rows:
            continue
        meta = table.model._meta
        given = set(table.attnames)
        # Left to the database when it has a default of its own; otherwise the model's default.
        missing = [f for f in _insertable(table.model) if f.attname not in given and not f.has_db_default()]
        if not copy:
            names = (meta.pk.attname, *table.attnames, *(f.attname for f in missing))
            defaults = tuple(f.get_default() for f in missing)
            objs = [table.model(**dict(zip(names, (*row, *defaults), strict=True))) for row in table.rows]
            table.model._default_manager.bulk_create(objs, batch_size=ROWS_PER_INSERT)
            continue
        by_attname = {f.attname: f for f in meta.concrete_fields}
        fields = [meta.pk, *(by_attname[a] for a in table.attnames), *missing]
        json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        defaults = tuple(f.get_default() for f in missing)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as stream,
        ):
            write = stream.write_row
            if json_at:
                for row in table.rows:
                    values = [*row, *defaults]
                    for i in json_at:
                        values[i] = json.dumps(values[i])
                    write(values)
            else:
                for row in table.rows:
                    write((*row, *defaults))


def _insertable(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]


def _has_copy(connection: Any) -> bool:
    connection.ensure_connection()
    return hasattr(connection.connection, "pgconn")  # psycopg 3, whose cursors have copy()
