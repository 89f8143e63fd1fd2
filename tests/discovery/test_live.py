"""Live discovery's pure halves: the bounded sample the hot path feeds, and the fold of its
requests into templates (scaled when sampled, renamed when a word turns out to vary)."""

from __future__ import annotations

import random
import uuid

from strangler.discovery import OTHER, CatchAllSample, LiveTemplates, regroup


def test_the_sample_keeps_at_most_its_cap_and_counts_the_rest() -> None:
    sample = CatchAllSample(cap=100)
    for i in range(1_000):
        sample.add("GET", f"/orders/{i}")
    assert len(sample.requests) == 100
    requests, dropped = sample.take()
    assert (len(requests), dropped) == (100, 900)
    assert (sample.requests, sample.dropped) == ([], 0)  # starts afresh


def test_counts_are_per_method_and_template_and_never_a_raw_path() -> None:
    live = LiveTemplates()
    ids = [str(uuid.uuid4()) for _ in range(5)]
    requests = [("GET", f"/orders/{n}?expand=items") for n in range(30)]
    requests += [("get", f"/invoices/{u}") for u in ids]
    requests += [("POST", "/orders")] * 4
    fold = live.fold(requests)
    assert fold.counts == {
        ("GET", "/orders/{order_id}"): 30,
        ("GET", "/invoices/{invoice_id}"): 5,
        ("POST", "/orders"): 4,
    }
    assert not any(u in str(fold) for u in ids)


def test_sampled_out_requests_are_spread_so_the_shares_stay_right() -> None:
    requests = [("GET", f"/orders/{n}") for n in range(75)]
    requests += [("GET", f"/users/{n}") for n in range(25)]
    fold = LiveTemplates().fold(requests, dropped=901)
    assert fold.counts == {("GET", "/orders/{order_id}"): 751, ("GET", "/users/{user_id}"): 250}
    assert sum(fold.counts.values()) == 1_001


def test_a_word_that_turns_out_to_vary_is_renamed_to_its_template() -> None:
    live = LiveTemplates()
    first = live.fold([("GET", "/orgs/acme/donations/1"), ("GET", "/orgs/hope/donations/2")])
    assert ("GET", "/orgs/acme/donations/{donation_id}") in first.counts  # few values: a word
    orgs = ["acme", "hope", "relief", "shelter", "harbour", "meadow"]
    later = live.fold([("GET", f"/orgs/{org}/donations/{n}") for n, org in enumerate(orgs)])
    assert later.counts == {("GET", "/orgs/{org}/donations/{donation_id}"): 6}
    assert later.renames == {
        ("GET", "/orgs/acme/donations/{donation_id}"): "/orgs/{org}/donations/{donation_id}",
        ("GET", "/orgs/hope/donations/{donation_id}"): "/orgs/{org}/donations/{donation_id}",
    }
    assert live.fold([("GET", "/orgs/acme/donations/9")]).renames == {}  # said once


def test_a_flood_of_random_paths_keeps_the_tree_within_its_bound() -> None:
    live = LiveTemplates(max_nodes=500)
    rng = random.Random(7)
    for _ in range(20):
        batch = [("GET", f"/orders/{rng.randrange(10**6)}") for _ in range(50)]
        batch += [
            ("GET", "/" + "/".join(f"w{rng.randrange(10**9):x}q" for _ in range(3)))
            for _ in range(500)
        ]
        fold = live.fold(batch)
        assert live.tree.nodes <= 500
    assert fold.counts[("GET", "/orders/{order_id}")] == 50  # the real endpoint stays
    assert fold.counts.get(("GET", OTHER), 0) > 0  # the rest: counted, not named
    assert sum(fold.counts.values()) == 550


def test_the_templates_of_several_workers_are_inferred_together() -> None:
    """One worker saw 60 article slugs (too few to tell them from fixed words), the other
    more: read together they are one endpoint; a heavy hitter stays a word; templates that
    were right already stay as they are."""
    slugs = [f"{a}-{b}-news" for a in "abcdefghij" for b in "klmnopqrst"]
    stored = {("GET", f"/articles/{slug}"): 1 for slug in slugs[:60]}
    stored |= {
        ("GET", "/articles/{article}"): 80,
        ("GET", "/articles/export"): 50,
        ("GET", "/orders/{order_id}"): 300,
        ("POST", "/orders"): 40,
    }
    merged = regroup(stored)
    assert merged[("GET", f"/articles/{slugs[0]}")] == "/articles/{article}"
    assert {merged[key] for key in stored} == {
        "/articles/{article}",
        "/articles/export",
        "/orders/{order_id}",
        "/orders",
    }


def test_two_workers_that_each_kept_their_slugs_as_words_make_one_parameter() -> None:
    slugs = [f"{a}-{b}-news" for a in "abcdefghij" for b in "klmnopqrst"]
    first = {("GET", f"/articles/{slug}"): 2 for slug in slugs[:55]}
    second = {("GET", f"/articles/{slug}"): 2 for slug in slugs[45:]}
    assert set(regroup(first | second).values()) == {"/articles/{article}"}
