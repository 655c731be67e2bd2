"""mqlml.scoring._ahead: work one item ahead in a thread, results and errors in order."""

from __future__ import annotations

import threading

import pytest

from mqlml.scoring._ahead import ahead


def test_results_come_in_order_from_one_worker_thread_at_most_one_item_ahead():
    reads, calls, seen = [], [], []

    def items():
        for i in range(6):
            reads.append(i)
            yield i

    def work(i):
        calls.append((i, threading.current_thread().name))
        return i * i

    for i, result in ahead(items(), work):
        # handing out item i, the work may have started on item i + 1, never beyond
        assert len(reads) <= i + 2 and len(calls) <= i + 2
        seen.append((i, result))
    assert seen == [(i, i * i) for i in range(6)]
    assert [i for i, _ in calls] == list(range(6))
    assert {name for _, name in calls} != {threading.current_thread().name}
    assert all(name.startswith("mqlml-ahead") for _, name in calls)


def test_an_error_in_the_work_on_an_item_comes_before_a_read_error_on_a_later_one():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone while reading item 3")

    def work(i):
        if i == 2:
            raise ValueError("item 2 holds a bad value")
        return i

    got = []
    with pytest.raises(ValueError, match="item 2 holds a bad value"):
        for _, result in ahead(items(), work):
            got.append(result)
    assert got == [1]


def test_a_read_error_comes_after_every_earlier_result():
    def items():
        yield "a"
        yield "b"
        raise OSError("truncated file")

    got = []
    with pytest.raises(OSError, match="truncated file"):
        for _, result in ahead(items(), str.upper):
            got.append(result)
    assert got == ["A", "B"]


def test_stopping_early_reads_no_further_and_leaves_no_thread():
    reads = []

    def items():
        for i in range(100):
            reads.append(i)
            yield i

    before = {t.name for t in threading.enumerate()}
    stream = ahead(items(), lambda i: i)
    assert next(stream) == (0, 0)
    stream.close()
    assert reads == [0, 1]
    assert {t.name for t in threading.enumerate()} - before == set()


def test_two_workers_keep_the_order_and_run_two_items_at_once():
    started, release = [], threading.Event()

    def work(i):
        started.append(i)
        if i < 2:  # the first two wait for each other: both must be under way at once
            if len(started) < 2:
                assert release.wait(5), "the second item never started"
            else:
                release.set()
        return -i

    got = [r for _, r in ahead(range(7), work, workers=2)]
    assert got == [0, -1, -2, -3, -4, -5, -6]
    assert sorted(started) == list(range(7))


def test_with_two_workers_an_error_still_comes_at_its_turn():
    def work(i):
        if i == 3:
            raise ValueError("item 3 is bad")
        return i

    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for _, r in ahead(range(6), work, workers=2):
            got.append(r)
    assert got == [0, 1, 2]
