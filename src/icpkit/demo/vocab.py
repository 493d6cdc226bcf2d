"""Word lists and raw spellings the demo CRM draws its values from."""

from __future__ import annotations

# Raw industry values per canonical label (same order as truth.INDUSTRIES), with weights.
# The first spelling is the usual HubSpot label; the rest are the variants real exports mix in.
INDUSTRY_RAW: tuple[tuple[tuple[str, float], ...], ...] = (
    (
        ("Computer Software", 0.55),
        ("COMPUTER_SOFTWARE", 0.25),
        ("software", 0.06),
        ("SaaS", 0.12),
        ("Computer Sofware", 0.02),
    ),
    (
        ("Information Technology and Services", 0.60),
        ("INFORMATION_TECHNOLOGY_AND_SERVICES", 0.25),
        ("IT Services and IT Consulting", 0.15),
    ),
    (("Financial Services", 0.75), ("FINANCIAL_SERVICES", 0.25)),
    (("Hospital & Health Care", 0.60), ("HOSPITAL_HEALTH_CARE", 0.25), ("Healthcare", 0.15)),
    (("Retail", 0.75), ("RETAIL", 0.25)),
    (("Manufacturing", 0.60), ("Machinery", 0.25), ("Industrial Automation", 0.15)),
    (("Higher Education", 0.40), ("E-Learning", 0.30), ("Education Management", 0.30)),
    (
        ("Government Administration", 0.60),
        ("GOVERNMENT_ADMINISTRATION", 0.25),
        ("Public Sector", 0.15),
    ),
    (("Marketing and Advertising", 0.75), ("MARKETING_AND_ADVERTISING", 0.25)),
)
INDUSTRY_TYPO = "Computer Sofware"

# Raw country values per ISO code (same order as truth.COUNTRIES); the first is canonical.
COUNTRY_RAW: tuple[tuple[tuple[str, float], ...], ...] = (
    (("United States", 0.90), ("USA", 0.04), ("US", 0.03), ("U.S.", 0.03)),
    (("United Kingdom", 0.85), ("UK", 0.10), ("England", 0.05)),
    (("Germany", 0.90), ("DE", 0.05), ("Deutschland", 0.05)),
    (("France", 1.0),),
    (("Canada", 1.0),),
    (("Netherlands", 0.85), ("The Netherlands", 0.15)),
    (("Australia", 1.0),),
    (("India", 1.0),),
)

# (city, IANA time zone) per country.
CITIES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("New York", "America/New_York"),
        ("San Francisco", "America/Los_Angeles"),
        ("Austin", "America/Chicago"),
        ("Boston", "America/New_York"),
        ("Chicago", "America/Chicago"),
        ("Denver", "America/Denver"),
        ("Seattle", "America/Los_Angeles"),
        ("Atlanta", "America/New_York"),
    ),
    (("London", "Europe/London"), ("Manchester", "Europe/London"), ("Edinburgh", "Europe/London")),
    (
        ("Berlin", "Europe/Berlin"),
        ("München", "Europe/Berlin"),
        ("Hamburg", "Europe/Berlin"),
        ("Köln", "Europe/Berlin"),
    ),
    (("Paris", "Europe/Paris"), ("Lyon", "Europe/Paris")),
    (
        ("Toronto", "America/Toronto"),
        ("Vancouver", "America/Vancouver"),
        ("Montréal", "America/Toronto"),
    ),
    (
        ("Amsterdam", "Europe/Amsterdam"),
        ("Rotterdam", "Europe/Amsterdam"),
        ("Utrecht", "Europe/Amsterdam"),
    ),
    (("Sydney", "Australia/Sydney"), ("Melbourne", "Australia/Melbourne")),
    (("Bengaluru", "Asia/Kolkata"), ("Mumbai", "Asia/Kolkata")),
)

# Top-level domain per country (used with probability 0.7, else ".com").
COUNTRY_TLD = ("io", "co.uk", "de", "fr", "ca", "nl", "com.au", "in")

