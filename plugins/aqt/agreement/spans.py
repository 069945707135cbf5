"""Agreement on labelled character spans (``spans`` kind): pairwise span F1 and token-level alpha.

A ``spans`` judgement is a sorted tuple of :class:`aqt.records.Span` ``(start, end, label)`` with
character offsets, ``end`` exclusive. An annotator's later record on an item replaces the earlier
one (as ``AgreementState.add`` does); an item with at least two annotators is *shared*.

Span F1
    For annotators ``a`` and ``b`` on their shared items, a span of ``a`` *matches* one of ``b``
    exactly when start, end and label are equal, and by *overlap* when the labels are equal and
    the ranges share a character (``max(start) < min(end)``, or identical ranges, so that
    zero-length spans can match). Matching is one-to-one: the overlap count is a maximum bipartite
    matching per item and label, so one long span never matches two short ones. With ``M``
    matches, ``F1 = 2 M / (|A| + |B|)``, which is symmetric in ``a`` and ``b`` and equals the F1
    of either annotator scored against the other. Counts are summed over the shared items before
    dividing (micro average). ``f1_exact <= f1_overlap`` always. The overall ``f1_exact`` and
    ``f1_overlap`` are the unweighted means over annotator pairs; ``per_label`` sums the counts of
    one label over all pairs and shared items, and ``support`` counts that label's spans over all
    annotators on shared items. F1 is ``None`` (undefined) when no span enters it.

Token alpha
    Krippendorff's alpha, nominal, over units ``(item, token)`` of the shared items. A token gets,
    per annotator, the label of the span that overlaps it most (ties: earliest start, then earliest
    end, then label order) or *outside* when no span touches it; *outside* is its own category
    (shown as ``"O"``, distinct even from a user label called ``"O"``). Tokens come from, in order:
    ``tokens[item]`` when given; the whitespace tokens of the item's ``text`` (``\\S+``); else, when
    the records carry no text, the character positions covered by any annotator's span on the
    item (positions nobody marked are left out, since the text length is unknown; this makes the
    character variant stricter than the token one, which counts outside-outside agreement).

References
----------
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. UPenn ASC papers 43.
Hripcsak, G. & Rothschild, A. S. (2005). Agreement, the F-measure, and reliability in information
retrieval. *JAMIA* 12(3):296-298 (pairwise F1 as agreement when chance is ill-defined).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from aqt.agreement.sets import _alpha_from_coincidences, _coincidences, _last_values, _one_control
from aqt.errors import InputError, truncate
from aqt.records import Span, natural_key

__all__ = ["span_agreement", "span_f1_counts", "token_labels"]

_TOKEN_RE = re.compile(r"\S+")
TokenSource = Mapping[str, Sequence[Any]] | Callable[[str], Iterable[Any]] | None


def _as_spans(value: Any) -> tuple[Span, ...]:
    if type(value) is tuple and all(type(s) is Span for s in value):  # aqt.records' form
        for s in value:
            if s.start < 0 or s.end < s.start:
                raise ValueError(f"span {tuple(s)!r} has end < start or a negative start")
        return value if list(value) == sorted(value) else tuple(sorted(value))
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"expected a sequence of spans, got {truncate([value], 1)}")
    spans = []
    for s in value:
        if isinstance(s, Mapping):
            s = Span(int(s["start"]), int(s["end"]), str(s["label"]))
        else:
            start, end, label = s
            s = Span(int(start), int(end), str(label))
        if s.start < 0 or s.end < s.start:
            raise ValueError(f"span {tuple(s)!r} has end < start or a negative start")
        spans.append(s)
    return tuple(sorted(spans))


def _max_matching(left: Sequence[Span], right: Sequence[Span]) -> int:
    """Size of a maximum one-to-one matching of overlapping spans (Kuhn's augmenting paths).

    Two spans overlap when they share a character or have identical ranges (zero-length spans).
    """
    ranges = [(r.start, r.end) for r in right]
    adj = [
        [j for j, (rs, re_) in enumerate(ranges) if max(s, rs) < min(e, re_) or (s, e) == (rs, re_)]
        for s, e, _label in left
    ]
    match_right = [-1] * len(right)
    size = 0
    for root in range(len(left)):
        # iterative DFS for an augmenting path from `root`
        parent: dict[int, tuple[int, int]] = {}  # right j -> (left i that reached it, prev right)
        seen: set[int] = set()
        stack = [(root, -1)]
        found = -1
        while stack and found < 0:
            i, via = stack.pop()
            for j in adj[i]:
                if j in seen:
                    continue
                seen.add(j)
                parent[j] = (i, via)
                if match_right[j] < 0:
                    found = j
                    break
                stack.append((match_right[j], j))
        if found < 0:
            continue
        j = found
        while j >= 0:
            i, via = parent[j]
            match_right[j] = i
            j = via
        size += 1
    return size


def span_f1_counts(a: Sequence[Span], b: Sequence[Span]) -> dict[str, tuple[int, int, int, int]]:
    """Per label: ``(exact matches, overlap matches, |a|, |b|)`` for two annotations of one item.

    >>> a = [Span(0, 5, "PER"), Span(10, 15, "LOC")]
    >>> b = [Span(0, 5, "PER"), Span(11, 15, "LOC")]
    >>> span_f1_counts(a, b)
    {'LOC': (0, 1, 1, 1), 'PER': (1, 1, 1, 1)}
    """
    by_label: dict[str, tuple[list[Span], list[Span]]] = {}
    for side, spans in enumerate((a, b)):
        for s in spans:
            by_label.setdefault(s.label, ([], []))[side].append(s)
    out = {}
    for label in sorted(by_label, key=natural_key):
        la, lb = (sorted(x) for x in by_label[label])
        if la == lb:  # identical annotations: every span matches both ways
            out[label] = (len(la), len(la), len(la), len(lb))
            continue
        set_a, set_b = set(la), set(lb)
        if len(set_a) == len(la) and len(set_b) == len(lb):
            exact = len(set_a & set_b)
        else:  # repeated spans: a multiset intersection
            exact = sum((Counter(la) & Counter(lb)).values())
        out[label] = (exact, _max_matching(la, lb), len(la), len(lb))
    return out


def _token_ranges(
    item: str, text: str | None, spans: Iterable[Sequence[Span]], tokens: TokenSource
):
    """``(T, 2)`` array of token ``[start, end)`` ranges for an item (see the module docstring)."""
    ranges: Iterable[Any] | None = None
    if isinstance(tokens, Mapping) and item in tokens:
        ranges = tokens[item]
    elif callable(tokens) and text is not None:
        ranges = tokens(text)
    elif text is not None:
        ranges = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    if ranges is None:
        covered = sorted({p for ss in spans for s in ss for p in range(s.start, s.end)})
        return np.array([(p, p + 1) for p in covered], dtype=np.int64).reshape(-1, 2)
    pairs = []
    for t in ranges:
        if isinstance(t, Mapping):
            pairs.append((int(t["start"]), int(t["end"])))
        else:
            pairs.append((int(t[0]), int(t[1])))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def token_labels(spans: Sequence[Span], ranges: np.ndarray) -> list[str | None]:
    """The label of the span overlapping each token most, or ``None`` (outside) for each range.

    Ties go to the earliest span in sorted order (start, end, label).

    >>> token_labels([Span(0, 3, "X")], np.array([[0, 1], [2, 3], [4, 5]]))
    ['X', 'X', None]
    """
    if len(ranges) == 0:
        return []
    if not spans:
        return [None] * len(ranges)
    ordered = sorted(spans)
    s = np.array([(x.start, x.end) for x in ordered], dtype=np.int64)
    ov = np.minimum(ranges[:, 1:2], s[None, :, 1]) - np.maximum(ranges[:, 0:1], s[None, :, 0])
    best = ov.argmax(axis=1)  # first maximum = earliest span in sorted order
    hit = ov[np.arange(len(ranges)), best] > 0
    return [ordered[k].label if h else None for k, h in zip(best.tolist(), hit.tolist())]


def _item_texts(records: Sequence[Any]) -> dict[str, str]:
    texts: dict[str, str] = {}
    conflicts: list[str] = []
    for r in records:
        if r.text is None:
            continue
        item = str(r.item)
        if item in texts and texts[item] != r.text and item not in conflicts:
            conflicts.append(item)
        texts.setdefault(item, r.text)
    if conflicts:
        raise InputError(
            f"Records of the same item carry different text, so span offsets disagree: items "
            f"{truncate(conflicts)}.",
            fix="Give every record of an item the same text (re-export the tasks once).",
        )
    return texts


def _token_alpha(shared, texts, tokens: TokenSource) -> float | None:
    units: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    index: dict[str | None, int] = {None: 0}
    offset = 0
    for item, by_annotator in shared:
        ranges = _token_ranges(item, texts.get(item), by_annotator.values(), tokens)
        if len(ranges) == 0:
            continue
        for spans in by_annotator.values():
            labs = token_labels(spans, ranges)
            codes.append(np.array([index.setdefault(x, len(index)) for x in labs], np.int64))
            units.append(np.arange(offset, offset + len(ranges), dtype=np.int64))
        offset += len(ranges)
    if not units:
        return None
    v = len(index)
    o = _coincidences(np.concatenate(units), np.concatenate(codes), v)
    return _alpha_from_coincidences(o, 1.0 - np.eye(v))


def _f1(matches: int, total: int) -> float | None:
    return 2.0 * matches / total if total > 0 else None


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(sum(kept) / len(kept)) if kept else None


def span_agreement(table: Any, *, tokens: TokenSource = None) -> dict[str, Any]:
    """Pairwise span F1 (exact and overlap), per label, and token-level alpha for one control.

    Parameters
    ----------
    table : AnnotationTable
        ``spans`` records of one control (values are tuples of ``Span``; records may carry the
        item ``text``).
    tokens : mapping or callable, optional
        Token ranges for the token alpha: ``{item: [(start, end), ...]}`` (dicts with ``start``
        and ``end``, as in Prodigy's ``tokens``, work too) or a function ``text -> ranges``.
        Default: whitespace tokens of the text, else the characters covered by any span.

    Returns
    -------
    dict
        ``n_items`` (shared items), ``f1_exact``, ``f1_overlap`` (means over annotator pairs, in
        [0, 1], higher is better), ``token_alpha`` (<= 1), ``pairwise`` (one row per annotator pair
        with shared items, sorted: ``a``, ``b``, ``n_items``, ``f1_exact``, ``f1_overlap``) and
        ``per_label`` (``{label: {"f1_exact", "f1_overlap", "support"}}``, sorted). Undefined
        values are ``None``.

    Examples
    --------
    ``A`` marks PER 0-5 and LOC 10-15, ``B`` PER 0-5, LOC 11-15 and ORG 20-25: one exact match,
    two overlap matches, five spans: ``f1_exact = 2/5``, ``f1_overlap = 4/5``.

    >>> from aqt.records import Annotation, AnnotationTable
    >>> t = AnnotationTable.from_records([
    ...     Annotation("1", "A", (Span(0, 5, "PER"), Span(10, 15, "LOC")), kind="spans"),
    ...     Annotation("1", "B", (Span(0, 5, "PER"), Span(11, 15, "LOC"), Span(20, 25, "ORG")),
    ...                kind="spans")])
    >>> r = span_agreement(t)
    >>> r["f1_exact"], r["f1_overlap"], r["per_label"]["LOC"]
    (0.4, 0.8, {'f1_exact': 0.0, 'f1_overlap': 1.0, 'support': 2})
    """
    records = _one_control(table)
    values = _last_values(records, _as_spans, "span lists")
    texts = _item_texts(records)
    by_item: dict[str, dict[str, tuple[Span, ...]]] = {}
    for (item, annotator), spans in values.items():
        by_item.setdefault(item, {})[annotator] = spans
    shared = [
        (item, dict(sorted(by_annotator.items(), key=lambda kv: natural_key(kv[0]))))
        for item, by_annotator in sorted(by_item.items(), key=lambda kv: natural_key(kv[0]))
        if len(by_annotator) >= 2
    ]

    all_labels = {s.label for spans in values.values() for s in spans}
    label_counts = {lab: [0, 0, 0] for lab in all_labels}  # exact, overlap, spans in pairs
    support: Counter[str] = Counter()
    pair_counts: dict[tuple[str, str], list[int]] = {}  # exact, overlap, total, items
    for _item, by_annotator in shared:
        for spans in by_annotator.values():
            support.update(s.label for s in spans)
        for a, b in combinations(by_annotator, 2):
            row = pair_counts.setdefault((a, b), [0, 0, 0, 0])
            row[3] += 1
            for label, (ex, ov, na, nb) in span_f1_counts(by_annotator[a], by_annotator[b]).items():
                row[0] += ex
                row[1] += ov
                row[2] += na + nb
                counts = label_counts[label]
                counts[0] += ex
                counts[1] += ov
                counts[2] += na + nb

    pairwise = [
        {
            "a": a,
            "b": b,
            "n_items": int(items),
            "f1_exact": _f1(ex, total),
            "f1_overlap": _f1(ov, total),
        }
        for (a, b), (ex, ov, total, items) in sorted(
            pair_counts.items(), key=lambda kv: (natural_key(kv[0][0]), natural_key(kv[0][1]))
        )
    ]
    per_label = {
        label: {
            "f1_exact": _f1(label_counts[label][0], label_counts[label][2]),
            "f1_overlap": _f1(label_counts[label][1], label_counts[label][2]),
            "support": int(support[label]),
        }
        for label in sorted(all_labels, key=natural_key)
    }
    return {
        "n_items": len(shared),
        "f1_exact": _mean(p["f1_exact"] for p in pairwise),
        "f1_overlap": _mean(p["f1_overlap"] for p in pairwise),
        "token_alpha": _token_alpha(shared, texts, tokens),
        "pairwise": pairwise,
        "per_label": per_label,
    }
