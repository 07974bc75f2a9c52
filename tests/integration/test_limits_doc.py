"""Every limit in core/config/limits.h has exactly one line in docs/LIMITS.md, and no stale ones."""
import os
import re

ROOT = os.environ.get("POSTERN_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def _limits_h():
    with open(os.path.join(ROOT, "core/config/limits.h")) as f:
        return set(re.findall(r"^#define\s+(LIMIT_[A-Z0-9_]+)\s", f.read(), re.M))


def _doc_rows():
    with open(os.path.join(ROOT, "docs/LIMITS.md")) as f:
        return re.findall(r"^\|\s*(LIMIT_[A-Z0-9_]+)\s*\|", f.read(), re.M)


def test_every_limit_documented_once():
    rows = _doc_rows()
    assert len(rows) == len(set(rows)), "duplicate rows in docs/LIMITS.md"
    missing = _limits_h() - set(rows)
    assert not missing, f"limits without a line in docs/LIMITS.md: {sorted(missing)}"


def test_no_stale_rows():
    stale = set(_doc_rows()) - _limits_h()
    assert not stale, f"docs/LIMITS.md names limits that no longer exist: {sorted(stale)}"