# Legal-form suffixes per country, with weights; ", Inc." carries its own comma.
LEGAL_SUFFIX: tuple[tuple[tuple[str, float], ...], ...] = (
    ((" Inc.", 0.40), (", Inc.", 0.20), (" LLC", 0.15), ("", 0.25)),
    ((" Ltd", 0.60), (" Limited", 0.15), ("", 0.25)),
    ((" GmbH", 0.70), (" AG", 0.10), ("", 0.20)),
    ((" SAS", 0.50), (" SA", 0.20), ("", 0.30)),
    ((" Inc.", 0.50), (" Ltd.", 0.20), ("", 0.30)),
    ((" B.V.", 0.70), ("", 0.30)),
    ((" Pty Ltd", 0.70), ("", 0.30)),
    ((" Pvt Ltd", 0.50), (" Private Limited", 0.20), ("", 0.30)),
)

# Name stems are three consonant-vowel syllables, so every stem is six letters long and
# (stem, descriptor) -> domain is injective.
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = tuple(c + v for c in CONSONANTS for v in VOWELS)

# (display word, domain part); domain parts are distinct so domains never collide.
DESCRIPTORS: tuple[tuple[str, str], ...] = (
    ("Labs", "labs"),
    ("Systems", "systems"),
    ("Software", "software"),
    ("Analytics", "analytics"),
    ("Group", "group"),
    ("Technologies", "tech"),
    ("Solutions", "solutions"),
    ("Digital", "digital"),
    ("Networks", "networks"),
    ("Cloud", "cloud"),
    ("Data", "data"),
    ("Works", "works"),
    ("Partners", "partners"),
    ("Ventures", "ventures"),
    ("Global", "global"),
    ("Industries", "industries"),
    ("Dynamics", "dynamics"),
    ("Health", "health"),
    ("Logistics", "logistics"),
    ("Media", "media"),
    ("Studio", "studio"),
    ("Consulting", "consulting"),
    ("Capital", "capital"),
    ("Robotics", "robotics"),
    ("Security", "security"),
    ("Energy", "energy"),
    ("& Co", "andco"),
    ("& Sons", "andsons"),
    ("& Partners", "andpartners"),
    ("Maschinenbau", "maschinenbau"),
    ("Technik", "technik"),
    ("Collective", "collective"),
)

DEAL_OWNERS = (
    "Alex Morgan",
    "Priya Shah",
    "Jonas Becker",
    "Maria Garcia",
    "Tom O'Brien",
    "Chen Wei",
    "Sofia Rossi",
    "David Kim",
    "Emma Johnson",
    "Lukas Schmidt",
    "Aisha Bello",
    "Noah Williams",
)

LEAD_SOURCES = (
    "Organic Search",
    "Paid Search",
    "Referral",
    "Events",
    "Outbound",
    "Partner",
    "Social Media",
    "Direct Traffic",
)

OPEN_STAGES = (
    "Appointment Scheduled",
    "Qualified To Buy",
    "Presentation Scheduled",
    "Decision Maker Bought-In",
    "Contract Sent",
)

EXPANSION_DEAL_SUFFIXES = (" - Expansion", " - Upsell", " - Add-on Seats")

FUNDING_STAGES = ("Seed", "Series A", "Series B", "Series C", "Series D")
FUNDING_STAGE_P = (0.30, 0.30, 0.20, 0.12, 0.08)
FUNDING_MEDIAN_MUSD = (1.5, 8.0, 25.0, 50.0, 100.0)

JOB_ROLES = (
    "SDR",
    "Account Executive",
    "Backend Engineer",
    "Customer Success Manager",
    "Data Analyst",
    "Product Designer",
    "Marketing Manager",
)
JOB_ROLE_P = (0.10, 0.18, 0.22, 0.15, 0.12, 0.10, 0.13)

LEADERSHIP_DETAILS = (
    "New VP Sales",
    "New CRO",
    "New CTO",
    "New CFO",
    "New CEO",
    "New VP Marketing",
)

WEB_PAGES = ("/pricing", "/blog", "/docs", "/careers", "/case-studies", "/demo", "/integrations")

LIFECYCLE_PROSPECT = ("Lead", "Marketing Qualified Lead", "Subscriber")

DESCRIPTION_AUDIENCES = (
    "mid-size teams",
    "enterprises",
    "local businesses",
    "public agencies",
    "online shops",
    "clinics",
)

# Employee bands as LinkedIn/HubSpot write them: (min, max, label).
EMPLOYEE_BANDS = (
    (1, 10, "1-10"),
    (11, 50, "11-50"),
    (51, 200, "51-200"),
    (201, 500, "201-500"),
    (501, 1000, "501-1,000"),
    (1001, 5000, "1,001-5,000"),
    (5001, 10000, "5,001-10,000"),
    (10001, 10**9, "10,001+"),
)
