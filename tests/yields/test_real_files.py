"""Truth test on every shared STDF file: yield and bin counts from silicio (``parts`` +
``yield_by`` / ``bin_counts``) against the file's PRR records read by another reader
(stdf-convert, pystdf where stdf-convert fails) and counted here in plain Python; and the
tester's bin summaries (HBR / SBR) reconciled independently, every disagreement listed.

Run with ``-s`` to see the reconciliation findings; they are also written, per file, to
``reconciliation.json`` / ``reconciliation.md`` under the test's tmp directory.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from silicio.stdf import read
from silicio.stdf.parts import parts
from silicio.yields import bin_counts, reconcile_bins, yield_by

PART_FAILED, NO_VERDICT = 0x08, 0x10  # PRR PART_FLG bits 3 and 4 (STDF V4)
MISSING_COORD, MISSING_SOFT_BIN, ALL_HEADS = -32768, 65535, 255
_FIELDS = {
    "PRR": ("HEAD_NUM", "SITE_NUM", "PART_FLG", "HARD_BIN", "SOFT_BIN", "X_COORD", "Y_COORD", "PART_ID"),
    "WIR": ("HEAD_NUM",),
    "WRR": ("HEAD_NUM",),
    "HBR": ("HEAD_NUM", "SITE_NUM", "HBIN_NUM", "HBIN_CNT"),
    "SBR": ("HEAD_NUM", "SITE_NUM", "SBIN_NUM", "SBIN_CNT"),
}


def _records_stdf_convert(path: Path) -> list[tuple[str, dict]]:
    import stdf_convert

    tables = stdf_convert.tables(str(path))
    records = []
    for kind, fields in _FIELDS.items():
        if kind in tables:
            table = tables[kind]
            for row in table.select(["sequence_number", *fields]).to_pylist():
                records.append((row.pop("sequence_number"), kind, row))
    return [(kind, row) for _, kind, row in sorted(records, key=lambda r: r[0])]


def _records_pystdf(path: Path) -> list[tuple[str, dict]]:
    from pystdf.IO import Parser

    records = []

    class Sink:
        def after_send(self, source, data):
            rec_type, values = data
            kind = type(rec_type).__name__.upper()
            if kind in _FIELDS:
                row = dict(zip(rec_type.fieldNames, values, strict=False))
                records.append((kind, {f: row.get(f) for f in _FIELDS[kind]}))

    opener = {".gz": "gzip", ".bz2": "bz2"}.get(path.suffix)
    with __import__(opener).open(path, "rb") if opener else open(path, "rb") as f:
        parser = Parser(inp=f)
        parser.addSink(Sink())
        parser.parse()
    return records


def raw_records(path: Path) -> tuple[str, list[tuple[str, dict]]]:
    """(reader used, [(record type, fields)] in file order) of the records the truth needs."""
    try:
        return "stdf-convert", _records_stdf_convert(path)
    except Exception:  # any failure of the peer reader: fall back to the other peer
        return "pystdf", _records_pystdf(path)


def _flag(value) -> int:
    if isinstance(value, bytes | bytearray):
        return value[0] if value else 0
    if isinstance(value, list):
        return int(value[0]) if value else 0
    return int(value or 0)


def truth_parts(records: list[tuple[str, dict]]) -> list[dict]:
    """One dict per PRR: head, site, verdict, bins and the die it is, by the rule the industry
    uses and silicio documents: (wafer, X, Y) inside a wafer (a WIR / WRR bracket on the part's
    head) or when the parts outside wafers have two or more distinct (X, Y); else PART_ID; else
    the part is its own die."""
    open_wafer: dict[int, int | None] = {}
    wafers_seen = 0
    found = []
    for kind, row in records:
        head = row["HEAD_NUM"]
        if kind == "WIR":
            wafers_seen += 1
            open_wafer[head] = wafers_seen
        elif kind == "WRR":
            open_wafer.pop(head, None)
        elif kind == "PRR":
            flag = _flag(row["PART_FLG"])
            x, y = row["X_COORD"], row["Y_COORD"]
            found.append({
                "head": head, "site": row["SITE_NUM"],
                "passed": None if flag & NO_VERDICT else not flag & PART_FAILED,
                "hard_bin": row["HARD_BIN"],
                "soft_bin": None if row["SOFT_BIN"] == MISSING_SOFT_BIN else row["SOFT_BIN"],
                "xy": None if MISSING_COORD in (x, y) else (x, y),
                "wafer": open_wafer.get(head, open_wafer.get(ALL_HEADS)),
                "part_id": row["PART_ID"] or None,
            })  # fmt: skip
    outside = {p["xy"] for p in found if p["wafer"] is None and p["xy"] is not None}
    for number, p in enumerate(found):
        if p["xy"] is not None and (p["wafer"] is not None or len(outside) >= 2):
            p["die"] = ("xy", p["wafer"], *p["xy"])
        elif p["part_id"] is not None:
            p["die"] = ("id", p["part_id"])
        else:
            p["die"] = ("own", number)
    return found


def truth_yield(found: list[dict]) -> dict:
    judged = [p for p in found if p["passed"] is not None]
    first, last = {}, {}
    for p in judged:
        first.setdefault(p["die"], p)
        last[p["die"]] = p
    return {
        "tested": len(judged),
        "retests": len(judged) - len(first),
        "first_pass_dies": len(first),
        "first_pass_good": sum(p["passed"] for p in first.values()),
        "final_dies": len(last),
        "final_good": sum(p["passed"] for p in last.values()),
        "no_verdict": len(found) - len(judged),
    }


def truth_reconciliation(found: list[dict], records, kind: str) -> dict[tuple, tuple]:
    """(scope, head, site, bin) -> (tester count or None, parts count) for every key on either side,
    comparing only the scopes the summary has."""
    summary = "HBR" if kind == "hard" else "SBR"
    number, count = ("HBIN_NUM", "HBIN_CNT") if kind == "hard" else ("SBIN_NUM", "SBIN_CNT")
    tester: Counter = Counter()
    for k, row in records:
        if k == summary:
            scope = (
                ("all", None, None)
                if row["HEAD_NUM"] == ALL_HEADS
                else ("site", row["HEAD_NUM"], row["SITE_NUM"])
            )
            tester[(*scope, row[number])] += row[count]
    scopes = {key[0] for key in tester}
    counted: Counter = Counter()
    for p in found:
        bin_ = p[f"{kind}_bin"]
        if "all" in scopes:
            counted[("all", None, None, bin_)] += 1
        if "site" in scopes:
            counted[("site", p["head"], p["site"], bin_)] += 1
    return {key: (tester.get(key), counted.get(key, 0)) for key in set(tester) | set(counted)}


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    """Reconciliation findings of every file, written out and printed when the module ends."""
    collected: dict[str, dict] = {}
    yield collected
    out = tmp_path_factory.mktemp("reconciliation")
    (out / "reconciliation.json").write_text(json.dumps(collected, indent=1, default=str))
    lines = ["| file | reader | kind | scope | head | site | bin | tester | parts | final | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, entry in sorted(collected.items()):
        if not entry["differences"]:
            lines.append(
                f"| {name} | {entry['reader']} | all bins match ({entry['summaries']}) | | | | | | | | |"
            )
        for d in entry["differences"]:
            lines.append(f"| {name} | {entry['reader']} | {d['kind']} | {d['scope']} | {d['head']} | {d['site']} | "
                         f"{d['bin']} | {d['tester_count']} | {d['part_count']} | {d['final_count']} | {d['status']} |")  # fmt: skip
    (out / "reconciliation.md").write_text("\n".join(lines) + "\n")
    print(f"\nHBR / SBR reconciliation ({out / 'reconciliation.md'}):\n" + "\n".join(lines))


def test_yield_and_bins_equal_the_raw_prr_records(shared_stdf_file, findings):
    reader, records = raw_records(shared_stdf_file)
    found = truth_parts(records)
    tables = read(shared_stdf_file, strict=False)
    part_rows = parts(tables)
    assert part_rows.num_rows == len(found)

    expected = truth_yield(found)
    overall = yield_by(part_rows, by=()).to_pylist()
    if found:
        assert {k: overall[0][k] for k in expected} == expected
    else:  # no PRR at all: the overall row says nothing was tested
        assert overall == [{"tested": 0, "retests": 0, "first_pass_dies": 0, "first_pass_good": 0,
                            "first_pass_yield": None, "final_dies": 0, "final_good": 0, "final_yield": None,
                            "no_verdict": 0}]  # fmt: skip

    for kind in ("hard", "soft"):
        every = Counter(p[f"{kind}_bin"] for p in found)
        assert {r["bin"]: r["count"] for r in bin_counts(part_rows, kind, tests="all").to_pylist()} == every
        last = {p["die"]: p for p in found}
        final = Counter(p[f"{kind}_bin"] for p in last.values())
        assert {r["bin"]: r["count"] for r in bin_counts(part_rows, kind, tests="final").to_pylist()} == final

    differences, summaries = [], []
    for kind, summary in (("hard", "HBR"), ("soft", "SBR")):
        if summary not in tables or tables[summary].num_rows == 0:
            continue
        summaries.append(summary)
        rows = reconcile_bins(part_rows, tables[summary], kind).to_pylist()
        truth = truth_reconciliation(found, records, kind)
        # Every key on either side is a row: nothing hidden, and the counts agree.
        assert {
            (r["scope"], r["head"], r["site"], r["bin"]): (r["tester_count"], r["part_count"]) for r in rows
        } == truth
        for r in rows:
            tester, counted = truth[(r["scope"], r["head"], r["site"], r["bin"])]
            assert (r["status"] == "match") == (tester == counted), r
            if r["status"] != "match":
                differences.append({"kind": kind, **{k: r[k] for k in ("scope", "head", "site", "bin", "tester_count",
                                    "part_count", "final_count", "status")}})  # fmt: skip
    findings[shared_stdf_file.name] = {"reader": reader, "summaries": "/".join(summaries) or "no HBR/SBR",
                                       "differences": differences}  # fmt: skip
