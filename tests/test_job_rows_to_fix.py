"""A job's rows to fix, by kind: the kind each stored problem gets (migration 0033), and the page's groups."""

from __future__ import annotations

import re
from html import unescape

import psycopg

from core.db.migrate import MIGRATIONS_DIR
from tests.fixtures import Account, Server, Services, signup
from webapp.queries.jobs import ROW_PROBLEM_KINDS


def test_every_kind_the_database_derives_has_words() -> None:
    sql = (MIGRATIONS_DIR / "0033_row_problem_kinds.sql").read_text()
    derived = set(re.findall(r"(?:THEN|ELSE) '(\w+)'", sql))
    assert derived == set(ROW_PROBLEM_KINDS)


# (severity, field) -> the kind shown; a field no group names ("venue") and no field at all are "details".
CASES = [
    ("error", None, "row"),
    ("error", "partner1_phone", "row"),  # a row not imported counts as a row, whatever field broke it
    ("warning", "partner1_phone", "phone"),
    ("warning", "partner2_phone", "phone"),
    ("warning", "partner2_email", "email"),
    ("warning", "name_with_email", "email"),
    ("warning", "booking_date", "date"),
    ("warning", "venue", "detail"),
    ("warning", None, "detail"),
]


def test_groups_count_each_kind_and_page_one_without_moving_the_others(
    server: Server, services: Services, account: Account
) -> None:
    sid = account.supplier_id
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status, options) "
            "VALUES (%s, 'file_import', 'csv', 'partially_succeeded', '{\"filename\": \"june.csv\"}') RETURNING id",
            [sid],
        ).fetchone()
        assert row is not None
        job = row[0]
        for line, (severity, field, _) in enumerate(CASES, start=2):
            conn.execute(
                "INSERT INTO sync_job_errors (supplier_id, job_id, line, field, reason, severity) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [sid, job, line, field, f"Row {line}: case", severity],
            )
        kinds = conn.execute("SELECT kind FROM sync_job_errors WHERE job_id = %s ORDER BY id", [job]).fetchall()
        assert [k for (k,) in kinds] == [kind for _, _, kind in CASES]
        # 12 more phones: 14 in all, a second page of 4.
        for line in range(100, 112):
            conn.execute(
                "INSERT INTO sync_job_errors (supplier_id, job_id, line, field, reason, severity) "
                "VALUES (%s, %s, %s, 'partner1_phone', %s, 'warning')",
                [sid, job, line, f"Row {line}: phone"],
            )
    html = account.client.get(f"/jobs/{job}").text
    summaries = [unescape(s) for s in re.findall(r"<summary>([^<]+)</summary>", html)]
    assert summaries == [
        "2 rows couldn't be imported",
        "14 phone numbers couldn't be read",
        "2 emails weren't valid addresses",
        "1 date couldn't be read",
        "2 details were too long or unreadable",
    ]
    assert "june.csv" in html
    first = re.search(r'id="fix-phone".*?</details>', html, re.S)
    assert first is not None
    assert first.group(0).count("<li ") == 10
    next_link = re.search(r'href="(/jobs/\d+\?fix=phone&amp;after=\d+)#fix-phone"', first.group(0))
    assert next_link is not None
    second = account.client.get(next_link.group(1).replace("&amp;", "&")).text
    page2 = re.search(r'id="fix-phone".*?</details>', second, re.S)
    assert page2 is not None
    assert page2.group(0).count("<li ") == 4
    assert "First rows" in page2.group(0)
    assert 'data-testid="fix-next"' not in page2.group(0)
    other = re.search(r'id="fix-row".*?</details>', second, re.S)
    assert other is not None
    assert other.group(0).count("<li ") == 2  # the other groups stay on their first page
    # Another studio sees none of it (row-level security).
    other_studio = signup(server.url, services.database_url, "Other Studio")
    assert other_studio.client.get(f"/jobs/{job}?fix=phone").status_code == 404
