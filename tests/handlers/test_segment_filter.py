"""The segment filter's parser: where `segment:` is, quoted names, and the text around it."""

from __future__ import annotations

from handlers.segment_filter import SegmentFilter, parse_segment_filter


def test_the_filter_anywhere_with_the_rest_kept() -> None:
    assert parse_segment_filter("segment:champions") == SegmentFilter("champions", "")
    assert parse_segment_filter("acme Segment:champions corp") == SegmentFilter("champions", "acme corp")
    assert parse_segment_filter('segment:"slipping big" acme') == SegmentFilter("slipping big", "acme")
    assert parse_segment_filter("segment:") == SegmentFilter("", "")


def test_no_filter_is_none() -> None:
    assert parse_segment_filter("acme corp") is None
    assert parse_segment_filter("mysegment:x") is None  # only a word of its own
