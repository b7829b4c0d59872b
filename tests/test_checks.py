"""The shared argument checks: one query parser and one head check, one wording wherever the mistake is made."""

import numpy as np
import pytest
import torch

from container_edu import checks
from container_edu.ops import affinity as aff
from container_edu.record.trace import AggregationRecord


@pytest.mark.parametrize("query, expected", [
    (0, (0, 0)), (7, (1, 2)), (19, (3, 4)), ((3, 4), (3, 4)), ([1, 2], (1, 2)),
    (np.int64(7), (1, 2)), (torch.tensor(7), (1, 2)), ((np.int32(2), torch.tensor(1)), (2, 1)),
    (np.array([3, 0]), (3, 0)),
])
def test_a_query_is_a_token_index_or_a_grid_position(query, expected):
    assert checks.grid_query(query, 4, 5) == expected


@pytest.mark.parametrize("query", [2.5, True, (1.0, 2), (1, 2, 3), "3", "34", None, torch.tensor(2.0),
                                   torch.tensor([1.0, 2.0]), (True, 0)])
def test_a_query_that_is_not_made_of_integers_is_refused_in_the_callers_error_class(query):
    class CallersError(Exception):
        pass

    with pytest.raises(CallersError, match=r"token index or a \(y, x\) pair of integers"):
        checks.grid_query(query, 4, 5, error=CallersError)


@pytest.mark.parametrize("query, message", [
    (20, r"query token 20 is outside the 4 x 5 token grid of blocks2.0: a token index runs from 0 to 19"),
    (-1, r"query token -1 is outside the 4 x 5 token grid of blocks2.0"),
    ((4, 0), r"query \(4, 0\) is outside the 4 x 5 token grid of blocks2.0: y runs from 0 to 3 and x from 0 to 4"),
    ((0, -1), r"query \(0, -1\) is outside"),
])
def test_a_query_off_the_grid_says_what_would_be_on_it(query, message):
    with pytest.raises(ValueError, match=message):
        checks.grid_query(query, 4, 5, where="blocks2.0")


def message_of(call) -> str:
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)


def test_every_reader_of_a_query_says_the_same_mistake_the_same_way():
    grid = (4, 5)
    record = AggregationRecord(name="", kind="conv", grid=grid, num_heads=2, v=torch.zeros(1, 20, 2),
                               aggregated=torch.zeros(1, 20, 2), alpha=0.0, beta=1.0,
                               conv_weight=torch.zeros(2, 1, 3, 3))
    for query in (20, (4, 0), 2.5):
        expected = message_of(lambda: checks.grid_query(query, *grid))
        assert message_of(lambda: aff.depthwise_conv_row(record.conv_weight, *grid, query)) == expected
        assert message_of(lambda: record.static_row(query)) == expected


@pytest.mark.parametrize("head", [-1, 2, 1.0, True, "0", None])
def test_a_head_outside_the_block_names_the_ones_it_has(head):
    with pytest.raises(ValueError, match=r"block blocks2.0 has 2 head\(s\): head must be an integer from 0 to 1"):
        checks.head_index(head, 2, where="blocks2.0")


def test_a_head_may_be_any_integer_type():
    assert checks.head_index(np.int64(1), 2) == 1 and checks.head_index(torch.tensor(0), 2) == 0
