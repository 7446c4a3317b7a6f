"""Word lists for synthetic couples. Venue names are invented; towns, phone ranges and email
domains are chosen so no real person or business can be reached by accident (Ofcom's 020 7946 0xxx
drama range, US 555-01xx, example.* domains)."""

from __future__ import annotations

# (first names, last names) per naming tradition, so couples are not all "John Smith".
NAME_POOLS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Olivia", "Jack", "Emily", "Charlotte", "Thomas"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans", "Hughes", "Wright"),
    ),
    (
        ("Siobhán", "Ciarán", "Aoife", "Niamh", "Seán", "Róisín", "Eoin", "Caoimhe"),
        ("O'Brien", "Murphy", "Ní Bhriain", "McCarthy", "O'Sullivan", "Byrne", "Kelly", "Walsh"),
    ),
    (
        ("Priya", "Arjun", "Ananya", "Rohan", "Aisha", "Vikram", "Sanjana", "Imran", "Harpreet"),
        ("Patel", "Sharma", "Singh", "Khan", "Gupta", "Chaudhry", "Reddy", "Kaur", "Iyer"),
    ),
    (
        ("Wei", "Mei", "Jun", "Xiaoling", "Hao", "Yan", "Li Na", "Jia"),
        ("Wang", "Li", "Zhang", "Chen", "Liu", "Huang", "Zhao", "Wu"),
    ),
    (
        ("José", "María", "Lucía", "Alejandro", "Sofía", "Mateo", "Valentina", "Diego", "Camila"),
        ("García", "Martínez", "Rodríguez", "López", "Hernández", "González", "Pérez", "de la Cruz"),
    ),
    (
        ("Chidi", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Folake", "Tunde", "Chiamaka"),
        ("Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Adebayo", "Obi"),
    ),
    (
        ("Layla", "Omar", "Yasmin", "Karim", "Noor", "Hassan", "Zainab", "Tariq"),
        ("Haddad", "Al-Sayed", "Nasser", "Khoury", "Mansour", "Rahman", "Aziz", "El-Amin"),
    ),
    (
        ("Zoë", "Łukasz", "Zofia", "Michał", "Agnieszka", "Øyvind", "Ingrid", "Søren", "Małgorzata"),
        ("Kowalski", "Nowak", "Wiśniewska", "Lewandowski", "Haugen", "Nørgaard", "Lindqvist", "Dąbrowska"),
    ),
    (
        ("Linh", "Minh", "Thảo", "Quang", "Hương", "Duc"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ"),
    ),
    (
        ("Aiden", "Madison", "Brayden", "Kayleigh", "Tyler", "Savannah", "Jaxon", "Brooklyn"),
        ("Johnson", "Miller", "Anderson", "Thompson", "Martin", "Jackson", "White", "Harris"),
    ),
)

# (venue, street, town, region, postal code, country, timezone)
VENUES_GB: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Hadleigh Tithe Barn", "Church Lane", "Hadleigh", "Suffolk", "IP7 5AA", "GB", "Europe/London"),
    ("The Orangery at Kelsall Hall", "Kelsall Road", "Chester", "Cheshire", "CH3 8BB", "GB", "Europe/London"),
    ("Fenwick Castle", "Castle Brae", "Kelso", "Scottish Borders", "TD5 7CC", "GB", "Europe/London"),
    ("The Boathouse, Lyme Regis", "Marine Parade", "Lyme Regis", "Dorset", "DT7 3DD", "GB", "Europe/London"),
    (
        "Wyndham Walled Garden",
        "Garden Row",
        "Cirencester",
        "Gloucestershire",
        "GL7 1EE",
        "GB",
        "Europe/London",
    ),
    ("St Agnes Register Office", "High Street", "York", "North Yorkshire", "YO1 7FF", "GB", "Europe/London"),
    ("Llanerch Mill", "Mill Lane", "Crickhowell", "Powys", "NP8 1GG", "GB", "Europe/London"),
    ("The Glasshouse, Shoreditch", "Rivington Street", "London", "", "EC2A 3HH", "GB", "Europe/London"),
    ("Ardmore Lodge", "Loch Road", "Oban", "Argyll", "PA34 4JJ", "GB", "Europe/London"),
    ("Brackenfield Farm", "Moor Lane", "Ilkley", "West Yorkshire", "LS29 9KK", "GB", "Europe/London"),
)
VENUES_US: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Cypress Point Vineyard", "1200 Vineyard Rd", "Napa", "CA", "94558", "US", "America/Los_Angeles"),
    ("The Foundry Loft", "48 Wythe Ave", "Brooklyn", "NY", "11249", "US", "America/New_York"),
    (
        "Magnolia Plantation Barn",
        "3550 Ashley River Rd",
        "Charleston",
        "SC",
        "29414",
        "US",
        "America/New_York",
    ),
    ("Lakeshore Pavilion", "900 Lake Shore Dr", "Chicago", "IL", "60611", "US", "America/Chicago"),
    ("Red Rock Overlook", "2 Canyon View Rd", "Sedona", "AZ", "86336", "US", "America/Phoenix"),
    ("The Willow Estate", "77 Orchard Ln", "Asheville", "NC", "28801", "US", "America/New_York"),
    ("Harborview Hotel Ballroom", "15 Water St", "Boston", "MA", "02109", "US", "America/New_York"),
    ("Pine Hollow Lodge", "410 Ridge Rd", "Bozeman", "MT", "59715", "US", "America/Denver"),
    ("Bayou Oaks Courtyard", "621 Royal St", "New Orleans", "LA", "70130", "US", "America/Chicago"),
    ("Sunset Bluff", "1 Ocean Ave", "Carmel-by-the-Sea", "CA", "93921", "US", "America/Los_Angeles"),
)

WEDDING_JOB_TYPES = ("Wedding", "Wedding", "Wedding", "Wedding", "Elopement", "Destination Wedding")
OTHER_JOB_TYPES = ("Family Portrait", "Headshots", "Newborn Session")
LEAD_SOURCES = (
    "Instagram",
    "Google",
    "Referral - past client",
    "Hitched",
    "The Knot",
    "WeddingWire",
    "Venue recommendation",
    "Wedding fair",
    "Facebook",
    "Bridebook",
)
EMAIL_DOMAINS = ("example.com", "example.co.uk", "example.org", "mail.example.net")
US_AREA_CODES = ("415", "212", "312", "617", "206", "512")
