"""The suppression engine on random linked tables (no database): whatever the counts, no withheld number is
determined by the published ones, and every breakdown's withheld remainder describes 0 or at least k people."""

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes.analysis.disclosure import Release
from tests.outcomes.disclosure_support import Observations, solve

K = 10
counts = st.integers(0, 25) | st.integers(0, 3)  # plenty of small and zero cells


def two_way(
    r: Release, name: str, table: list[list[int]], grand: tuple, *, implied_column: bool = False, stated: bool = True
):
    """Groups x statuses with row totals and column totals, both adding up to ``grand``. With ``implied_column``
    the last status is never printed (like those not reaching the MCID). Without ``stated`` the engine is not told
    that the column totals add up to ``grand`` (it follows from the rest; the audit must find it)."""
    rows = len(table)
    cols = len(table[0])
    cell = {
        (g, s): r.cell((name, g, s), table[g][s], published=not (implied_column and s == cols - 1))
        for g in range(rows)
        for s in range(cols)
    }
    row_total = {g: r.cell((name, "row", g), sum(table[g]), size=sum(table[g])) for g in range(rows)}
    col_total = {s: r.cell((name, "col", s), sum(t[s] for t in table), size=10**9) for s in range(cols)}
    for g in range(rows):
        r.relate(row_total[g], [cell[(g, s)] for s in range(cols)])
    for s in range(cols):
        r.relate(col_total[s], [cell[(g, s)] for g in range(rows)])
    r.relate(grand, list(row_total.values()))
    if stated:
        r.relate(grand, list(col_total.values()))
    return cell, row_total, col_total


def attack(r: Release) -> dict[tuple, Fraction]:
    obs = Observations()
    for ident, cell in r.cells.items():
        obs.values[ident] = None if cell.unknown else Fraction(cell.count)
    for total, parts in r.relations:
        obs.equal(total, parts)
    return solve(obs)


def check(r: Release, *, stated: bool = True) -> None:
    """No protected cell is determined; and, in every relation the engine was told of, the withheld parts are
    at least two and together describe 0 or at least K people."""
    solved = attack(r)
    leaked = sorted(str(i) for i in solved if r.protected(i))
    assert not leaked, f"determined: {leaked}"
    for total, parts in r.relations if stated else ():
        if r.cells[total].unknown:
            continue
        hidden = [r.cells[p] for p in parts if r.cells[p].unknown]
        if any(r.protected(c.ident) for c in hidden):
            together = sum(c.count for c in hidden)
            assert len(hidden) >= 2
            assert not 0 < together < K, f"{total}: withheld parts describe {together}"


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def tables(rows: tuple[int, int], columns: int):
    row = st.lists(counts, min_size=columns, max_size=columns)
    return st.integers(*rows).flatmap(lambda n: st.lists(row, min_size=n, max_size=n))


@given(table=tables((2, 5), 3), other=tables((2, 4), 2))
@pytest.mark.parametrize("stated", [True, False])
def test_linked_tables_never_give_a_withheld_number_away(stated, table, other):
    r = Release(K)
    total = sum(map(sum, table))
    grand = r.cell(("all",), total, size=10**12)
    two_way(r, "statuses", table, grand, stated=stated)
    r.protect()
    r.freeze()
    # A second breakdown of the same whole, protected after the first is frozen (as a "compare by" is). Its
    # counts are scaled to the same total, the remainder in one implied cell.
    scaled = [[min(c, total) for c in row] for row in other]
    rest = total - sum(map(sum, scaled))
    if rest < 0:
        return
    scaled.append([rest, 0])
    two_way(r, "groups", scaled, grand, implied_column=True, stated=stated)
    r.protect()
    if not stated:  # the reader knows the sum anyway
        for name in ("statuses", "groups"):
            r.relate(grand, [i for i in r.cells if i[0][:2] == (name, "col")])
    check(r, stated=stated)


def test_a_single_small_group_takes_the_next_smallest_with_it():
    r = Release(K)
    parts = {name: r.cell(("plans", name), n, size=n) for name, n in (("a", 40), ("b", 12), ("c", 3), ("d", 25))}
    total = r.cell(("plans", "all"), 80)
    r.relate(total, parts.values())
    r.protect()
    hidden = {key[1] for (key, _), cell in r.cells.items() if cell.hidden}
    assert hidden == {"c", "b"}  # 3 + 12: the remainder a reader computes describes 15 people
    check(r)


def test_two_small_groups_together_still_small_take_a_third():
    r = Release(K)
    parts = {name: r.cell(("plans", name), n, size=n) for name, n in (("a", 40), ("b", 12), ("c", 3), ("d", 4))}
    total = r.cell(("plans", "all"), 59)
    r.relate(total, parts.values())
    r.protect()
    assert {key[1] for (key, _), cell in r.cells.items() if cell.hidden} == {"b", "c", "d"}
    check(r)


def test_a_cell_determined_only_through_a_chain_of_tables_is_caught_by_the_audit():
    """A 2x2 table where the rules alone would leave a bridge: the audit withholds more."""
    r = Release(K)
    grand = r.cell(("all",), 64, size=10**12)
    two_way(r, "t", [[3, 20, 0], [15, 11, 15]], grand)
    r.protect()
    check(r)


@pytest.mark.parametrize("k", [10, 15])
def test_zeros_are_shown_and_small_counts_withheld(k):
    r = Release(k)
    zero, small, big = (r.cell(("x", i), n) for i, n in enumerate((0, k - 1, k)))
    assert [r.cells[c].hidden for c in (zero, small, big)] == [False, True, False]


def test_where_no_complement_is_left_the_stage_withholds_everything_and_stops(caplog):
    r = Release(K)
    total, kept = r.cell(("all",), 40), r.cell(("big",), 35)
    r.freeze()
    small, other = r.cell(("small",), 5), r.cell(("other",), 30)
    r.relate(total, [kept, small])  # the frozen cells alone give the small one away: nothing here can help
    r.relate(r.cell(("elsewhere",), 60), [other, r.cell(("more",), 30)])
    r.protect()
    assert r.cells[other].hidden
    assert "no complement" in caplog.text
