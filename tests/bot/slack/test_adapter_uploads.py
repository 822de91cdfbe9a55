"""A typed answer that carries a chart (`/crm digest`): its text, then the chart uploaded with
files_upload_v2 where the command was typed, or to the person's DM when the bot may not post
there."""

from __future__ import annotations

import json

from bot.slack.adapter import SlackFrontEnd
from tests.bot.slack.conftest import MANAGER, SlackRequests
from tests.fakes.slack_api import FakeSlackApi

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UPLOAD_STEPS = ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


def _shared_to(fake: FakeSlackApi) -> list[tuple[str, str | None]]:
    """(channel, error) of each files.completeUploadExternal, in order."""
    return [(c.params["channel_id"], c.params.get("error")) for c in fake.of("files.completeUploadExternal")]


async def test_a_typed_digest_uploads_its_chart_where_it_was_typed(
    slack: SlackRequests, fake_slack: FakeSlackApi, frontend: SlackFrontEnd
) -> None:
    response = await slack.command("digest weekly", user=MANAGER)
    assert response.status_code == 200
    await fake_slack.wait_for("files.completeUploadExternal")
    methods = [c.method for c in fake_slack.calls if c.method not in ("auth.test", "users.info")]
    assert methods == ["response_url", *UPLOAD_STEPS]
    answer = fake_slack.of("response_url")[0]
    assert answer.params["blocks"][0]["text"]["text"] == "Weekly digest"
    step1 = fake_slack.of("files.getUploadURLExternal")[0]
    assert step1.params["filename"] == "digest-trend.png"
    (png,) = fake_slack.uploads.values()
    assert png.startswith(PNG_SIGNATURE) and int(step1.params["length"]) == len(png)
    assert _shared_to(fake_slack) == [("C0SALES", None)]  # the channel the command came from
    complete = fake_slack.of("files.completeUploadExternal")[0].params["files"]
    assert [f["title"] for f in (json.loads(complete) if isinstance(complete, str) else complete)] == [
        "Weekly digest"
    ]


async def test_where_the_bot_may_not_post_the_chart_goes_to_the_askers_dm(
    slack: SlackRequests, fake_slack: FakeSlackApi, frontend: SlackFrontEnd
) -> None:
    fake_slack.fail("files.completeUploadExternal", "not_in_channel")
    await slack.command("digest", user=MANAGER)
    await fake_slack.wait_for("files.completeUploadExternal", 2)
    assert _shared_to(fake_slack) == [("C0SALES", "not_in_channel"), (f"D{MANAGER}", None)]
    assert [c.params["users"] for c in fake_slack.of("conversations.open")] == [MANAGER]


async def test_answers_without_a_chart_upload_nothing(
    slack: SlackRequests, fake_slack: FakeSlackApi, frontend: SlackFrontEnd
) -> None:
    await slack.command("report tickets", user=MANAGER)
    await slack.command("digest", user=MANAGER)  # a later answer that does upload...
    await fake_slack.wait_for("files.completeUploadExternal")
    # ...and only its chart went up: one of each upload step.
    assert [c.method for c in fake_slack.calls if c.method in UPLOAD_STEPS] == UPLOAD_STEPS


async def test_an_analysis_report_uploads_its_chart_to_the_askers_dm(
    slack: SlackRequests, fake_slack: FakeSlackApi, frontend: SlackFrontEnd
) -> None:
    await slack.command("report satisfaction", user=MANAGER)
    await fake_slack.wait_for("files.completeUploadExternal")
    assert fake_slack.of("files.getUploadURLExternal")[0].params["filename"] == "satisfaction.png"
    (png,) = fake_slack.uploads.values()
    assert png.startswith(PNG_SIGNATURE)
    # A report answers the asker alone (ephemeral), so its chart goes to their DM, not the channel.
    assert _shared_to(fake_slack) == [(f"D{MANAGER}", None)]
