"""The Slack sender: a digest's chart goes up with files_upload_v2 (its three steps on the fake
Slack API), DMs resolve to their channel, and a long digest keeps 50 blocks and 1 post/s."""

from __future__ import annotations

import itertools
from typing import Any

from bot.slack.render import MAX_BLOCKS
from bot.slack.sender import ChannelPacer, SlackSender, sender_client
from handlers.charts import trend_png
from handlers.messages import ListItem, Reply
from tests.bot.slack.conftest import TOKEN
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi

PNG = trend_png([], [], [], [], title="t")


async def test_a_chart_is_uploaded_with_files_upload_v2_into_the_dm(fake_slack: FakeSlackApi) -> None:
    sender = SlackSender(sender_client(token=TOKEN, api_url=fake_slack.url))
    reply = Reply(
        title="Daily digest", text="numbers", image=PNG, image_name="digest-trend.png", ephemeral=False
    )
    ts = await sender.send("U0MGR", reply, thread=None)
    assert ts
    posted = fake_slack.of("chat.postMessage")
    assert [c.params["channel"] for c in posted] == ["DU0MGR"]  # the DM opened with conversations.open
    step1 = fake_slack.of("files.getUploadURLExternal")
    assert len(step1) == 1 and step1[0].params["filename"] == "digest-trend.png"
    assert int(step1[0].params["length"]) == len(PNG)
    assert list(fake_slack.uploads.values()) == [PNG]
    complete = fake_slack.of("files.completeUploadExternal")
    assert len(complete) == 1 and complete[0].params["channel_id"] == "DU0MGR"


class RecordingClient:
    """Just enough of AsyncWebClient to time posts on a fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.posts: list[tuple[str, float, int]] = []

    async def chat_postMessage(self, *, channel: str, thread_ts: str | None, **page: Any) -> dict[str, str]:
        self.posts.append((channel, self.clock.now.timestamp(), len(page["blocks"])))
        return {"ts": str(len(self.posts))}

    async def files_upload_v2(self, *, channel: str, **_: Any) -> dict[str, Any]:
        self.posts.append((channel, self.clock.now.timestamp(), 0))
        return {"files": []}


async def test_a_300_row_digest_keeps_50_blocks_a_message_and_one_post_a_second(clock: FakeClock) -> None:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    client = RecordingClient(clock)
    pacer = ChannelPacer(clock=lambda: clock.now.timestamp(), sleep=sleep)
    sender = SlackSender(client, pacer=pacer)  # type: ignore[arg-type]
    rows = tuple(ListItem(f"Customer {n}", f"score {n % 100}") for n in range(300))
    digest = Reply(title="Weekly digest", text="figures", items=rows, image=PNG, ephemeral=False)
    await sender.send("CDIGEST", digest, thread=None)
    await sender.send("CDIGEST", Reply(text="next row, same channel"), thread=None)
    assert len(client.posts) > 8
    assert all(blocks <= MAX_BLOCKS for _, _, blocks in client.posts)
    times = [at for _, at, _ in client.posts]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
