"""The meter's capacity units follow DynamoDB's documented rules for item sizes and rounding."""

from __future__ import annotations

from bench.units import item_size, read_units, write_units


def test_an_item_is_its_names_and_values() -> None:
    # "pk" (2) + "a#1" (3), "n" (1) + 123 (2 digits of a pair each, plus one: 3), "ok" (2) + true (1)
    assert item_size({"pk": {"S": "a#1"}, "n": {"N": "123"}, "ok": {"BOOL": True}}) == 12
    # a map: 3 bytes, then per element 1 byte, its name and its value
    assert item_size({"m": {"M": {"k": {"S": "vv"}}}}) == 1 + 3 + 1 + 1 + 2


def test_a_write_is_one_unit_per_kilobyte_of_the_larger_image() -> None:
    small, big = {"pk": {"S": "x"}}, {"pk": {"S": "x"}, "doc": {"S": "y" * 1500}}
    assert write_units(None, small) == 1
    assert write_units(big, small) == 2  # charged on the item before, the larger
    assert write_units(small, None) == 1


def test_a_read_is_one_unit_per_four_kilobytes_halved_when_eventually_consistent() -> None:
    assert read_units([100], consistent=True) == 1
    assert read_units([3000, 3000], consistent=True) == 2  # a query sums its items, then rounds
    assert read_units([4097], consistent=False) == 1.0
