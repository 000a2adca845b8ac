"""The benchmark's smallest pieces, run for real so the bench cannot rot: a tiny generated company,
both sweeps, the manager views, and a short push delivery through the rate-limited fake Bot API."""

from __future__ import annotations

from sqlalchemy import func, select

from bench import export, push, summaries, sweeps
from bench.generate import TODAY, generate
from bench.runner import table
from bench.targets import judge
from bot.db import Database
from models import Customer, Outbox, Receivable, User, Visit


async def test_generated_company_sweeps_and_views(db: Database, database_url: str) -> None:
    company = await generate(database_url, 0.002, migrate=False)
    assert company.size.reps == 2
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 2_000
        assert await session.scalar(select(func.count()).select_from(Customer)) == 200
        assert await session.scalar(select(func.count()).select_from(User)) == 3 + 1 + 2
        stale = await session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(
                Customer.last_visit_at
                != select(func.max(Visit.visited_at))
                .where(Visit.customer_id == Customer.id)
                .scalar_subquery()
            )
        )
        assert stale == 0
        assert await session.scalar(select(func.count()).where(Receivable.due_on < TODAY)) > 0
    assert company.rows["visits"] == 2_000

    swept = await sweeps.sweeps(database_url, company)
    assert [f["figure"] for f in swept] == ["sweep morning_plan", "sweep overdue_followup"]
    assert swept[0]["pushes"] == 2
    async with db.reading() as session:
        queued = await session.scalar(select(func.count()).select_from(Outbox))
    assert queued == sum(f["pushes"] for f in swept)

    assert await summaries.prepare(database_url, company) == []  # the loader built the visit months
    views = await summaries.summaries(database_url, company, repeats=0)
    assert len(views) == 4 and all(view["ms"] > 0 for view in views)
    assert views[0]["figure"] == "overdue rollup: the day's move"
    assert "2 reps" in views[1]["what"]
    exported = {"reps": company.size.reps, **await export.export(database_url, company.director_id)}
    assert exported["rows"] > 100 and exported["seconds"] > 0 and exported["peak_rss_mb"] > 0
    rendered = table([{"db": "sqlite", **figure} for figure in [*swept, *views, exported]])
    assert "/summary month (company)" in rendered and "sweep morning_plan" in rendered
    assert "/export month (company), streamed" in rendered
    # targets apply at full size only
    assert all(judge(figure)[2] is None for figure in [*swept, *views, exported])


async def test_push_delivery_loses_and_duplicates_nothing(db: Database, database_url: str) -> None:
    figure = await push.push(database_url, 45, migrate=False)
    assert (figure["lost"], figure["duplicated"], figure["left_unsent"]) == (0, 0, 0)
    assert figure["refused_other"] == 0
    assert figure["http_429"] == 0  # the sender paces 45 pushes under the 30/s limit
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).where(Outbox.sent_at.is_not(None))) == 45
